"""`usage_scope = authorized` rows as departments see them once the subject authorises one (portal.md §5,
exchange-protocol §8): in `subjects/{code}`, `subjects/lookup` and `changes`, for the authorised department
only, from the grant on, and no more from the moment it is revoked or its last day has passed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from credit.authorizations import authorization_grant, authorization_revoke
from credit.models import Authorization, Subject
from tests.credit.factories import id_number, ingest, penalty, uscc
from tests.exchange.conftest import SignedClient, _department

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_sthj(client):
    _department("HN-STHJ", "湖南省生态环境厅", ["admin_penalty"], ["admin_penalty"], "hn-sthj-2026")
    return SignedClient(client, "hn-sthj-2026")


@pytest.fixture
def as_swj(client):
    _department("HN-SWJ", "国家税务总局湖南省税务局", ["admin_penalty"], ["admin_penalty"], "hn-swj-2026")
    return SignedClient(client, "hn-swj-2026")


@pytest.fixture
def company(scjg):
    """Company 1: a public penalty and one for authorised use only, both of HN-SCJG; company 2 one of each too."""
    ingest(scjg, "admin_penalty", [penalty("P-PUBLIC", 1), penalty("P-AUTH", 1, usage_scope="authorized"),
                                   penalty("Q-AUTH", 2, usage_scope="authorized")], "own")
    return Subject.objects.get(uscc=uscc(1))


def subject_keys(as_dept, code: str) -> list[str]:
    answer = as_dept.get(f"/api/v1/exchange/subjects/{code}?category=admin_penalty")
    return sorted(r["natural_key"] for r in answer.json()["records"]["admin_penalty"])


def feed_keys(as_dept) -> list[str]:
    return [i["natural_key"] for i in as_dept.get("/api/v1/exchange/changes?category=admin_penalty").json()["results"]]


def grant(subject, code: str, until: dt.date | None = None) -> Authorization:
    return authorization_grant(subject=subject, department_code=code, until=until or timezone.localdate(),
                               granted_by="portal:张三")


def test_without_an_authorisation_no_other_department_sees_them(as_sthj, company):
    assert subject_keys(as_sthj, uscc(1)) == ["P-PUBLIC"]
    assert feed_keys(as_sthj) == ["P-PUBLIC"]


def test_an_authorised_department_sees_them_the_others_do_not(as_sthj, as_swj, company):
    grant(company, "HN-STHJ")
    assert subject_keys(as_sthj, uscc(1)) == ["P-AUTH", "P-PUBLIC"]
    assert feed_keys(as_sthj) == ["P-PUBLIC", "P-AUTH"]  # not company 2's: it authorised nobody
    history = as_sthj.get(f"/api/v1/exchange/subjects/{uscc(1)}?category=admin_penalty").json()
    authorised = next(r for r in history["records"]["admin_penalty"] if r["natural_key"] == "P-AUTH")
    assert [v["version"] for v in authorised["versions"]] == [1]
    assert subject_keys(as_swj, uscc(1)) == ["P-PUBLIC"]
    assert feed_keys(as_swj) == ["P-PUBLIC"]


def test_revocation_takes_effect_at_once(as_sthj, company):
    authorization = grant(company, "HN-STHJ", timezone.localdate() + dt.timedelta(days=30))
    assert subject_keys(as_sthj, uscc(1)) == ["P-AUTH", "P-PUBLIC"]
    authorization_revoke(subject=company, authorization_id=authorization.pk)
    assert subject_keys(as_sthj, uscc(1)) == ["P-PUBLIC"]
    assert feed_keys(as_sthj) == ["P-PUBLIC"]


def test_an_authorisation_holds_through_its_last_day_and_not_after(as_sthj, company):
    authorization = grant(company, "HN-STHJ", timezone.localdate())
    assert subject_keys(as_sthj, uscc(1)) == ["P-AUTH", "P-PUBLIC"]
    Authorization.objects.filter(pk=authorization.pk).update(until=timezone.localdate() - dt.timedelta(days=1))  # a day later
    assert subject_keys(as_sthj, uscc(1)) == ["P-PUBLIC"]
    assert feed_keys(as_sthj) == ["P-PUBLIC"]


def test_only_categories_the_department_may_read(as_gy, company):
    grant(company, "HN-GY")
    answer = as_gy.get(f"/api/v1/exchange/subjects/{uscc(1)}").json()
    assert "admin_penalty" not in answer["records"]
    assert as_gy.get("/api/v1/exchange/changes?category=admin_penalty").status_code == 403


def test_a_person_found_by_lookup_shows_them_only_while_authorised(as_sthj, scjg):
    number = id_number(3)
    row = {"subject_name": "李四", "subject_type": "natural_person", "id_type": "resident_id", "id_number": number}
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕8号", None, **row),
                                   penalty("湘罚〔2026〕9号", None, usage_scope="authorized", **row)], "person")
    person = Subject.objects.get(name="李四")

    def looked_up() -> list[str]:
        body = json.dumps({"id_type": "resident_id", "id_number": number}).encode()
        answer = as_sthj.post("/api/v1/exchange/subjects/lookup", body, "application/json").json()
        return sorted(r["natural_key"][-2:] for r in answer["records"]["admin_penalty"])

    assert looked_up() == ["8号"]
    authorization = grant(person, "HN-STHJ")
    assert looked_up() == ["8号", "9号"]
    authorization_revoke(subject=person, authorization_id=authorization.pk)
    assert looked_up() == ["8号"]


def test_grant_refuses_an_unknown_department_and_a_past_or_far_date(company):
    from credit.refusals import Invalid

    for code, until, expected in [("HN-NOPE", timezone.localdate(), "unknown_department"),
                                  ("HN-SCJG", timezone.localdate() - dt.timedelta(days=1), "invalid_until"),
                                  ("HN-SCJG", timezone.localdate() + dt.timedelta(days=6 * 366), "invalid_until")]:
        with pytest.raises(Invalid) as refused:
            grant(company, code, until)
        assert refused.value.code == expected
    assert not Authorization.objects.exists()
