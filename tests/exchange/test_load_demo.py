"""manage.py load_demo: demo departments with key pairs made for this checkout, only on an empty platform."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.core.management import call_command

from exchange.models import Batch, Department, DepartmentKey

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS = yaml.safe_load((ROOT / "fixtures" / "departments.yaml").read_text(encoding="utf-8"))

pytestmark = pytest.mark.django_db


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_demo_departments_get_key_pairs_made_for_this_checkout(settings, tmp_path):
    settings.DEMO_KEY_DIR = tmp_path / "demo-keys"
    load_demo()
    for department in DEPARTMENTS:
        private = settings.DEMO_KEY_DIR / f"{department['keyid']}.pem"
        assert private.stat().st_mode & 0o777 == 0o600
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert bytes(DepartmentKey.objects.get(keyid=department["keyid"]).public_key) == raw
    assert Batch.objects.count() == 6


def test_nothing_is_loaded_into_a_platform_that_has_departments(settings, tmp_path):
    from exchange.services.departments import department_register

    settings.DEMO_KEY_DIR = tmp_path / "demo-keys"
    department_register(code="HN-REAL", name="真实的部门", write=["red_list"], read=["red_list"])
    assert "demo data not loaded" in load_demo()
    assert list(Department.objects.values_list("code", flat=True)) == ["HN-REAL"]
    assert not Batch.objects.exists() and not DepartmentKey.objects.exists()
    assert not get_user_model().objects.filter(username="operator").exists()
    assert not settings.DEMO_KEY_DIR.exists()


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_no_demo_private_key_is_committed():
    tracked = subprocess.run(["git", "grep", "-l", "PRIVATE KEY-----", "--", "fixtures"], cwd=ROOT,
                             capture_output=True, text=True)
    assert tracked.stdout == ""


def test_the_demo_operator_signs_in_with_the_password_and_totp_key_of_var_secrets(settings, tmp_path):
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from config.env import secret

    settings.DEMO_KEY_DIR = tmp_path / "demo-keys"
    load_demo()
    operator = get_user_model().objects.get(username="operator")
    assert operator.check_password(secret("DEMO_OPERATOR_PASSWORD"))
    device = TOTPDevice.objects.get(user=operator)
    assert device.key == secret("DEMO_OPERATOR_TOTP_KEY")
    assert device.verify_token(f"{TOTP(bytes.fromhex(secret('DEMO_OPERATOR_TOTP_KEY'))).token():06d}")
