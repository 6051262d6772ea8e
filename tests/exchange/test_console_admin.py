"""The operators' console (exchange/admin.py, credit/admin.py, ops/console.py): signing in takes a TOTP
token; what a staff account may do comes from its group; evidence is read-only for everyone."""

from __future__ import annotations

import io

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP

from credit.models import Record
from exchange.exchange_log import log_append, log_lock
from exchange.models import Batch, Department, DepartmentKey, ExchangeLogEntry
from exchange.services.batches import batch_receive
from ops.operators import operator_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("console_groups")]
CHANGES = "/api/v1/exchange/changes"
PASSWORD = "correct horse battery staple"


def token(new_operator) -> str:
    return f"{TOTP(new_operator.device.bin_key).token():06d}"


def console(username: str, *groups: str, superuser: bool = False) -> Client:
    """A browser signed in to the console the way a person does: password and the current TOTP token."""
    new = operator_create(username=username, password=PASSWORD, groups=list(groups), superuser=superuser)
    client = Client()
    answer = client.post("/admin/login/", {"username": username, "password": PASSWORD, "otp_token": token(new),
                                           "next": "/admin/"})
    assert answer.status_code == 302, answer.context["form"].errors if answer.context else answer.status_code
    assert client.get("/admin/").status_code == 200
    return client


def key_pk() -> int:
    return DepartmentKey.objects.get(keyid="hn-scjg-2026").pk


def test_a_password_without_the_token_does_not_open_the_console(scjg):
    new = operator_create(username="ops", password=PASSWORD, groups=["viewer"])
    client = Client()
    for otp_token in ("", "000000" if token(new) != "000000" else "111111"):
        answer = client.post("/admin/login/", {"username": "ops", "password": PASSWORD, "otp_token": otp_token})
        assert answer.status_code == 200  # the form again, with an error
        assert client.get("/admin/").status_code == 302  # to the login page
    assert client.get(reverse("admin:exchange_departmentkey_revoke", args=[key_pk()])).status_code == 302


def test_a_viewer_cannot_revoke_a_key_a_key_manager_can_and_the_next_signed_request_is_refused(as_scjg):
    viewer = console("viewer1", "viewer")
    page = viewer.get(reverse("admin:exchange_departmentkey_change", args=[key_pk()]))
    assert page.status_code == 200 and "吊销该密钥" not in page.content.decode()
    revoke_url = reverse("admin:exchange_departmentkey_revoke", args=[key_pk()])
    assert viewer.get(revoke_url).status_code == 403
    assert viewer.post(revoke_url, {"reason": "试试看"}).status_code == 403
    assert DepartmentKey.objects.get(pk=key_pk()).revoked_at is None
    assert as_scjg.get(CHANGES).status_code == 200

    manager = console("keys1", "key_manager")
    page = manager.get(reverse("admin:exchange_departmentkey_change", args=[key_pk()]))
    assert "吊销该密钥" in page.content.decode()
    assert manager.post(revoke_url, {"reason": "  "}).status_code == 200  # a reason is required: asked again
    assert DepartmentKey.objects.get(pk=key_pk()).revoked_at is None
    assert manager.post(revoke_url, {"reason": "私钥随旧服务器报废"}).status_code == 302

    refused = as_scjg.get(CHANGES)
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"
    entry = ExchangeLogEntry.objects.get(kind="department_key_revoked")
    assert (entry.payload["keyid"], entry.payload["reason"], entry.payload["by"]) == (
        "hn-scjg-2026", "私钥随旧服务器报废", "keys1")
    page = manager.get(reverse("admin:exchange_departmentkey_change", args=[key_pk()])).content.decode()
    assert "keys1" in page and "私钥随旧服务器报废" in page


def test_an_operator_deactivates_a_department_with_a_reason_and_a_viewer_cannot(as_scjg):
    department = Department.objects.get(code="HN-SCJG")
    url = reverse("admin:exchange_department_deactivate", args=[department.pk])
    assert console("viewer1", "viewer").post(url, {"reason": "机构改革"}).status_code == 403
    operator = console("op1", "operator")
    assert operator.post(url, {"reason": "机构改革"}).status_code == 302
    assert not Department.objects.get(pk=department.pk).active
    entry = ExchangeLogEntry.objects.get(kind="department_deactivated")
    assert entry.payload == {"reason": "机构改革", "by": "op1"}
    refused = as_scjg.get(CHANGES)
    assert refused.status_code == 401 and refused.json()["code"] == "department_inactive"


def test_an_operator_edits_grants_through_the_catalog_check(scjg):
    operator = console("op1", "operator")
    url = reverse("admin:exchange_department_change", args=[scjg.pk])
    answer = operator.post(url, {"name": scjg.name, "write_categories": "red_list,no_such_category",
                                 "read_categories": "red_list"})
    assert answer.status_code == 200 and "no_such_category" in answer.content.decode()
    assert Department.objects.get(pk=scjg.pk).write_categories == scjg.write_categories
    assert operator.post(url, {"name": scjg.name, "write_categories": "red_list,admin_penalty",
                               "read_categories": "red_list"}).status_code == 302
    assert Department.objects.get(pk=scjg.pk).write_categories == ["admin_penalty", "red_list"]
    viewer = console("viewer1", "viewer")
    assert viewer.post(url, {"name": "改名", "write_categories": "", "read_categories": ""}).status_code == 403


def stored_batch(department) -> Batch:
    body = "统一社会信用代码,名称\n91430100MA4L12346D,甲公司\n".encode()
    batch, _ = batch_receive(department=department, category="admin_penalty", batch_id="console-1",
                             content_type="text/csv", body=io.BytesIO(body))
    return batch


def test_the_stored_bytes_go_only_to_staff_with_the_download_permission_and_each_download_is_logged(scjg):
    from django.contrib.auth.models import Permission

    batch = stored_batch(scjg)
    url = reverse("admin:exchange_batch_download", args=[batch.pk])
    operator = console("op1", "operator")
    page = operator.get(reverse("admin:exchange_batch_change", args=[batch.pk])).content.decode()
    assert "console-1" in page and url not in page
    assert operator.get(url).status_code == 403

    downloader = console("dl1", "viewer")
    downloader_user = downloader.get("/admin/").wsgi_request.user
    downloader_user.user_permissions.add(Permission.objects.get(codename="download_batch_file"))
    assert url in downloader.get(reverse("admin:exchange_batch_change", args=[batch.pk])).content.decode()
    answer = downloader.get(url)
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == "统一社会信用代码,名称\n91430100MA4L12346D,甲公司\n".encode()
    assert "attachment" in answer["Content-Disposition"]
    entry = ExchangeLogEntry.objects.get(kind="batch_file_downloaded")
    assert entry.payload == {"batch": batch.pk, "batch_id": "console-1", "by": "dl1"}


def test_evidence_is_read_only_even_for_a_superuser(scjg):
    batch = stored_batch(scjg)
    with transaction.atomic():
        log_lock()
        entry = log_append(kind="test_entry", payload={"n": 1})
    root = console("root1", superuser=True)
    for model, pk in (("exchange_batch", batch.pk), ("exchange_exchangelogentry", entry.pk)):
        assert root.get(reverse(f"admin:{model}_change", args=[pk])).status_code == 200
        assert root.post(reverse(f"admin:{model}_change", args=[pk]), {}).status_code == 403
        assert root.post(reverse(f"admin:{model}_delete", args=[pk]), {"post": "yes"}).status_code == 403
        assert root.get(reverse(f"admin:{model}_add")).status_code == 403
    for model in ("credit_record", "credit_subject", "credit_objection",
                  "exchange_batchrejection"):
        assert root.get(reverse(f"admin:{model}_add")).status_code == 403
    assert Batch.objects.filter(pk=batch.pk).exists() and ExchangeLogEntry.objects.filter(pk=entry.pk).exists()


def test_every_console_page_renders(scjg):
    stored_batch(scjg)
    root = console("root1", superuser=True)
    for name in ("exchange_department", "exchange_departmentkey", "exchange_batch", "exchange_batchrejection",
                 "exchange_exchangelogentry", "credit_subject", "credit_record", "credit_objection"):
        assert root.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert root.get(reverse("admin:exchange_department_change", args=[scjg.pk])).status_code == 200
    page = root.get(reverse("admin:platform_keys"))
    assert page.status_code == 200 and "平台签名密钥" in page.content.decode()
    assert not Record.objects.exists()


def test_verifying_the_chain_is_an_operators_action(scjg):
    with transaction.atomic():
        log_lock()
        entry = log_append(kind="test_entry", payload={"n": 1})
    changelist = reverse("admin:exchange_exchangelogentry_changelist")
    viewer = console("viewer1", "viewer")
    assert "verify_chain" not in viewer.get(changelist).content.decode()
    operator = console("op1", "operator")
    assert "verify_chain" in operator.get(changelist).content.decode()
    answer = operator.post(changelist, {"action": "verify_chain", "_selected_action": [entry.pk]}, follow=True)
    assert "日志链完整" in answer.content.decode()
    ExchangeLogEntry.objects.filter(pk=entry.pk).update(payload={"n": 2})
    answer = operator.post(changelist, {"action": "verify_chain", "_selected_action": [entry.pk]}, follow=True)
    assert "日志链在第" in answer.content.decode()
