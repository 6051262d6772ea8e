"""One penalty sent in the spellings departments use is one record to the public: shown once, in the
spelling of its latest version (catalog.md, "Field rules common to all")."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.credit.conftest import _department
from tests.credit.factories import ingest, penalty, uscc
from tests.public.conftest import PUBLIC_DB, _batches_in_process

pytestmark = pytest.mark.django_db(transaction=True, databases=PUBLIC_DB)  # the public role sees committed rows

SPELLINGS = ["湘环罚〔2026〕41290024号", "湘环罚[2026]41290024号", "湘环罚（2026）41290024号",
             "湘环罚(2026)41290024号", " 湘环罚〔2026〕41290024 号"]


def test_five_spellings_are_one_penalty_on_the_page_and_in_the_api(client, tmp_path):
    decided = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    with _batches_in_process(tmp_path):
        sthj = _department("HN-STHJ", ["admin_penalty"])
        counts = [ingest(sthj, "admin_penalty", [penalty(no, 1, decided_on=decided, content=content)], f"b{i}").counts
                  for i, (no, content) in enumerate(zip(SPELLINGS, ["警告"] * 4 + ["警告并责令改正"], strict=True))]
    assert [(c["created"], c["unchanged"], c["updated"]) for c in counts] == [(1, 0, 0)] + [(0, 1, 0)] * 3 + [
        (0, 0, 1)]

    body = client.get(f"/api/v1/public/subjects/{uscc(1)}").json()
    assert [(r["fields"]["decision_no"], r["fields"]["content"]) for r in body["records"]["admin_penalty"]] == [
        ("湘环罚〔2026〕41290024 号", "警告并责令改正")]  # the latest version's spelling, trimmed
    assert body["penalties"] == 1
    html = client.get(f"/subjects/{uscc(1)}").content.decode()
    assert "行政处罚（1 条）" in html and html.count("41290024") == 1
    found = client.get("/api/v1/public/subjects", {"q": uscc(1)}).json()["results"]
    assert [r["penalties"] for r in found] == [1]
