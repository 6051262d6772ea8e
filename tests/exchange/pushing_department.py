"""A department's client process for the concurrency test: imports no Django models (it is spawned)."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import serialization

from tests.credit.factories import ndjson, penalty

PUSHES_EACH = 5


def department_pushes(url: str, n: int, keyid: str, pem: str, out: mp.Queue) -> None:
    """One department's client process: PUSHES_EACH batches in parallel, the last one pushed three times at
    once, then a receipt fetch for each batch racing its completion."""
    from exchange.client.session import ExchangeError, ExchangeSession

    key = serialization.load_pem_private_key(pem.encode(), password=None)

    def push(i: int) -> tuple[str, int, int | None, str]:
        batch_id = f"c{n:02d}-{i}"
        rows = [penalty(f"湘并发罚〔2026〕{n}-{i}-{r}号", 1000 * n + 10 * i + r) for r in range(1 + i % 3)]
        session = ExchangeSession(url=url, keyid=keyid, private_key=key, timeout=60)
        try:
            response = session.request("POST", "batches", params={"category": "admin_penalty", "batch_id": batch_id},
                                       body=ndjson(rows), content_type="application/x-ndjson")
            return batch_id, response.status_code, response.json()["id"], ""
        except ExchangeError as exc:
            return batch_id, exc.status or 0, None, str(exc)

    jobs = [*range(PUSHES_EACH), PUSHES_EACH - 1, PUSHES_EACH - 1]  # the last batch_id three times at once
    with ThreadPoolExecutor(len(jobs)) as pool:
        pushed = list(pool.map(push, jobs))
    session = ExchangeSession(url=url, keyid=keyid, private_key=key, timeout=60)
    receipts = {}
    for _batch_id, _status, pk, _error in pushed:
        if pk is None or pk in receipts:
            continue
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                receipts[pk] = session.receipt(pk)[1]
                break
            except ExchangeError as exc:
                if exc.status != 409:  # 409: not finished yet, ask again
                    receipts[pk] = {"error": str(exc)}
                    break
                time.sleep(0.05)
    out.put(json.dumps({"pushed": pushed, "receipts": {str(k): v for k, v in receipts.items()}}))
