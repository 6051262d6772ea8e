"""Bad input on the public site and its JSON API (issue #11): a 404 or a problem, never a 500."""

from __future__ import annotations

import pytest

from tests.public.conftest import PUBLIC_DB

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


@pytest.mark.parametrize("code", ["N-፩", "N-²", "N-1²", "N-" + "9" * 5000])
def test_a_subject_id_of_unicode_digits_is_not_found(client, store, code):
    assert client.get(f"/subjects/{code}").status_code == 404
    missing = client.get(f"/api/v1/public/subjects/{code}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
