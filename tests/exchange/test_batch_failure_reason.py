"""Why a batch failed (exchange-protocol §8): `failure_reason` in plain words in `GET batches/{id}` and in the
receipt of a failed batch; a completed batch carries neither."""

from __future__ import annotations

import pytest

from exchange.jws import jws_verify
from exchange.platform_keys import jwks, public_key_from_jwk
from ingest.pipeline import batch_process
from tests.credit.factories import ndjson, penalty

pytestmark = pytest.mark.django_db
CSV = "text/csv; charset=utf-8"


def submit(as_dept, body: bytes, content_type: str, batch_id: str) -> dict:
    response = as_dept.post(f"/api/v1/exchange/batches?category=admin_penalty&batch_id={batch_id}", body,
                            content_type)
    assert response.status_code == 202, response.content
    batch_process(batch_id=response.json()["id"])
    return as_dept.get(f"/api/v1/exchange/batches/{response.json()['id']}").json()


def receipt_payload(as_dept, batch_pk: int) -> dict:
    token = as_dept.get(f"/api/v1/exchange/batches/{batch_pk}/receipt").content.decode()
    return jws_verify(token, {k["kid"]: public_key_from_jwk(k) for k in jwks()["keys"]})


def test_a_csv_without_its_header_row_fails_and_says_which_columns_were_expected(as_scjg):
    row = penalty("湘市监罚〔2026〕1号", 1)
    data_only = (",".join(row.values()) + "\n").encode()  # the header row forgotten: the first line is data

    batch = submit(as_scjg, data_only, CSV, "no-header")

    assert batch["status"] == "failed"
    assert batch["failure_code"] == "unknown_columns"
    assert "subject_name（行政相对人名称）" in batch["failure_reason"]
    assert "湘市监罚" not in batch["failure_reason"]
    payload = receipt_payload(as_scjg, batch["id"])
    assert (payload["status"], payload["failure_code"], payload["failure_reason"]) == (
        "failed", "unknown_columns", batch["failure_reason"])


def test_a_completed_batch_carries_no_failure(as_scjg):
    batch = submit(as_scjg, ndjson([penalty("湘市监罚〔2026〕1号", 1)]), "application/x-ndjson", "fine")
    assert batch["status"] == "completed"
    assert "failure_reason" not in batch and "failure_code" not in batch
    assert "failure_reason" not in receipt_payload(as_scjg, batch["id"])
