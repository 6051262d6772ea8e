from tests.credit.factories import ingest, penalty, registration


def test_smoke(scjg):
    b = ingest(scjg, "registration", [registration(1), registration(2)], "r1")
    assert b.status == "completed", (b.failure_code, b.failure_reason)
    assert b.counts == {"rows": 2, "accepted": 2, "rejected": 0, "created": 2, "updated": 0, "unchanged": 0,
                        "withdrawn": 0, "pending_subject": 0}
    b = ingest(scjg, "admin_penalty", [penalty("P1", 1), penalty("P2", 3)], "p1")
    assert b.status == "completed", (b.failure_code, b.failure_reason)
    assert b.counts["created"] == 2
