"""portal.md §1: a token or session of one subject never reaches another subject's data. The walk takes every
route under /portal/ and /api/v1/portal/ from the URLconf in use (so a route added later is walked too),
gives the first enterprise an object of every kind (objection with evidence, repair request, authorisation,
credit report) and requests each route, with every method, as the second enterprise: a route naming one of
the first's objects answers 404 (or 405 for a method it does not serve), and no answer, page or JSON,
carries anything of the first's (name, USCC, object ids, report number, the words it filed, where its
evidence is stored). A route whose id the walk has no object for fails the test until one is added here."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from PIL import Image

from credit.models import Authorization, CreditReport, Objection, Record, RepairRequest, Subject
from portal.reports import report_issue
from portal.workflows import portal_authorization_grant, portal_objection_file
from tests.portal.conftest import bearer, make_account
from tests.portal.test_pages import sign_in

pytestmark = pytest.mark.django_db

PREFIXES = ("portal/", "api/v1/portal/")
METHODS = ("get", "post", "put", "patch", "delete")
OBJECTION_REASON = "甲企业的异议：处罚决定书记载的违法事实有误。"
REPAIR_REASON = "甲企业已按期整改完毕，申请信用修复。"


def portal_routes() -> list[str]:
    """Every route under the portal's prefixes (`portal/objections/<int:objection_pk>`), read from the URLconf."""
    def walk(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route

    return [route for route in walk(get_resolver().url_patterns, "") if route.startswith(PREFIXES)]


ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
# the public scope reads as the public site does, on a connection of its own that sees committed rows only
QUERY = {"api/v1/portal/report": "?scope=own"}


@pytest.fixture
def distinctive_ids(db):
    """Each table's ids far from every other's and from any small number an answer holds (versions, counts,
    dates), so an id of the first enterprise's found in an answer is a leak, not a coincidence. ALTER
    SEQUENCE is transactional: the test's rollback undoes it."""
    with connection.cursor() as cursor:
        for n, model in enumerate((Record, Subject, Objection, RepairRequest, Authorization, CreditReport), 41):
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
            cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} RESTART WITH {n * 1_000_000 + 1}")


@pytest.fixture
def firsts_objects(distinctive_ids, enterprises):
    """One object of every kind of the first enterprise's, made through the portal's own services."""
    first, _ = enterprises
    account = make_account(first.uscc, "first@example.cn")
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(png, format="PNG")
    objection = portal_objection_file(account=account.account, ip="192.0.2.1", record_id=first.records["P-PUBLIC"],
                                      reason=OBJECTION_REASON, evidence=png.getvalue())
    repair = RepairRequest.objects.create(record_id=first.records["P-PUBLIC"], subject=first.subject,
                                          filed_by=first.name, reason=REPAIR_REASON, commitment=True)
    authorization = portal_authorization_grant(account=account.account, ip="192.0.2.1", department_code="HN-SCJG",
                                               until=timezone.localdate())
    report = report_issue(subject=first.subject, scope="own", issued_by=first.name).report
    return account, {"objection_pk": objection.pk, "repair_pk": repair.pk, "authorization_pk": authorization.pk,
                     "number": report.number}


def leaks(response, first, objects: dict, *, sent: int | None = None) -> list[str]:
    """What of the first enterprise's an answer (head and body) carries, besides the id `sent` in the request
    (a form refused is shown again as it was filled in)."""
    objection = Objection.objects.get(pk=objects["objection_pk"])
    text = str(dict(response.items())) + response.content.decode("utf-8", errors="replace")
    words = [first.name, first.uscc, first.subject.registration["registration_no"], objects["number"],
             OBJECTION_REASON, REPAIR_REASON, objection.evidence_path]
    ids = [first.subject.pk, *Record.objects.filter(subject=first.subject).values_list("id", flat=True),
           *(v for k, v in objects.items() if k.endswith("_pk"))]
    found = [w for w in words if w in text]
    found += [str(i) for i in ids if i != sent and re.search(rf"(?<![0-9A-Za-z]){i}(?![0-9A-Za-z])", text)]
    return found


def test_every_portal_route_answers_the_second_enterprise_nothing_of_the_firsts(distinctive_ids, client, enterprises,
                                                                                 firsts_objects):
    first, second = enterprises
    account, objects = firsts_objects
    mine = bearer(client, account)
    theirs = bearer(client, make_account(second.uscc, "second@example.cn"))
    second_pages = Client()
    assert sign_in(second_pages, make_account(second.uscc, "second-web@example.cn")).status_code == 302
    open_objection = Objection.objects.get(pk=objects["objection_pk"])
    before = {model: model.objects.filter(subject=first.subject).count()
              for model in (Objection, RepairRequest, Authorization, CreditReport)}

    routes = portal_routes()
    assert {"portal/records", "portal/authorizations/<int:authorization_pk>/revoke",
            "api/v1/portal/objections/<int:objection_pk>", "api/v1/portal/reports/<str:number>"} <= set(routes)
    verified = set()
    for route in routes:
        names = ROUTE_PARAMETER.findall(route)
        missing = [n for n in names if n not in objects]
        if missing:
            pytest.fail(f"{route}: the walk has no object of the first enterprise for {missing}; add one to "
                        "firsts_objects")
        path = "/" + ROUTE_PARAMETER.sub(lambda m: str(objects[m.group(1)]), route) + QUERY.get(route, "")
        as_second, headers = (client, theirs) if route.startswith("api/") else (second_pages, {})
        if not names:  # the second's own pages and listings: nothing of the first's in them
            response = as_second.get(path, **headers)
            assert response.status_code < 500, (path, response.status_code)
            assert leaks(response, first, objects) == [], path
            continue
        statuses = {}
        for method in METHODS:
            response = getattr(as_second, method)(path, **headers)
            statuses[method] = response.status_code
            assert response.status_code in (404, 405), (method, path, response.status_code)
            assert leaks(response, first, objects) == [], (method, path)
        assert 404 in statuses.values(), (path, statuses)
        if route.startswith("api/") and statuses["get"] == 404:  # the id is the first's, live: it reads it
            assert client.get(path, **mine).status_code == 200, path
            verified.update(names)
    assert verified == set(objects), "every object walked was read by its own enterprise at least once"

    # naming the first's record in a form or a body files nothing either
    record = first.records["P-PUBLIC"]
    for path in ("objections", "repairs"):
        body = {"record": record, "reason": "乙企业对这条记录提出异议，请核实。", "commitment": True}
        response = client.post("/api/v1/portal/" + path, body, content_type="application/json", **theirs)
        assert response.status_code == 404 and leaks(response, first, objects) == [], path
        response = second_pages.post("/portal/" + path, {**body, "commitment": "true"})
        assert response.status_code == 404 and leaks(response, first, objects, sent=record) == [], path
    assert {model: model.objects.filter(subject=first.subject).count() for model in before} == before
    assert Authorization.objects.get(pk=objects["authorization_pk"]).revoked_at is None
    open_objection.refresh_from_db()
    assert open_objection.status == "open"
