"""register_department / add_department_key: the operator CLI (idempotent, clear errors)."""

from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from exchange.models import Department, DepartmentKey

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def public_pem(tmp_path: Path, name: str = "key.pub.pem") -> Path:
    key = Ed25519PrivateKey.generate().public_key()
    path = tmp_path / name
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def test_register_department_then_again_changes_nothing():
    first = run("register_department", "HN-SCJG", "--name", "湖南省市场监督管理局",
                "--write", "registration,admin_penalty", "--read", "registration")
    again = run("register_department", "HN-SCJG", "--name", "湖南省市场监督管理局",
                "--write", "admin_penalty,registration", "--read", "registration")
    assert "registered" in first and "unchanged" in again
    d = Department.objects.get()
    assert (d.write_categories, d.read_categories) == (["admin_penalty", "registration"], ["registration"])


def test_register_department_updates_grants():
    run("register_department", "HN-SWJ", "--name", "税务局", "--write", "red_list")
    out = run("register_department", "HN-SWJ", "--name", "税务局", "--write", "red_list,black_list",
              "--read", "registration")
    assert "updated" in out
    assert Department.objects.get().write_categories == ["black_list", "red_list"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["hn-lower", "--name", "x"], "A–Z"),
        (["HN-X", "--name", "  "], "must not be empty"),
        (["HN-X", "--name", "x", "--write", "registration,penalties"], "unknown category: penalties"),
    ],
)
def test_register_department_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run("register_department", *args)
    assert not Department.objects.exists()


def test_add_key_is_idempotent_and_refuses_a_different_key_under_the_same_keyid(tmp_path):
    run("register_department", "HN-GY", "--name", "法院", "--write", "black_list")
    pem = public_pem(tmp_path)
    assert "added" in run("add_department_key", "HN-GY", "--keyid", "hn-gy-1", "--public-key-file", str(pem))
    assert "unchanged" in run("add_department_key", "HN-GY", "--keyid", "hn-gy-1", "--public-key-file", str(pem))
    other = public_pem(tmp_path, "other.pem")
    with pytest.raises(CommandError, match="different key"):
        run("add_department_key", "HN-GY", "--keyid", "hn-gy-1", "--public-key-file", str(other))
    assert DepartmentKey.objects.count() == 1
    assert len(bytes(DepartmentKey.objects.get().public_key)) == 32


def test_add_key_refuses_another_departments_keyid(tmp_path):
    run("register_department", "HN-A", "--name", "甲")
    run("register_department", "HN-B", "--name", "乙")
    pem = public_pem(tmp_path)
    run("add_department_key", "HN-A", "--keyid", "shared", "--public-key-file", str(pem))
    with pytest.raises(CommandError, match="another department"):
        run("add_department_key", "HN-B", "--keyid", "shared", "--public-key-file", str(pem))


@pytest.mark.parametrize("content, message", [
    (b"not a key", "not a PEM public key"),
    (None, "must be an Ed25519 public key"),
])
def test_add_key_refuses_what_is_not_an_ed25519_public_key(tmp_path, content, message):
    from cryptography.hazmat.primitives.asymmetric import ec

    run("register_department", "HN-A", "--name", "甲")
    if content is None:
        content = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "k.pem"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run("add_department_key", "HN-A", "--keyid", "k1", "--public-key-file", str(path))
    assert not DepartmentKey.objects.exists()


def test_add_key_for_unknown_department_or_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no department 'HN-NONE'"):
        run("add_department_key", "HN-NONE", "--keyid", "k1", "--public-key-file", str(public_pem(tmp_path)))
    with pytest.raises(CommandError, match="cannot read"):
        run("add_department_key", "HN-NONE", "--keyid", "k1", "--public-key-file", str(tmp_path / "missing.pem"))


def test_bad_keyid_is_refused(tmp_path):
    run("register_department", "HN-A", "--name", "甲")
    with pytest.raises(CommandError, match="keyid"):
        run("add_department_key", "HN-A", "--keyid", "has space", "--public-key-file", str(public_pem(tmp_path)))
