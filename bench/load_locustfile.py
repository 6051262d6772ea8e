"""Locust users for bench/load: departments pushing 10k-row batches, the public searching and browsing.

Run by bench/load (which starts the platform and hands over the departments' keys in LOAD_KEYS_DIR);
not meant to be run on its own. Every public user comes through the trusted reverse proxy with an address
of its own (X-Forwarded-For), as on the internet; one extra user hammers from a single address, to show
the rate limit holds per client address while the others are served.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from locust import HttpUser, between, constant, events, task

from exchange.signatures import digest_header, sign_request

KEYS = sorted(Path(os.environ["LOAD_KEYS_DIR"]).glob("*.pem"))
BODIES = Path(os.environ["LOAD_BODIES_DIR"])
QUERIES = ["长沙", "湖南", "科技", "有限公司", "测试", "岳麓", "华盛", "天翼", "91430100", "公司"]
_department_no = itertools.count()
_client_no = itertools.count(1)
PUSHED: list[dict] = []


def _penalties(department: int, batch: int) -> bytes:
    """The batch file bench/load wrote before the run (the same files again once a department has pushed them all)."""
    files = sorted(BODIES.glob(f"{department}-*.ndjson"), key=lambda path: int(path.stem.split("-")[1]))
    return files[(batch - 1) % len(files)].read_bytes()


class Department(HttpUser):
    fixed_count = len(KEYS)
    wait_time = between(2, 8)

    def on_start(self):
        n = next(_department_no)
        path = KEYS[n % len(KEYS)]
        self.number, self.keyid = n, path.stem
        self.key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        self.batches = 0

    def _signed(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None, **kw):
        url = f"{self.host}{path}"
        headers = {"Content-Type": content_type} if content_type else {}
        digest = digest_header(hashlib.sha256(body).digest()) if body is not None else None
        headers.update(sign_request(method=method, url=url, headers=headers, private_key=self.key,
                                    keyid=self.keyid, body_digest=digest))
        return self.client.request(method, path, data=body, headers=headers, **kw)

    @task
    def push_and_wait(self):
        self.batches += 1
        body = _penalties(self.number, self.batches)
        path = f"/api/v1/exchange/batches?category=admin_penalty&batch_id=load-{self.keyid}-{self.batches}"
        response = self._signed("POST", path, body, "application/x-ndjson", name="push batch")
        if response.status_code not in (200, 202):
            return
        batch = response.json()
        PUSHED.append({"id": batch["id"], "pushed_at": time.time()})
        while batch["status"] not in ("completed", "failed"):
            time.sleep(2)
            batch = self._signed("GET", f"/api/v1/exchange/batches/{batch['id']}", name="batch status").json()


class Citizen(HttpUser):
    wait_time = between(1, 3)
    weight = 200

    def on_start(self):
        n = next(_client_no)
        self.address = f"198.51.{n // 250}.{n % 250 + 1}"
        self.codes: list[str] = []

    def _get(self, path: str, name: str, **params):
        return self.client.get(path, params=params, name=name, headers={"X-Forwarded-For": self.address})

    @task(3)
    def search(self):
        response = self._get("/api/v1/public/subjects", "search", q=random.choice(QUERIES))
        if response.ok:
            self.codes = [s["code"] for s in response.json().get("results", []) if s.get("code")][:20]

    @task(2)
    def subject_page(self):
        if self.codes:
            self._get(f"/subjects/{random.choice(self.codes)}", "subject page")

    @task(1)
    def home(self):
        self._get("/", "search page", q=random.choice(QUERIES))


class Hammer(HttpUser):
    """One client asking as fast as it can from one address: it must get 429s, nobody else must."""

    fixed_count = 1
    wait_time = constant(0.05)

    @task
    def search(self):
        with self.client.get("/api/v1/public/subjects", params={"q": "长沙"}, name="hammer (one address)",
                             headers={"X-Forwarded-For": "203.0.113.99"}, catch_response=True) as response:
            if response.status_code == 429:
                response.success()  # the limit doing its job; counted by bench/load from the status codes


STATUS_COUNTS: dict[str, dict[int, int]] = {}


@events.request.add_listener
def _count_status(name, response, **kwargs):
    if response is not None:
        by_status = STATUS_COUNTS.setdefault(name, {})
        by_status[response.status_code] = by_status.get(response.status_code, 0) + 1


@events.quitting.add_listener
def _write_out(environment, **kwargs):
    out = os.environ.get("LOAD_RESULT_FILE")
    if out:
        Path(out).write_text(json.dumps({"pushed": PUSHED, "statuses": STATUS_COUNTS}))
