"""Minimal request/response shapes for http-message-signatures (method, url, headers / status_code)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    url: str  # absolute, as sent: scheme://authority/path?query
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
