"""The embedded services for a checkout: a project-local PostgreSQL cluster and a
Redis broker under `var/`, started on demand when DATABASE_URL /
CELERY_BROKER_URL are not set.

PostgreSQL refuses to run as root, so when we are root the cluster runs as the
unprivileged `postgres` user that Debian's package creates, in a folder of that
user's home named after a hash of this checkout's `var/` (`var/pg` points there),
so that no folder above the checkout has to be opened for it. It listens on a unix
socket in a directory only its owner (and root) can enter, with no TCP listener,
and every role logs in with a password (scram-sha-256) kept in `var/secrets.env`;
only the cluster's own OS user logs in as the superuser (peer). Redis listens on a
unix socket under `var/` only. Two checkouts on one machine never collide.

`standby start` adds a hot standby of that cluster beside it (pg_basebackup -R over the private socket as the
replication role, then streaming replication through a replication slot), on a socket directory of its own:
PUBLIC_DATABASE_URL may point the internet zone at it (`standby env` prints the URL). Nothing is created on it:
roles, the public projection and its functions arrive from the primary.

Usage: python -m config.embedded start|stop|status|reset|env
       python -m config.embedded standby start|stop|status|reset|env
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("CREDIT_VAR_DIR", ROOT / "var"))
PG_LINK = VAR / "pg"  # the cluster itself when we are not root, else a symlink to it
# As root, the cluster lives where its OS user can reach it without anyone's home being opened: in that
# user's home (Debian's postgres package makes it), one folder per checkout (a hash of its var/ path).
PG_DIR = (Path("/var/lib/postgresql") / f"credit-{hashlib.sha256(str(VAR.resolve()).encode()).hexdigest()[:12]}"
          if os.geteuid() == 0 else PG_LINK)
PG_DATA = PG_DIR / "data"
PG_RUN = PG_DIR / "run"
PG_LOG = PG_DIR / "postgres.log"
REDIS_DIR = VAR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
SECRETS_FILE = VAR / "secrets.env"
DB_NAME = "credit"
DB_USER = "credit"
PG_USER = "postgres"  # the unprivileged OS user that owns the cluster when we are root
REPLICATION_USER = "credit_replication"  # the standby's role on the primary: may stream WAL, read nothing
# The hot standby: beside the primary's folder (var/pg-standby, or …/credit-<hash>-standby as root)
STANDBY_DIR = PG_DIR.with_name(f"{PG_DIR.name}-standby")
STANDBY_DATA = STANDBY_DIR / "data"
STANDBY_RUN = STANDBY_DIR / "run"
STANDBY_LOG = STANDBY_DIR / "postgres.log"
STANDBY_SLOT = "credit_standby"  # the primary keeps the WAL the standby has not received yet

PG_SETTINGS = {
    "listen_addresses": "''",  # no TCP: the unix socket only
    "unix_socket_directories": None,  # filled with PG_RUN
    "unix_socket_permissions": "0700",  # and its directory is 0700 too: only the cluster's OS user (and root)
    "password_encryption": "'scram-sha-256'",
    "max_connections": "200",
    "shared_buffers": "'2GB'",  # keeps the public lookup's tables and indexes cached (24 GiB machines)
    # autoprewarm: the buffer cache's list of pages is saved every 5 minutes and at shutdown, and read back
    # after a start, so a restart does not leave the public search reading every page from disk again.
    "shared_preload_libraries": "'pg_prewarm'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'256MB'",
    "synchronous_commit": "off",  # a crash may lose the last few commits, never corrupt: fine for a dev cluster
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "timezone": "'UTC'",
}


def log(message: str) -> None:
    print(f"[embedded] {message}", file=sys.stderr, flush=True)


def database_url(name: str = DB_NAME) -> str:
    """The embedded cluster's database `name` as the platform's role, password included."""
    return f"postgresql://{DB_USER}:{quote(ensure_secrets()['EMBEDDED_DB_PASSWORD'], safe='')}@/{name}?host={PG_RUN}"


def public_password() -> str:
    """The public site's role's password on the embedded cluster."""
    return ensure_secrets()["EMBEDDED_PUBLIC_DB_PASSWORD"]


def standby_public_database_url() -> str:
    """PUBLIC_DATABASE_URL for the internet zone reading the embedded standby."""
    return (f"postgresql://{public_role()}:{quote(public_password(), safe='')}@/{DB_NAME}"
            f"?host={quote(str(STANDBY_RUN))}")


def broker_url() -> str:
    return f"redis+socket://{REDIS_SOCKET}"


@contextlib.contextmanager
def _lock():
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / ".embedded.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(f"Missing {', '.join(packages)}: install them with apt-get (needs root).")
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def pg_bindir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    _apt_install("postgresql", "postgresql-contrib")
    return pg_bindir()


def _as_pg_user(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", PG_USER, "--", *cmd]
    return subprocess.run(cmd, **kwargs)


def _pg_os_user() -> str:
    return PG_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def _private_dir(path: Path) -> None:
    """A folder only the cluster's OS user may enter (root still can)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, PG_USER, PG_USER)
    os.chmod(path, 0o700)


def _pg_ctl_stop(data: Path) -> None:
    _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                check=False, capture_output=True)


def _move_legacy_cluster() -> None:
    """A cluster made by earlier versions lives in var/pg itself (reached through parents opened with o+x) and
    trusts every local user: stop it and move it, data and log, to PG_DIR; PG_LINK then points there. Its
    authentication is rewritten with every start (_write_pg_settings). A move cut short is taken up again."""
    if PG_LINK == PG_DIR or PG_LINK.is_symlink():
        return
    legacy = PG_LINK / "data"
    if (legacy / "PG_VERSION").exists():
        if (PG_DATA / "PG_VERSION").exists():
            raise SystemExit(f"Two clusters for this checkout: {legacy} and {PG_DATA}; keep one, delete the other.")
        log(f"moving the PostgreSQL cluster from {legacy} to {PG_DATA}")
        _pg_ctl_stop(legacy)
        if _pg_running(legacy):
            raise SystemExit(f"The PostgreSQL cluster in {legacy} did not stop; stop it, then start again.")
        _private_dir(PG_DIR)
        # mv keeps the files' owner and modes, also across file systems
        subprocess.run(["mv", str(legacy), str(PG_DATA)], check=True)
        if (PG_LINK / "postgres.log").exists():
            subprocess.run(["mv", str(PG_LINK / "postgres.log"), str(PG_LOG)], check=True)
    if PG_LINK.exists():
        shutil.rmtree(PG_LINK)  # what is left: the old socket directory
    PG_LINK.parent.mkdir(parents=True, exist_ok=True)
    PG_LINK.symlink_to(PG_DIR)


def _pg_running(data: Path = PG_DATA) -> bool:
    if not (data / "postmaster.pid").exists():
        return False
    result = _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(data), "status"], capture_output=True)
    return result.returncode == 0


def _psql(sql: str, db: str = "postgres", *, stdin: bool = False, run: Path = PG_RUN) -> str:
    """Run `sql` as the superuser of the cluster listening in `run` (the primary's by default); with `stdin`, as
    a script fed on stdin, which other users cannot see (a command line they can)."""
    result = _as_pg_user(
        [str(pg_bindir() / "psql"), "-h", str(run), "-U", PG_USER, "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1",
         *(["-f", "-"] if stdin else ["-c", sql])],
        capture_output=True,
        text=True,
        input=sql if stdin else None,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def ensure_postgres() -> None:
    bindir = pg_bindir()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            _apt_install("postgresql")
    if not _pg_running():
        _move_legacy_cluster()
    if not (PG_DATA / "PG_VERSION").exists():
        log(f"creating the PostgreSQL cluster in {PG_DATA}")
        _private_dir(PG_DIR)
        # C.UTF-8: pg_trgm extracts CJK trigrams only under a UTF-8 locale. Authentication: _write_pg_settings.
        _as_pg_user(
            [str(bindir / "initdb"), "-D", str(PG_DATA), "-U", PG_USER, "--auth-local=peer", "--auth-host=reject",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )
    if not _pg_running():
        _write_pg_settings()  # before every start: a changed PG_SETTINGS reaches existing clusters too
        log("starting PostgreSQL")
        _private_dir(PG_DIR)
        _private_dir(PG_RUN)
        if os.geteuid() == 0 and PG_LOG.exists():
            shutil.chown(PG_LOG, PG_USER)
        _as_pg_user(
            [str(bindir / "pg_ctl"), "-D", str(PG_DATA), "-l", str(PG_LOG), "-w", "-t", "60", "start"],
            check=True, capture_output=True,
        )
    _roles_ensure()
    if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":
        _psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


def public_role(name: str | None = None) -> str:
    """The public site's database role: `name`, or PUBLIC_DATABASE_ROLE, or credit_public; a plain identifier,
    since it is written into SQL (grants, ALTER ROLE) as it is."""
    role = name or os.environ.get("PUBLIC_DATABASE_ROLE") or "credit_public"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"PUBLIC_DATABASE_ROLE must be a plain lower-case identifier, not {role!r}")
    return role


def _roles_ensure() -> None:
    """The platform's role and the public site's role (public/migrations/0002 grants it what it may do), each
    with its password from var/secrets.env (set here, so that migrations carry no secrets), the public one
    with no table statistics from its sessions: those would count rows its functions read before their
    filters. Only a superuser may set that, and this is the one place that runs as one. And the replication
    role a standby streams as (standby_start)."""
    role, passwords = public_role(), ensure_secrets()

    def literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    _psql(stdin=True, sql=f"""
        SELECT 'CREATE ROLE {DB_USER} LOGIN CREATEDB CREATEROLE'
         WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}') \\gexec
        SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') \\gexec
        SELECT 'CREATE ROLE {REPLICATION_USER} LOGIN REPLICATION'
         WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{REPLICATION_USER}') \\gexec
        ALTER ROLE {REPLICATION_USER} PASSWORD {literal(passwords["EMBEDDED_REPLICATION_PASSWORD"])};
        ALTER ROLE {DB_USER} PASSWORD {literal(passwords["EMBEDDED_DB_PASSWORD"])};
        ALTER ROLE {role} PASSWORD {literal(passwords["EMBEDDED_PUBLIC_DB_PASSWORD"])};
        ALTER ROLE {role} SET track_counts = off;
    """)


def _write_pg_settings(data: Path = PG_DATA, run: Path = PG_RUN, *, extra: list[str] = ()) -> None:
    """The cluster in `data` (the primary, or the standby with its `extra` lines) listening in `run`."""
    settings = dict(PG_SETTINGS, unix_socket_directories=f"'{run}'")
    if not (pg_bindir().parent / "lib" / "pg_prewarm.so").exists():  # a build without contrib: start without it
        settings.pop("shared_preload_libraries")
    lines = ["# Written by config/embedded.py from PG_SETTINGS before each start; edit PG_SETTINGS instead."]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    (data / "postgresql.auto.conf").write_text("\n".join(lines + list(extra)) + "\n")  # keeps its owner
    _write_pg_hba(data)


def _write_pg_hba(data: Path) -> None:
    # Only the cluster's OS user is the superuser (peer); every role logs in with its password; no TCP at all;
    # the replication role streams WAL to a standby (with its password too).
    (data / "pg_ident.conf").write_text(f"# Written by config/embedded.py before each start.\n"
                                        f"embedded {_pg_os_user()} {PG_USER}\n")
    (data / "pg_hba.conf").write_text("# Written by config/embedded.py before each start.\n"
                                      f"local all {PG_USER} peer map=embedded\n"
                                      f"local replication {PG_USER} peer map=embedded\n"  # pg_basebackup
                                      f"local replication {REPLICATION_USER} scram-sha-256\n"
                                      "local all all scram-sha-256\n")


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    _apt_install("redis-server")
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def _redis_ping() -> bool:
    if not REDIS_SOCKET.exists():
        return False
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(REDIS_SOCKET))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> None:
    if _redis_ping():
        return
    binary = redis_server_binary()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    log("starting Redis (Celery broker)")
    subprocess.run(
        [binary, "--port", "0", "--unixsocket", str(REDIS_SOCKET), "--unixsocketperm", "700",
         "--daemonize", "yes", "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
         "--logfile", str(REDIS_DIR / "redis.log"),
         # queued tasks survive a restart: append-only file, fsync every second
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        check=True,
    )
    for _ in range(100):
        if _redis_ping():
            return
        time.sleep(0.1)
    raise RuntimeError(f"Redis did not start; see {REDIS_DIR / 'redis.log'}")


SECRETS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": lambda: secrets.token_hex(32),
    "BLIND_INDEX_KEY": lambda: secrets.token_hex(32),
    "DEMO_OPERATOR_PASSWORD": lambda: secrets.token_urlsafe(12),
    # the demo operator's TOTP key (hex, as django-otp keeps it): `oathtool --totp <key>` gives the console's token
    "DEMO_OPERATOR_TOTP_KEY": lambda: secrets.token_hex(20),
    "EMBEDDED_DB_PASSWORD": lambda: secrets.token_hex(24),
    "EMBEDDED_PUBLIC_DB_PASSWORD": lambda: secrets.token_hex(24),
    "EMBEDDED_REPLICATION_PASSWORD": lambda: secrets.token_hex(24),
}
# The cluster's own role passwords: they belong to the cluster that is running, not to its data, so a backup
# leaves them out and a restore keeps the ones in place (pg_restore brings back no roles).
CLUSTER_SECRETS = frozenset({"EMBEDDED_DB_PASSWORD", "EMBEDDED_PUBLIC_DB_PASSWORD", "EMBEDDED_REPLICATION_PASSWORD"})


def secrets_read(path: Path | None = None) -> dict[str, str]:
    """What var/secrets.env (or another file of its form) holds now, nothing made: name → value."""
    with contextlib.suppress(FileNotFoundError):
        return dict(line.split("=", 1) for line in (path or SECRETS_FILE).read_text().splitlines() if "=" in line)
    return {}


def ensure_secrets() -> dict[str, str]:
    """Development secrets, made once per checkout and kept in var/secrets.env.

    Processes that start together must all get the same keys (data encrypted under a key another process
    threw away is lost): whoever adds missing values does so under a lock, re-reading the file first, and
    replaces the file in one rename with a new one made 0600 with O_EXCL, so that a reader without the lock
    sees the old file or the new one, never a part, and no other user ever could read it."""
    values = secrets_read()
    if all(key in values for key in SECRETS):
        return values
    with _secrets_locked():
        values = secrets_read()
        missing = {key: make() for key, make in SECRETS.items() if key not in values}
        if missing:
            values.update(missing)
            _write_secrets(values)
    return values


def secrets_update(values: dict[str, str]) -> None:
    """Set these secrets in var/secrets.env (a restore), keeping the others, with ensure_secrets' care."""
    with _secrets_locked():
        _write_secrets({**secrets_read(), **values})


@contextlib.contextmanager
def _secrets_locked():
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / ".secrets.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_secrets(values: dict[str, str]) -> None:
    new = SECRETS_FILE.with_name(f".{SECRETS_FILE.name}.{os.getpid()}")
    new.unlink(missing_ok=True)  # left by a process of this pid that died while writing
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{k}={v}\n" for k, v in values.items()))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(new, SECRETS_FILE)


def ensure_started() -> None:
    """Start whatever embedded service is needed (only those whose URL is unset)."""
    with _lock():
        if not os.environ.get("DATABASE_URL"):
            ensure_postgres()
        if not os.environ.get("CELERY_BROKER_URL"):
            ensure_redis()


def owns_database() -> bool:
    """True when the database is this checkout's embedded cluster (DATABASE_URL unset)."""
    return not os.environ.get("DATABASE_URL")


def postgres_restart() -> None:
    """Restart the embedded PostgreSQL at once (fast shutdown: open sessions are cut), for fault tests."""
    with _lock():
        _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(PG_DATA), "-l", str(PG_LOG), "-m", "fast", "-w",
                     "-t", "60", "restart"], check=True, capture_output=True)


def standby_start() -> None:
    """Start the hot standby of the embedded cluster, made first when there is none: a base backup of the
    primary taken over its private socket as the replication role (pg_basebackup -R writes how to reach the
    primary; -C -S makes the slot that keeps the WAL the standby still needs), then started on a socket
    directory of its own. The primary is started when it is not running."""
    with _lock():
        ensure_postgres()
        if not (STANDBY_DATA / "PG_VERSION").exists():
            _standby_create()
        if not _pg_running(STANDBY_DATA):
            # the primary_* lines pg_basebackup -R wrote, kept through each rewrite of the settings
            written = (STANDBY_DATA / "postgresql.auto.conf").read_text().splitlines()
            reach = [line for line in written if line.startswith(("primary_conninfo", "primary_slot_name"))]
            # hot_standby_feedback: a long public read is not cancelled because replay would remove rows it reads
            _write_pg_settings(STANDBY_DATA, STANDBY_RUN, extra=[*reach, "hot_standby_feedback = on"])
            _private_dir(STANDBY_RUN)
            if os.geteuid() == 0 and STANDBY_LOG.exists():
                shutil.chown(STANDBY_LOG, PG_USER)
            log("starting the PostgreSQL standby")
            # -w: returns once the standby is consistent and takes read-only connections
            _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(STANDBY_DATA), "-l", str(STANDBY_LOG), "-w",
                         "-t", "300", "start"], check=True, capture_output=True)


def _standby_create() -> None:
    log(f"taking a base backup of the PostgreSQL cluster into {STANDBY_DATA}")
    _write_pg_hba(PG_DATA)  # a primary started before the replication role's line existed
    _psql("SELECT pg_reload_conf()")
    _standby_slot_drop()  # left by a base backup cut short
    _private_dir(STANDBY_DIR)
    shutil.rmtree(STANDBY_DATA, ignore_errors=True)
    # the password through the environment: a command line is visible to every user
    env = {**os.environ, "PGPASSWORD": ensure_secrets()["EMBEDDED_REPLICATION_PASSWORD"]}
    result = _as_pg_user([str(pg_bindir() / "pg_basebackup"), "-h", str(PG_RUN), "-U", REPLICATION_USER,
                          "-D", str(STANDBY_DATA), "-R", "-X", "stream", "-C", "-S", STANDBY_SLOT,
                          "--checkpoint=fast", "--no-password"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(STANDBY_DATA, ignore_errors=True)
        raise RuntimeError(f"pg_basebackup failed: {result.stderr.strip()}")


def _standby_slot_drop() -> None:
    _psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
          f"WHERE slot_name = '{STANDBY_SLOT}' AND NOT active")


def standby_stop() -> None:
    """Stop the standby (the primary keeps its WAL in the slot until it streams again: `standby reset` when
    it never will)."""
    if (STANDBY_DATA / "PG_VERSION").exists() and _pg_running(STANDBY_DATA):
        _pg_ctl_stop(STANDBY_DATA)
        log("PostgreSQL standby stopped")


def standby_reset() -> None:
    """Stop the standby, delete it, and drop its slot on the primary (when the primary is running)."""
    with _lock():
        standby_stop()
        shutil.rmtree(STANDBY_DIR, ignore_errors=True)
        if _pg_running():
            _standby_slot_drop()
        log("standby deleted")


def stop() -> None:
    with _lock():
        standby_stop()
        if (REDIS_DIR / "redis.pid").exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int((REDIS_DIR / "redis.pid").read_text().strip()), 15)
            log("Redis stopped")
        if (PG_DATA / "PG_VERSION").exists() and _pg_running():
            _pg_ctl_stop(PG_DATA)
            log("PostgreSQL stopped")


def reset() -> None:
    """Stop the embedded services and delete all their data (demo data is reloaded by `make run`)."""
    stop()
    if PG_LINK.is_symlink():
        PG_LINK.unlink()
    for path in (STANDBY_DIR, PG_DIR, PG_LINK, REDIS_DIR, VAR / "batches"):
        shutil.rmtree(path, ignore_errors=True)
    log("embedded data deleted")


def _standby_stop() -> None:
    with _lock():
        standby_stop()


COMMANDS = {
    "start": lambda: (ensure_started(), ensure_secrets()),
    "stop": stop,
    "reset": reset,
    "status": lambda: print(f"postgres: {'running' if _pg_running() else 'stopped'}; "
                            f"redis: {'running' if _redis_ping() else 'stopped'}"),
    "env": lambda: print(f"DATABASE_URL={database_url()}\nCELERY_BROKER_URL={broker_url()}"),
    "standby start": standby_start,
    "standby stop": _standby_stop,
    "standby reset": standby_reset,
    "standby status": lambda: print(f"standby: {'running' if _pg_running(STANDBY_DATA) else 'stopped'}"),
    "standby env": lambda: print(f"PUBLIC_DATABASE_URL={standby_public_database_url()}"),
}


def main(argv: list[str]) -> int:
    command = " ".join(argv[1:3] if argv[1:2] == ["standby"] else argv[1:2]) or "start"
    if command not in COMMANDS:
        print(__doc__)
        return 2
    COMMANDS[command]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
