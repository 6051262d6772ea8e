"""An RFC 9421 signer written from the RFC text alone (no http-message-signatures):
if the platform accepts what this signs, the two agree on the signature base."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def content_digest(body: bytes) -> str:  # RFC 9530 §2: sha-256 as a structured-field byte sequence
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def component_value(name: str, method: str, url: str, headers: dict[str, str]) -> str:
    parts = urlsplit(url)
    if name == "@method":  # §2.2.1
        return method.upper()
    if name == "@authority":  # §2.2.3: host[:port], lower case, default port omitted
        host = parts.hostname.lower()
        default = {"http": 80, "https": 443}[parts.scheme]
        return host if parts.port in (None, default) else f"{host}:{parts.port}"
    if name == "@path":  # §2.2.6: "/" when empty
        return parts.path or "/"
    if name == "@query":  # §2.2.7: "?" + query; "?" alone when there is none
        return "?" + parts.query
    lowered = {k.lower(): v for k, v in headers.items()}  # §2.1: field name lower case, value trimmed
    return lowered[name].strip()


def signature_params(components: list[str], params: list[tuple[str, object]]) -> str:
    inner = "(" + " ".join(f'"{c}"' for c in components) + ")"  # §2.3: an inner list of sf-strings
    for key, value in params:
        inner += f";{key}=" + (str(value) if isinstance(value, int) else f'"{value}"')
    return inner


def signature_base(method: str, url: str, headers: dict[str, str], components: list[str], params_value: str) -> bytes:
    lines = [f'"{name}": {component_value(name, method, url, headers)}' for name in components]  # §2.5
    lines.append(f'"@signature-params": {params_value}')
    return "\n".join(lines).encode("ascii")


def sign(*, method: str, url: str, headers: dict[str, str], components: list[str], key: Ed25519PrivateKey,
         params: list[tuple[str, object]], label: str = "indep") -> dict[str, str]:
    """The Signature-Input and Signature fields (§4.1, §4.2) for this request."""
    params_value = signature_params(components, params)
    signature = key.sign(signature_base(method, url, headers, components, params_value))  # §3.3.6: Ed25519 over base
    return {"Signature-Input": f"{label}={params_value}",
            "Signature": f"{label}=:{base64.b64encode(signature).decode()}:"}
