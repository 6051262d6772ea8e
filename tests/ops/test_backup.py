"""ops/backup.py through `manage.py backup` and `manage.py restore`: a populated platform, backed up,
destroyed, restored, and everything found again."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
from base64 import b64encode

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from config import embedded
from credit.models import Objection, Record, RecordVersion, Subject
from exchange.exchange_log import log_verify
from exchange.jws import jws_verify
from exchange.models import Batch, BatchRejection, ExchangeLogEntry
from exchange.platform_keys import jwks, platform_key_rotate, public_key_from_jwk
from filestore.encryption import open_batch_file
from tests.credit.factories import ingest, penalty, registration

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump and pg_restore see committed data only


@pytest.fixture
def platform_dirs(settings, tmp_path, monkeypatch):
    """Batch files, platform keys and secrets in tmp folders: the test destroys them."""
    settings.BATCH_STORAGE_DIR = tmp_path / "batches"
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path / "keys"
    monkeypatch.setattr(embedded, "SECRETS_FILE", tmp_path / "secrets.env")
    embedded.SECRETS_FILE.write_text("DEMO_OPERATOR_PASSWORD=demo\nEMBEDDED_DB_PASSWORD=old-cluster\n")
    # batches are run in this process; none goes to a worker
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: None)
    return tmp_path


def _department(code, write):
    from exchange.services.departments import department_register

    return department_register(code=code, name=code, write=write, read=write).obj


def _populate():
    """Two departments, three batches (one row rejected, receipts under two platform keys), a decided
    and an open objection."""
    from exchange.services.objections import objection_decide

    scjg = _department("HN-SCJG", ["registration", "admin_penalty"])
    _department("HN-GY", ["black_list"])
    ingest(scjg, "registration", [registration(n) for n in range(1, 4)], "reg-1")
    platform_key_rotate()  # the first receipt is signed by a key that is retired now
    ingest(scjg, "admin_penalty", [penalty("P-1", 1), penalty("P-2", 2), penalty("P-3", 3, decided_on="2025-13-01")],
           "pen-1")
    ingest(scjg, "admin_penalty", [penalty("P-4", 1)], "pen-2")
    for natural_key in ("P-1", "P-2"):
        record = Record.objects.get(natural_key__contains=natural_key)
        Objection.objects.create(record=record, subject=record.subject, raised_by="湖南测试有限公司", reason="已整改")
    objection_decide(department=scjg, objection_id=Objection.objects.order_by("id").first().pk,
                     decision="upheld", reason="记录无误")


def _state() -> dict:
    return {
        "batches": list(Batch.objects.order_by("id").values_list(
            "id", "batch_id", "status", "rows", "accepted", "rejected", "content_digest", "storage_path",
            "receipt", "log_index", "log_head")),
        "rejections": list(BatchRejection.objects.order_by("id").values_list("batch_id", "row", "code")),
        "subjects": list(Subject.objects.order_by("id").values_list("id", "uscc", "name")),
        "records": list(Record.objects.order_by("id").values_list("id", "natural_key", "content_hash", "version")),
        "versions": RecordVersion.objects.count(),
        "objections": list(Objection.objects.order_by("id").values_list("id", "record_id", "status")),
        "log": list(ExchangeLogEntry.objects.order_by("index").values_list("index", "kind", "entry_hash")),
    }


def _destroy(dirs):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE exchange_exchangelogentry, credit_objection CASCADE")
        cursor.execute("DELETE FROM exchange_batchrejection")
    shutil.rmtree(dirs / "batches")
    shutil.rmtree(dirs / "keys")
    # the cluster restored into is another one: its own password must survive the restore
    embedded.SECRETS_FILE.write_text("EMBEDDED_DB_PASSWORD=new-cluster\nFIELD_ENCRYPTION_KEY=" + "0" * 64 + "\n")


def _run(command, *args) -> str:
    out = io.StringIO()
    call_command(command, *map(str, args), stdout=out, stderr=out)
    return out.getvalue()


def test_backup_destroy_restore_finds_every_batch_receipt_record_and_log_entry(platform_dirs, settings):
    _populate()
    before = _state()
    assert len(before["batches"]) == 3 and all(b[8] for b in before["batches"])  # all with receipts
    assert len(before["rejections"]) == 1 and len(before["objections"]) == 2
    backup = platform_dirs / "backup"

    _run("backup", backup)

    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["counts"] == {"departments": 2, "batches": 3, "receipts": 3, "subjects": len(before["subjects"]),
                                  "records": len(before["records"]), "objections": 2,
                                  "exchange_log_entries": len(before["log"])}
    assert manifest["exchange_log_head"] == {"index": before["log"][-1][0], "hash": before["log"][-1][2]}
    assert manifest["database"]["name"] == settings.DATABASES["default"]["NAME"]
    assert {f"batches/{b[7]}" for b in before["batches"]} <= set(manifest["files"])
    assert sum(name.startswith("keys/") and name.endswith(".pem") for name in manifest["files"]) == 2
    secrets_in_set = (backup / "secrets.env").read_text()
    assert f"FIELD_ENCRYPTION_KEY={settings.FIELD_ENCRYPTION_KEY}\n" in secrets_in_set
    assert "EMBEDDED_DB_PASSWORD" not in secrets_in_set  # the cluster's own, not the data's
    with pytest.raises(CommandError, match="not empty"):
        _run("backup", backup)

    _destroy(platform_dirs)
    with pytest.raises(CommandError, match="--force"):  # departments and batches are still there
        _run("restore", backup)

    output = _run("restore", backup, "--force")

    assert _state() == before
    assert log_verify().ok and "exchange log intact" in output
    keys = {k["kid"]: public_key_from_jwk(k) for k in jwks()["keys"]}
    assert len(keys) == 2
    for batch in Batch.objects.all():
        assert jws_verify(batch.receipt, keys)["log_head"] == batch.log_head
        with open_batch_file(settings.BATCH_STORAGE_DIR / batch.storage_path) as fh:
            digest = b64encode(hashlib.sha256(fh.read()).digest()).decode()
        assert batch.content_digest == f"sha-256=:{digest}:"
    restored = embedded.secrets_read()
    assert restored["FIELD_ENCRYPTION_KEY"] == settings.FIELD_ENCRYPTION_KEY
    assert restored["DEMO_OPERATOR_PASSWORD"] == "demo"
    assert restored["EMBEDDED_DB_PASSWORD"] == "new-cluster"
    assert stat.S_IMODE(embedded.SECRETS_FILE.stat().st_mode) == 0o600


def test_restore_refuses_a_damaged_set_and_names_the_file(platform_dirs):
    _department("HN-SCJG", ["registration"])
    platform_key_rotate()
    backup = platform_dirs / "backup"
    _run("backup", backup)
    key_file = next((backup / "keys").glob("*.pem"))
    key_file.write_bytes(key_file.read_bytes().replace(b"A", b"B", 1))
    _department("HN-GY", ["black_list"])

    with pytest.raises(CommandError, match=f"keys/{key_file.name} does not match its sha256"):
        _run("restore", backup, "--force")

    assert _department_codes() == ["HN-GY", "HN-SCJG"]  # the database was not touched
    (backup / "database.dump").unlink()
    with pytest.raises(CommandError, match="database.dump is missing"):
        _run("restore", backup, "--force")


def _department_codes():
    from exchange.models import Department

    return list(Department.objects.order_by("code").values_list("code", flat=True))


def test_backup_and_restore_with_batch_files_in_a_bucket(platform_dirs, settings, s3_server, s3_storage):
    from filestore.storage import stored_file_open

    ingest(_department("HN-SCJG", ["admin_penalty"]), "admin_penalty", [penalty("P-1", 1), penalty("P-2", 2)],
           "pen-s3")
    batch = Batch.objects.get()
    stored = s3_server.objects(s3_storage)[s3_storage + batch.storage_path]
    backup = platform_dirs / "backup"

    _run("backup", backup)

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["missing_batch_files"] == []
    assert (backup / "batches" / batch.storage_path).read_bytes() == stored  # as stored: encrypted
    for key in s3_server.objects(s3_storage):
        s3_server.client().delete_object(Bucket=s3_server.bucket, Key=key)

    _run("restore", backup, "--force")

    assert list(s3_server.objects(s3_storage)) == [s3_storage + batch.storage_path]  # back in the bucket
    with stored_file_open(batch.storage_path) as fh:
        digest = b64encode(hashlib.sha256(fh.read()).digest()).decode()
    assert batch.content_digest == f"sha-256=:{digest}:"
    assert not (platform_dirs / "batches").exists()  # nothing went to the local folder
