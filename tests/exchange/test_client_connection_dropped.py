"""The exchange client sends a request once more, signed anew, when the platform closed the connection before
answering (a kept-alive connection let go just as the request went out); a streamed file is never sent twice."""

from __future__ import annotations

import hashlib
import re
import socket
import threading

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.client.session import ExchangeSession
from exchange.signatures import digest_header

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"ok": true}'


def _server(drop_first: int) -> tuple[str, list[bytes]]:
    """A server that closes its first `drop_first` connections unanswered, then answers each with 200."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    heads: list[bytes] = []

    def serve():
        while True:
            conn, _ = listener.accept()
            with conn:
                heads.append(conn.recv(65536))
                if len(heads) > drop_first:
                    conn.sendall(ANSWER)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", heads


def _nonce(head: bytes) -> str:
    return re.search(rb'nonce="([^"]+)"', head).group(1).decode()


def test_a_request_dropped_unanswered_is_sent_once_more_with_a_new_nonce():
    url, heads = _server(drop_first=1)
    session = ExchangeSession(url=url, keyid="k", private_key=Ed25519PrivateKey.generate(), verify_responses=False,
                              timeout=10)
    response = session.request("POST", "batches", params={"category": "admin_penalty", "batch_id": "b1"},
                               body=b'{"a": 1}\n', content_type="application/x-ndjson")
    assert response.json() == {"ok": True}
    assert len(heads) == 2 and _nonce(heads[0]) != _nonce(heads[1])


def test_a_request_dropped_twice_fails_with_the_connection_error():
    url, heads = _server(drop_first=2)
    session = ExchangeSession(url=url, keyid="k", private_key=Ed25519PrivateKey.generate(), verify_responses=False,
                              timeout=10)
    with pytest.raises(requests.ConnectionError):
        session.request("GET", "batches/1")
    assert len(heads) == 2


def test_a_streamed_file_is_not_sent_twice(tmp_path):
    url, heads = _server(drop_first=1)
    session = ExchangeSession(url=url, keyid="k", private_key=Ed25519PrivateKey.generate(), verify_responses=False,
                              timeout=10)
    body = b'{"a": 1}\n'
    (tmp_path / "batch.ndjson").write_bytes(body)
    with open(tmp_path / "batch.ndjson", "rb") as stream, pytest.raises(requests.ConnectionError):
        session.request("POST", "batches", body=stream, body_digest=digest_header(hashlib.sha256(body).digest()),
                        content_type="application/x-ndjson")
    assert len(heads) == 1
