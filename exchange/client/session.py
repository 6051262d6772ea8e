"""Signed requests to the platform and checked responses, on the same signing code as the server."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.jws import jws_verify
from exchange.platform_keys import public_key_from_jwk
from exchange.signatures import digest_header, sign_request
from exchange.signatures.messages import Response
from exchange.signatures.verify import SignatureRefused, verify_response

PREFIX = "/api/v1/exchange/"


class ExchangeError(Exception):
    def __init__(self, message: str, *, status: int | None = None, problem: dict | None = None):
        super().__init__(message)
        self.status, self.problem = status, problem or {}


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ExchangeError(f"{path} is not an Ed25519 private key (PEM, PKCS#8)")
    return key


def file_digest(path: Path, progress=None) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            if progress is not None:
                progress.update(len(chunk))
    return digest_header(sha.digest())


class UploadStream:
    """A file read in chunks for requests (which sends it with Content-Length), reporting progress."""

    def __init__(self, path: Path, progress=None):
        self._fh, self._size, self._progress = open(path, "rb"), os.path.getsize(path), progress

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(size if size and size > 0 else 1 << 20)
        if self._progress is not None:
            self._progress.update(len(chunk))
        if not chunk:
            self._fh.close()
        return chunk


def _sent_again_if_dropped(send: Callable[[], requests.Response]) -> requests.Response:
    """send(), and once more if the connection failed before any answer came: the platform may close a kept-alive
    connection just as a request goes out on it, or a web process may be restarting. Sending again is safe:
    reads change nothing, a push is idempotent by its batch_id (200 with the batch the platform already has),
    and a decision that did arrive the first time is refused as already decided, never applied twice."""
    try:
        return send()
    except requests.ConnectionError:
        return send()


FINISHED = {"completed", "failed"}  # a batch in either status changes no more


class ExchangeSession:
    def __init__(self, *, url: str, keyid: str, private_key: Ed25519PrivateKey, verify_responses: bool = True,
                 timeout: float = 600):
        self.base, self.keyid, self.private_key = url.rstrip("/"), keyid, private_key
        self.http = requests.Session()
        self.verify_responses, self.timeout = verify_responses, timeout
        self._keys: dict | None = None

    def platform_keys(self, refresh: bool = False) -> dict:
        if self._keys is None or refresh:
            response = _sent_again_if_dropped(
                lambda: self.http.get(f"{self.base}/.well-known/jwks.json", timeout=self.timeout))
            response.raise_for_status()
            self._keys = {k["kid"]: public_key_from_jwk(k) for k in response.json()["keys"]}
        return self._keys

    def request(self, method: str, path: str, *, params: dict | None = None, body=None, body_digest: str | None = None,
                content_type: str | None = None, prefer: str | None = None) -> requests.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        if prefer:
            headers["Prefer"] = prefer
        if body is not None and body_digest is None:
            body_digest = digest_header(hashlib.sha256(body).digest())

        def send() -> requests.Response:  # signed anew each time: a nonce is used once
            prepared = self.http.prepare_request(requests.Request(method, f"{self.base}{PREFIX}{path}", params=params,
                                                                  headers=headers, data=body))
            prepared.headers.update(sign_request(method=method, url=prepared.url, headers=headers,
                                                 private_key=self.private_key, keyid=self.keyid,
                                                 body_digest=body_digest))
            return self.http.send(prepared, timeout=self.timeout)

        # a file being streamed cannot be sent a second time
        response = _sent_again_if_dropped(send) if body is None or isinstance(body, bytes) else send()
        if self.verify_responses:
            self.check_response(response)
        if response.status_code >= 400:
            problem = response.json() if "json" in response.headers.get("Content-Type", "") else {}
            raise ExchangeError(f"{response.status_code} {problem.get('code', '')}: {problem.get('detail', response.text)}",
                                status=response.status_code, problem=problem)
        return response

    def check_response(self, response: requests.Response) -> str:
        message = Response(response.status_code, dict(response.headers))
        try:
            return verify_response(message, response.content, self.platform_keys())
        except SignatureRefused as exc:
            if exc.code == "unknown_key":  # the platform may have rotated since we fetched its keys
                return verify_response(message, response.content, self.platform_keys(refresh=True))
            raise ExchangeError(f"the platform's response signature does not verify: {exc.detail}") from exc

    def batch_finished(self, batch_pk: int, *, wait_seconds: int = 20, pause: float = 2.0) -> dict:
        """The batch resource once the batch has completed or failed. Each request asks the platform to hold its
        answer until then (`Prefer: wait`, RFC 7240), so waiting costs a request per `wait_seconds`, not one per
        poll; a busy platform may answer at once, and then the next request follows after `pause` seconds."""
        while True:
            response = self.request("GET", f"batches/{batch_pk}", prefer=f"wait={wait_seconds}")
            batch = response.json()
            if batch["status"] in FINISHED:
                return batch
            if "Preference-Applied" not in response.headers:
                time.sleep(pause)

    def receipt(self, batch_pk: int) -> tuple[str, dict]:
        token = self.request("GET", f"batches/{batch_pk}/receipt").text
        return token, jws_verify(token, self.platform_keys(refresh=True))
