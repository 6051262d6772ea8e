"""manage.py createoperator: a staff account in the console's groups with a TOTP device, whose provisioning
URI is printed; the console's groups come from a migration with what each may do."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("console_groups")]


def test_it_prints_the_provisioning_uri_of_the_new_device():
    out = io.StringIO()
    call_command("createoperator", "wang", "--group", "operator", "--group", "key_manager", password="pw-1234567",
                 stdout=out)
    user = get_user_model().objects.get(username="wang")
    assert user.is_staff and not user.is_superuser and user.check_password("pw-1234567")
    assert sorted(user.groups.values_list("name", flat=True)) == ["key_manager", "operator"]
    device = TOTPDevice.objects.get(user=user)
    uri = next(line for line in out.getvalue().splitlines() if line.startswith("otpauth://totp/"))
    assert uri == device.config_url
    assert parse_qs(urlparse(uri).query)["issuer"] == ["信用信息共享平台"]


def test_bad_input_is_refused_and_nothing_is_made():
    with pytest.raises(CommandError, match="at least one --group"):
        call_command("createoperator", "li", password="pw-1234567", stdout=io.StringIO())
    call_command("createoperator", "li", "--group", "viewer", password="pw-1234567", stdout=io.StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("createoperator", "li", "--group", "viewer", password="pw-1234567", stdout=io.StringIO())
    assert get_user_model().objects.count() == 1 and TOTPDevice.objects.count() == 1


def test_the_groups_may_do_what_they_are_for_and_nobody_changes_evidence():
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    viewer, operator, keys = codenames("viewer"), codenames("operator"), codenames("key_manager")
    assert {"view_record", "view_batch", "view_exchangelogentry", "view_departmentkey"} <= viewer
    assert not any(c.startswith(("add_", "change_", "delete_")) for c in viewer)
    assert "view_departmentscorecard" in viewer
    assert operator - viewer == {"change_department", "deactivate_department", "verify_exchange_log",
                                 "recompute_departmentscorecard"}
    assert keys - viewer == {"revoke_departmentkey"}
    for group in (viewer, operator, keys):
        assert "download_batch_file" not in group  # granted to chosen accounts only
