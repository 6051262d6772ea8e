"""`POST subjects/lookup` (exchange-protocol §8): a natural person by a signed JSON body (the ID number never in a
URL), answered like `subjects/{code}` with the same readable categories and authorised rows; 404 when nothing
readable exists; 400 problems for a malformed body or an invalid ID number, which is never echoed back."""

from __future__ import annotations

import json

import pytest

from tests.credit.factories import id_number, ingest, penalty
from tests.exchange.conftest import SignedClient, _department

pytestmark = pytest.mark.django_db
LOOKUP = "/api/v1/exchange/subjects/lookup"
JSON = "application/json"


def lookup(as_dept, body: dict | bytes, path: str = LOOKUP):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return as_dept.post(path, data, JSON)


@pytest.fixture
def person(scjg):
    """李四, known by two penalties of HN-SCJG, one of them for authorised use only."""
    number = id_number(3)
    row = {"subject_name": "李四", "subject_type": "natural_person", "id_type": "resident_id", "id_number": number}
    ingest(scjg, "admin_penalty", [penalty("湘罚〔2026〕8号", None, **row),
                                   penalty("湘罚〔2026〕9号", None, usage_scope="authorized", **row)], "person")
    return number


@pytest.fixture
def as_sthj(client):
    _department("HN-STHJ", "湖南省生态环境厅", ["admin_penalty"], ["admin_penalty"], "hn-sthj-2026")
    return SignedClient(client, "hn-sthj-2026")


def test_a_person_is_found_by_a_signed_body_with_the_number_masked(as_scjg, person):
    answer = lookup(as_scjg, {"id_type": "resident_id", "id_number": person.lower()})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["subject"]["kind"], body["subject"]["name"]) == ("natural_person", "李四")
    assert body["subject"]["id_number"] == person[:4] + "*" * 10 + person[-4:]
    assert sorted(r["natural_key"][-2:] for r in body["records"]["admin_penalty"]) == ["8号", "9号"]
    assert [v["version"] for v in body["records"]["admin_penalty"][0]["versions"]] == [1]
    assert person not in answer.content.decode()
    assert "registration" not in body["subject"]


def test_the_same_filters_as_subjects_code(as_sthj, as_gy, person):
    other = lookup(as_sthj, {"id_type": "resident_id", "id_number": person})
    assert other.status_code == 200
    assert [r["natural_key"][-2:] for r in other.json()["records"]["admin_penalty"]] == ["8号"]
    # HN-GY reads registrations and black lists only: nothing of this person is readable, not even that it exists
    nothing = lookup(as_gy, {"id_type": "resident_id", "id_number": person})
    assert (nothing.status_code, nothing.json()["code"]) == (404, "not_found")


def test_an_unknown_person_is_not_found(as_scjg, person):
    answer = lookup(as_scjg, {"id_type": "resident_id", "id_number": id_number(4)})
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_an_invalid_id_number_is_a_problem_that_does_not_echo_it(as_scjg, person):
    wrong = person[:-1] + ("0" if person[-1] != "0" else "1")
    answer = lookup(as_scjg, {"id_type": "resident_id", "id_number": wrong})
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_id_number")
    assert "校验码" in answer.json()["detail"] and wrong not in answer.content.decode()


@pytest.mark.parametrize("body, code", [
    (b"{not json", "malformed_body"),
    (b'["resident_id"]', "invalid_request"),
    ({"id_type": "resident_id"}, "invalid_request"),
    ({"id_type": "driving_licence", "id_number": "430102198001011234"}, "invalid_request"),
    ({"id_type": "resident_id", "id_number": "x" * 65}, "invalid_request"),
])
def test_a_malformed_body_is_a_400_problem(as_scjg, body, code):
    answer = lookup(as_scjg, body)
    assert (answer.status_code, answer.json()["code"]) == (400, code)


def test_the_lookup_pages_like_subjects_code(as_scjg, person):
    answer = lookup(as_scjg, {"id_type": "resident_id", "id_number": person}, LOOKUP + "?category=admin_penalty")
    assert list(answer.json()["records"]) == ["admin_penalty"] and answer.json()["next_cursors"] == {
        "admin_penalty": None}
