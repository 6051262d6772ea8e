"""Exchange fixtures: the demo departments with their demo keys (exchange/demo_keys.py), a throwaway platform
key dir."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from exchange.demo_keys import demo_key_files


def demo_private_key(keyid: str):
    private, _public = demo_key_files(keyid)
    return serialization.load_pem_private_key(private.read_bytes(), password=None)


@pytest.fixture(autouse=True)
def platform_key_dir(settings, tmp_path_factory, tmp_path):
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path_factory.getbasetemp() / "platform-keys"
    settings.BATCH_STORAGE_DIR = tmp_path / "batches"  # per test: "nothing was stored" is checkable
    return settings.PLATFORM_SIGNING_KEY_DIR


def _department(code, name, write, read, keyid):
    from exchange.services.departments import department_key_add, department_register

    department = department_register(code=code, name=name, write=write, read=read).obj
    _private, public = demo_key_files(keyid)
    department_key_add(department_code=code, keyid=keyid, public_key_pem=public.read_bytes())
    return department


@pytest.fixture
def enqueued(monkeypatch):
    """The batches handed to the pipeline (after commit), recorded instead of sent to the broker."""
    calls = []
    monkeypatch.setattr("ingest.handoff.batch_enqueue", lambda *, batch_id: calls.append(batch_id))
    return calls


@pytest.fixture
def scjg(db):
    """HN-SCJG: writes registration/licences/penalties, reads everything."""
    return _department("HN-SCJG", "湖南省市场监督管理局", ["registration", "admin_license", "admin_penalty"],
                       ["registration", "admin_license", "admin_penalty", "red_list", "black_list"], "hn-scjg-2026")


@pytest.fixture
def gy(db):
    """HN-GY: writes and reads black_list only (plus registration)."""
    return _department("HN-GY", "湖南省高级人民法院", ["black_list"], ["registration", "black_list"], "hn-gy-2026")


class SignedClient:
    """Django's test client, signing every request as a department would (exchange.signatures)."""

    def __init__(self, client, keyid: str):
        self.client, self.keyid = client, keyid
        self.key = demo_private_key(keyid)

    def headers_for(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                    **sign_kwargs) -> dict[str, str]:
        from exchange.signatures import content_digest, sign_request

        headers = {"Content-Type": content_type} if content_type else {}
        return sign_request(method=method, url=f"http://testserver{path}", headers=headers, private_key=self.key,
                            keyid=sign_kwargs.pop("keyid", self.keyid),
                            body_digest=content_digest(body) if body is not None else None, **sign_kwargs)

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                headers: dict | None = None, send_body: bytes | None = None, **sign_kwargs):
        signed = headers if headers is not None else self.headers_for(method, path, body, content_type, **sign_kwargs)
        signed = {k: v for k, v in signed.items() if k.lower() != "content-type"}
        data = send_body if send_body is not None else (body or b"")
        return self.client.generic(method, path, data=data, content_type=content_type or "", headers=signed)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body: bytes, content_type: str, **kw):
        return self.request("POST", path, body=body, content_type=content_type, **kw)


@pytest.fixture
def as_scjg(client, scjg):
    return SignedClient(client, "hn-scjg-2026")


@pytest.fixture
def as_gy(client, gy):
    return SignedClient(client, "hn-gy-2026")
