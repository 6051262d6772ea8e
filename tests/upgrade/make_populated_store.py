"""Make fixtures/upgrade/: a populated store written by the code of a PAST commit, and what that code's readers
returned for it. tests/credit/test_upgrade_populated_store.py loads the store into a database migrated to that
commit's migrations, migrates it to today's and asks today's readers the same questions.

Run it only from a checkout of the commit the fixture stands for (tests/upgrade/README.md has the commands);
run from today's tree it would describe today's schema, and the upgrade test would prove nothing.

    python -m tests.upgrade.make_populated_store [--database credit_upgrade_u9] [--out fixtures/upgrade]

It drops and creates its own scratch database on the embedded cluster (never the development database), builds
the store through the real ingest path (batches received and run in this process, as `manage.py ingest` does),
and writes `store.sql.gz` (pg_dump --data-only of the store's tables) and `readers.json.gz`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]

# The tables the store lives in. Not django_migrations, contenttypes, auth (filled by migrations) nor staged
# rows (a batch's scratch space, emptied when it finishes) nor portal and ops (no store data).
STORE_TABLES = ["credit_*", "exchange_*", "validation_catalogversion"]
NOT_STORE_TABLES = ["credit_stagedrow", "exchange_signaturenonce"]


def _database_create(name: str) -> str:
    import psycopg

    from config import embedded

    if not name.startswith("credit_upgrade"):
        raise SystemExit(f"refusing to drop {name!r}: the scratch database's name starts with credit_upgrade")
    with psycopg.connect(embedded.database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return embedded.database_url(name)


def _migrate(*targets) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


def _red(n: int, listed_on: dt.date, **extra) -> dict:
    from tests.credit.factories import penalty

    row = penalty("x", n or None)
    return {**{k: row[k] for k in ("subject_name", "subject_type", "uscc") if k in row}, "list_code": "TAX-A",
            "list_name": "A级纳税人", "listed_on": listed_on.isoformat(), "authority": "国家税务总局湖南省税务局",
            **extra}


def _black(case_no: str, n: int) -> dict:
    from tests.credit.factories import uscc

    return {"subject_name": f"湖南测试{n}有限公司", "subject_type": "legal_person", "uscc": uscc(n),
            "list_code": "COURT-SXBZXR", "list_name": "失信被执行人", "case_no": case_no, "reason": "拒不履行",
            "listed_on": "2026-01-05", "authority": "长沙市中级人民法院"}


def store_build() -> None:
    """Everything the store holds, each made the way the platform makes it."""
    from django.utils import timezone

    from credit.models import Authorization, Objection, Record
    from credit.services import publicity_transitions_apply, record_repair
    from exchange.services.departments import department_register, records_transfer
    from tests.credit.factories import id_number, ingest, licence, org_code, penalty, registration

    today = timezone.localdate()

    def day(days: int) -> str:
        return (today + dt.timedelta(days=days)).isoformat()

    def pen(no: str, n: int | None = None, **extra) -> dict:
        return penalty(no, n, **{"decided_on": day(-30), **extra})  # recent: public until its period ends

    every = ["registration", "admin_license", "admin_penalty", "red_list", "black_list"]
    scjg = department_register(code="HN-SCJG", name="市场监管", write=every[:3], read=every).obj
    sthj = department_register(code="HN-STHJ", name="生态环境", write=every[1:3], read=every).obj
    swj = department_register(code="HN-SWJ", name="税务", write=every[2:], read=every).obj

    # Natural keys as the code before credit 0009 stored them (as spelt), then 0009 run over them: one
    # department's spellings of one key merged into one record (feed kind `merged`), two departments' flagged.
    with mock.patch("credit.staging.natural_key_normalise", lambda value: value), \
            mock.patch("credit.staging._key_spelling_neutral", lambda payload, spelt, keyed: payload):
        ingest(sthj, "admin_penalty", [penalty("湘环罚〔2026〕41290024号", 1)], "spelt-a")
        ingest(sthj, "admin_penalty", [penalty("湘环罚[2026]41290024号", 1, content="警告并责令改正")], "spelt-b")
        ingest(sthj, "admin_penalty", [penalty("湘环罚〔2026〕7号", 2)], "spelt-c")
        ingest(swj, "admin_penalty", [penalty("湘环罚[2026]7号", 2, content="另一部门")], "spelt-d")
    _migrate(("credit", "0008_subject_records_paged_by_id"))
    _migrate()

    ingest(scjg, "registration", [registration(1, former_names="湖南旧名1有限公司"), registration(2), registration(3),
                                  registration(4), registration(5, name="湖南测试(五)有限公司"), registration(6)], "reg-1")
    ingest(scjg, "admin_license", [licence("L-1", 1), licence("L-2", 3)], "lic-1")
    person = {"subject_name": "李四", "subject_type": "natural_person", "id_type": "resident_id",
              "id_number": id_number(5)}
    ingest(sthj, "admin_penalty", [
        pen("P-1", 1), pen("P-2", 1), pen("P-3", 2),
        pen("P-serious", 2, severity="serious"),
        pen("P-simple", 2, procedure="simple"),
        pen("P-shared", 3, usage_scope="shared"),
        pen("P-authorized", 3, usage_scope="authorized"),
        pen("P-former-name", 1, subject_name="湖南旧名1有限公司"),
        pen("P-mismatch", 5, subject_name="完全不同有限公司"),
        pen("P-N1", **person), pen("P-N2", **{**person, "id_type": "身份证"}),
        pen("P-7", subject_name="湖南测试7有限公司", org_code=org_code(7)),
        pen("P-8", subject_name="湖南测试8有限公司", registration_no="430100000000008"),
        pen("P-dup", 4), pen("P-dup", 4),  # an in-batch duplicate: counted once
        pen("P-conflict", 4), pen("P-conflict", 4, content="不同"),  # conflicting: both rejected
        pen("P-ending", 4, decided_on=day(-20), publicity_until=day(1)),
        pen("P-repair", 4, decided_on=day(-120)),
        {"op": "withdraw", "decision_no": "P-404"},  # unknown record: rejected
    ], "pen-1")
    ingest(sthj, "admin_penalty", [
        pen("P-1", 1),  # identical: unchanged, no version
        pen("P-2", 1, content="警告并责令改正"),  # version 2
        {"op": "withdraw", "decision_no": "P-3"},
    ], "pen-2")
    ingest(sthj, "admin_penalty", [pen("P-2", 1, content="罚款", penalty_types="罚款", fine_amount="1000")],
           "pen-3")  # version 3
    ingest(scjg, "admin_penalty", [pen("P-1", 1, content="他人更改"), pen("P-S1", 6)], "pen-foreign")
    ingest(swj, "red_list", [_red(2, today - dt.timedelta(days=20), expires_on=day(2)),
                             _red(3, today - dt.timedelta(days=5)),
                             _red(0, today - dt.timedelta(days=3), **person)], "red-1")
    # a list entry the merge's clock, set back two days, saw as not yet public: started when the clock moves on
    listed = dt.date.today() - dt.timedelta(days=1)  # validation's clock: not in the future
    with mock.patch("django.utils.timezone.localdate", lambda *args: listed - dt.timedelta(days=1)):
        ingest(swj, "red_list", [_red(6, listed)], "red-2")
    ingest(swj, "black_list", [_black("（2026）湘01执123号", 4), _black("（2026）湘01执124号", 6)], "black-1")
    ingest(swj, "black_list", [{"op": "withdraw", "list_code": "COURT-SXBZXR", "case_no": "（2026）湘01执124号"}],
           "black-2")
    # the pending subjects arrive: their records attach (feed `updated`, no new version); 4 is renamed
    ingest(scjg, "registration", [registration(7), registration(8),
                                  registration(4, name="湖南新名4有限公司", legal_representative="王五")], "reg-2")
    ingest(scjg, "registration", [{"op": "withdraw", "uscc": registration(6)["uscc"]}], "reg-3")

    # §8: the licences change owner; the new owner's identical row leaves a source without a version, its
    # changed row a version of its own
    records_transfer(from_code="HN-SCJG", to_code="HN-STHJ", category="admin_license")
    ingest(sthj, "admin_license", [licence("L-1", 1), licence("L-2", 3, content="食品经营许可（延续）")], "lic-2")

    authorized = Record.objects.get(natural_key="P-AUTHORIZED")
    Authorization.objects.create(subject_id=authorized.subject_id, department=swj, until=dt.date(2099, 12, 31),
                                 granted_by="湖南测试3有限公司")
    Objection.objects.create(record=Record.objects.get(natural_key="P-1"), raised_by="湖南测试1有限公司",
                             reason="已整改")

    # publicity moved by the clock: the red list entry starts, P-ending's window and a red entry end
    publicity_transitions_apply(today=today)
    publicity_transitions_apply(today=today + dt.timedelta(days=3))
    record_repair(record_id=Record.objects.get(natural_key="P-REPAIR").id, repaired_on=today)
    ingest(sthj, "admin_penalty", [pen("P-late", 2), pen("P-1", 1, content="警告，已整改")], "pen-4")


def store_dump(database_url: str, out: Path) -> None:
    from config import embedded

    command = [str(embedded.pg_bindir() / "pg_dump"), "--data-only", "--no-owner", "--no-privileges",
               "--no-comments", *(f"--table={t}" for t in STORE_TABLES),
               *(f"--exclude-table={t}" for t in NOT_STORE_TABLES), f"--dbname={database_url}"]
    dumped = subprocess.run(command, check=True, capture_output=True).stdout
    # mtime 0: the same dump gzips to the same bytes
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        zipped.write(dumped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="credit_upgrade_u9")
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures" / "upgrade")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.upgrade.store_readers import FIXTURE_SECRETS, store_as_read_json

    scratch = Path(tempfile.mkdtemp(prefix="upgrade-fixture-"))
    database_url = _database_create(args.database)
    os.environ.update(FIXTURE_SECRETS, DATABASE_URL=database_url, CELERY_BROKER_URL="memory://",
                      BATCH_STORAGE_DIR=str(scratch / "batches"), PLATFORM_SIGNING_KEY_DIR=str(scratch / "keys"),
                      DJANGO_SETTINGS_MODULE="config.settings")
    os.environ.pop("BATCH_STORAGE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    # batches run here, in order; none is handed to a broker some worker reads
    with mock.patch("ingest.handoff.batch_enqueue", lambda *, batch_id: None):
        store_build()
    call_command("verify_store")
    args.out.mkdir(parents=True, exist_ok=True)
    store_dump(database_url, args.out / "store.sql.gz")
    with open(args.out / "readers.json.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        zipped.write(store_as_read_json().encode())
    made_from = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    (args.out / "MADE_FROM").write_text(f"{made_from.stdout.strip() or 'unknown'}\n")
    print(f"wrote {args.out}/store.sql.gz and readers.json.gz from {args.database}")


if __name__ == "__main__":
    main()
