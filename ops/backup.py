"""Backups of the whole platform: one consistent set that a restore brings everything back from.

A set is a folder, made 0700 because it holds secrets:

    manifest.json   when, which database, counts, the exchange log's head, the sha256 of every other file
    database.dump   pg_dump of the platform's one database (custom format)
    batches/…       the batch files as stored (content-addressed, encrypted at rest)
    keys/…          the platform's signing keys (receipts verify against them)
    secrets.env     the secrets the data needs: FIELD_ENCRYPTION_KEY (batch files, ID numbers),
                    BLIND_INDEX_KEY (ID number lookups), DJANGO_SECRET_KEY, …

Consistency: pg_dump runs in a snapshot exported from this module's own transaction, and the manifest's
counts are read in that same snapshot. Batch files are copied after the dump: a file is stored before its
batch row commits and never changes afterwards (its name is its content's digest), so every file a batch
row in the dump names is there to copy. The manifest is written last: a set without one is unfinished.

This lives in its own app above the domain apps (ops → exchange → credit → validation) because a backup
spans all of them and the configuration too; the management commands only parse arguments and print.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import connection, transaction
from psycopg import pq
from psycopg.conninfo import make_conninfo

from config import embedded
from credit.models import Objection, Record, Subject
from exchange.exchange_log import ChainCheck, log_head, log_verify
from exchange.models import Batch, Department, ExchangeLogEntry
from filestore.storage import storage, stored_file_put

FORMAT = "credit-platform-backup/1"
MANIFEST = "manifest.json"
DUMP = "database.dump"
SECRETS = "secrets.env"
BATCHES = "batches"
KEYS = "keys"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why, for the operator."""


@dataclass
class RestoreResult:
    manifest: dict
    counts: dict[str, int]
    chain: ChainCheck
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.counts == self.manifest["counts"]


def platform_counts() -> dict[str, int]:
    """What a restore must find again, counted in the current transaction's snapshot."""
    return {
        "departments": Department.objects.count(),
        "batches": Batch.objects.count(),
        "receipts": Batch.objects.exclude(receipt="").count(),
        "subjects": Subject.objects.count(),
        "records": Record.objects.count(),
        "objections": Objection.objects.count(),
        "exchange_log_entries": ExchangeLogEntry.objects.count(),
    }


def backup_create(*, target: Path) -> dict:
    """Write a backup set into `target` (new or empty); returns its manifest."""
    _target_prepare(target)
    files: dict[str, str] = {}
    if connection.in_atomic_block:
        raise RuntimeError("backup_create needs its own transaction for the snapshot the dump runs in")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
        counts = platform_counts()
        head_index, head_hash = log_head()
        referenced = set(Batch.objects.values_list("storage_path", flat=True))
        _pg_run("pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target / DUMP}")
    files[DUMP] = _sha256(target / DUMP)

    copied = _store_copy(target / BATCHES, files=files)
    missing = sorted(path for path in referenced if f"{BATCHES}/{path}" not in copied)
    _tree_copy(Path(settings.PLATFORM_SIGNING_KEY_DIR), target / KEYS, skip=_key_scratch, files=files)
    secrets = _secrets_in_use()
    _private_write(target / SECRETS, "".join(f"{k}={v}\n" for k, v in secrets.items()).encode())
    files[SECRETS] = _sha256(target / SECRETS)

    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": {"name": connection.settings_dict["NAME"], "server_version": server_version},
        "counts": counts,
        "exchange_log_head": {"index": head_index, "hash": head_hash},
        # batch rows whose file was already gone: the set cannot bring them back either
        "missing_batch_files": missing,
        "files": files,
    }
    _private_write(target / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    return manifest


def backup_check(*, source: Path) -> dict:
    """The set's manifest, once every file it lists is there with its hash; else BackupError naming the file."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a backup set (no {MANIFEST}, or the backup did not finish)") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST} is not a {FORMAT} manifest")
    if DUMP not in manifest.get("files", {}):
        raise BackupError(f"{source / MANIFEST} lists no {DUMP}")
    for name, expected in manifest["files"].items():
        path = _inside(source, name)
        if not path.is_file():
            raise BackupError(f"the backup set is damaged: {name} is missing")
        if _sha256(path) != expected:
            raise BackupError(f"the backup set is damaged: {name} does not match its sha256 in the manifest")
    return manifest


def backup_restore(*, source: Path, force: bool = False) -> RestoreResult:
    """Bring the platform back from a set: database, batch files, keys, secrets; then check the log."""
    manifest = backup_check(source=source)
    if not force and _database_has_data():
        raise BackupError(f"the database {connection.settings_dict['NAME']} already holds data; "
                          "restoring would replace it: pass --force to do so")
    connection.close()  # holds no locks, but its session caches (types, prepared statements) would go stale
    _database_restore(source / DUMP)
    connection.close()

    files = manifest["files"]
    for name in files:
        parts = PurePosixPath(name).parts
        if parts[0] == BATCHES:  # into the store in use: the folder, or the bucket (BATCH_STORAGE_URL)
            stored_file_put(PurePosixPath(*parts[1:]).as_posix(), source / name)
        elif parts[0] == KEYS:
            _replace(source / name, Path(settings.PLATFORM_SIGNING_KEY_DIR).joinpath(*parts[1:]), private=True)
    restored = embedded.secrets_read(source / SECRETS) if SECRETS in files else {}
    restored = {k: v for k, v in restored.items() if k not in embedded.CLUSTER_SECRETS}
    embedded.secrets_update(restored)

    result = RestoreResult(manifest=manifest, counts=platform_counts(), chain=log_verify())
    for name, value in restored.items():
        if os.environ.get(name) and os.environ[name] != value:
            result.warnings.append(f"{name} is set in the environment to another value than the backup's: "
                                   f"the restored data needs the backup's (in {source / SECRETS})")
    if manifest["missing_batch_files"]:
        result.warnings.append("the backup was taken without the files of these batches (already gone then): "
                               + ", ".join(manifest["missing_batch_files"]))
    return result


def _target_prepare(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: a backup goes into a new or empty folder")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.chmod(0o700)  # mkdir's mode passes through the umask, and an existing empty folder keeps its own


def _database_has_data() -> bool:
    tables = set(connection.introspection.table_names())
    models = (Department, Batch, ExchangeLogEntry, Subject, Record)
    return any(model._meta.db_table in tables and model.objects.exists() for model in models)


# Partitioned tables (credit_recordversion, credit 0015) go first, with their partitions: pg_restore --clean
# (PostgreSQL 15) drops each partition's primary key on its own, which PostgreSQL refuses (it is the parent's).
_PARTITIONED_DROP = """
DO $$
DECLARE
    partitioned regclass;
BEGIN
    FOR partitioned IN SELECT c.oid FROM pg_class c
                        WHERE c.relkind = 'p' AND c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition
    LOOP
        EXECUTE format('DROP TABLE %s CASCADE', partitioned);
    END LOOP;
END $$
"""


def _database_restore(dump: Path) -> None:
    """The dump over the database in one transaction (a restore that fails leaves the database as it was):
    pg_restore writes the script (--clean: what exists is dropped first), psql runs it after dropping the
    partitioned tables, both in one BEGIN … COMMIT (psql --single-transaction), streamed, never held whole."""
    restore = subprocess.Popen([str(embedded.pg_bindir() / "pg_restore"), "--clean", "--if-exists", "--file=-",
                                str(dump)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _pg_run("psql", "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                "-c", _PARTITIONED_DROP, "-f", "-", stdin=restore.stdout)
    finally:
        restore.stdout.close()
        written = restore.wait()
    if written != 0:
        raise BackupError(f"pg_restore failed: {restore.stderr.read().decode(errors='replace').strip() or written}")


def _pg_command(program: str, *arguments: str) -> tuple[list[str], dict[str, str]]:
    """A PostgreSQL client program's command line against the configured database, and its environment: the
    machine's binaries (as the embedded cluster finds them), Django's connection parameters, the password in
    PGPASSWORD (not on the command line, where any local user could read it)."""
    keywords = {d.keyword.decode() for d in pq.Conninfo.get_defaults()}
    params = {k: v for k, v in connection.get_connection_params().items()
              if k in keywords and k != "client_encoding" and v not in (None, "")}
    env = dict(os.environ)
    if password := params.pop("password", None):
        env["PGPASSWORD"] = str(password)
    return [str(embedded.pg_bindir() / program), f"--dbname={make_conninfo(**params)}", *arguments], env


def _pg_run(program: str, *arguments: str, stdin=None) -> None:
    """Run a PostgreSQL client program against the configured database (_pg_command)."""
    command, env = _pg_command(program, *arguments)
    result = subprocess.run(command, env=env, stdin=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{program} failed: {result.stderr.strip() or result.returncode}")


def _batch_scratch(relative: PurePosixPath) -> bool:
    return relative.parts[0] == "tmp"  # uploads in progress: no batch row names them


def _key_scratch(relative: PurePosixPath) -> bool:
    return relative.name == ".lock" or relative.suffix == ".tmp"


def _store_copy(into: Path, *, files: dict[str, str]) -> set[str]:
    """Copy every file of the batch store (BATCH_STORAGE_DIR or the bucket), as stored, into `into`, recording
    each one's name in the set and its sha256."""
    store, copied = storage(), set()
    for relative in store.names():
        if _batch_scratch(PurePosixPath(relative)):
            continue
        destination = into / relative
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with store.open(relative) as stored, open(destination, "wb") as copy:
            shutil.copyfileobj(stored, copy, 1024 * 1024)
        name = f"{into.name}/{relative}"
        files[name] = _sha256(destination)
        copied.add(name)
    return copied


def _tree_copy(root: Path, into: Path, *, skip, files: dict[str, str]) -> set[str]:
    """Copy every file under `root` into `into`, recording each one's name in the set and its sha256."""
    copied = set()
    if not root.is_dir():
        return copied
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if not path.is_file() or skip(relative):
            continue
        destination = into / relative
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(path, destination)
        name = f"{into.name}/{relative}"
        files[name] = _sha256(destination)
        copied.add(name)
    return copied


def _secrets_in_use() -> dict[str, str]:
    """var/secrets.env with the values this process really uses (the environment may override the file),
    without the cluster's own passwords."""
    values = embedded.secrets_read()
    values.update(DJANGO_SECRET_KEY=settings.SECRET_KEY, FIELD_ENCRYPTION_KEY=settings.FIELD_ENCRYPTION_KEY,
                  BLIND_INDEX_KEY=settings.BLIND_INDEX_KEY)
    return {k: v for k, v in values.items() if k not in embedded.CLUSTER_SECRETS}


def _private_write(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def _replace(source: Path, destination: Path, *, private: bool = False) -> None:
    """Put a file in place in one rename, so that a reader sees the old file or the new one."""
    destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    partial = destination.with_name(f".{destination.name}.restoring")
    shutil.copyfile(source, partial)
    if private:
        partial.chmod(0o600)
    os.replace(partial, destination)


def _inside(root: Path, name: str) -> Path:
    """A manifest's file name as a path in the set; a name that would lead outside it is damage."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"the backup set is damaged: the manifest names a file outside it ({name})")
    return root.joinpath(*relative.parts)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
