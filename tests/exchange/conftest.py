"""Exchange fixtures: the demo departments with their demo keys, a throwaway platform key dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / "fixtures" / "keys"


def demo_private_key(keyid: str):
    return serialization.load_pem_private_key((KEYS / f"{keyid}.pem").read_bytes(), password=None)


@pytest.fixture(autouse=True)
def platform_key_dir(settings, tmp_path_factory):
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path_factory.getbasetemp() / "platform-keys"
    settings.BATCH_STORAGE_DIR = tmp_path_factory.getbasetemp() / "batches"
    return settings.PLATFORM_SIGNING_KEY_DIR


def _department(code, name, write, read, keyid):
    from exchange.services.departments import department_key_add, department_register

    department = department_register(code=code, name=name, write=write, read=read).obj
    department_key_add(department_code=code, keyid=keyid, public_key_pem=(KEYS / f"{keyid}.pub.pem").read_bytes())
    return department


@pytest.fixture
def scjg(db):
    """HN-SCJG: writes registration/licences/penalties, reads everything."""
    return _department("HN-SCJG", "湖南省市场监督管理局", ["registration", "admin_license", "admin_penalty"],
                       ["registration", "admin_license", "admin_penalty", "red_list", "black_list"], "hn-scjg-2026")


@pytest.fixture
def gy(db):
    """HN-GY: writes and reads black_list only (plus registration)."""
    return _department("HN-GY", "湖南省高级人民法院", ["black_list"], ["registration", "black_list"], "hn-gy-2026")
