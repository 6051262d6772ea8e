"""The demo departments' keys (fixtures/departments.yaml): an Ed25519 pair per keyid, made once per checkout in
settings.DEMO_KEY_DIR (var/demo-keys/) and never committed, since a published private key lets anyone sign as
its department."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings


def demo_key_files(keyid: str) -> tuple[Path, Path]:
    """The private key (PKCS#8 PEM, 0600) and public key (SubjectPublicKeyInfo PEM) of a demo keyid, made
    when missing. Processes racing to make one all end with the same pair: the first file to be linked in
    place wins, and the public key is always derived from the private key that won."""
    directory = Path(settings.DEMO_KEY_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private, public = directory / f"{keyid}.pem", directory / f"{keyid}.pub.pem"
    if not private.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        _publish(private, pem)
    if not public.exists():
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        _publish(public, key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def _publish(path: Path, content: bytes) -> None:
    """Write `content` to a new 0600 file beside `path` and link it there, unless another process was first."""
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.unlink(missing_ok=True)  # left by a process of this pid that died while writing
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
