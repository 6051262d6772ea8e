"""The public pages take their categories, labels and order from the loaded catalog: a category added to the
catalog file and loaded (manage.py load_catalog) shows on them with no code change."""

from __future__ import annotations

import pytest
import yaml

from tests.public.conftest import PUBLIC_DB, committed, manage

pytestmark = pytest.mark.django_db(databases=PUBLIC_DB)


@pytest.fixture
def catalog_with_honours(store, django_db_blocker, tmp_path):
    """Catalog v1 plus a category `honour` (荣誉表彰) as version 1000, loaded, and one public record of it."""
    from validation.catalog import CATALOG_FILE, read_catalog_file

    document = read_catalog_file(CATALOG_FILE)
    document["version"] = 1000  # a new version: honour is not in category_order, so it comes after those listed
    document["categories"]["honour"] = {
        "label": "荣誉表彰", "natural_key": ["honour_no"], "subject_fields": True, "usage_scope": True,
        "fields": [{"name": "honour_no", "label": "表彰文号", "type": "text", "required": True, "max_length": 64},
                   {"name": "title", "label": "荣誉称号", "type": "text", "required": True, "max_length": 200}],
    }
    document["publicity"]["honour"] = {"rule": "always"}
    path = tmp_path / "catalog-v1000.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    record = """
        INSERT INTO credit_record (category, natural_key, pending_key, subject_id, state, payload, content_hash, version,
                                   department_id, subject_name_key, name_mismatch, publicity_never, is_public,
                                   publicity_reason, created_at, updated_at)
        SELECT 'honour', 'honour-test', '', s.id, 'active', '{"honour_no": "湘表〔2026〕1号", "title": "守合同重信用企业"}',
               'h', 1, d.id, '', false, '', true, 'public', now(), now()
          FROM credit_subject s, exchange_department d WHERE s.uscc = %s AND d.code = 'HN-SCJG'"""
    unload = committed("SELECT %s::int", "DELETE FROM validation_catalogversion WHERE version = %s", [1000])
    with unload:
        manage("load_catalog", "--file", str(path))  # committed: the public connection sees it
        with django_db_blocker.unblock(), committed(
                record, "DELETE FROM credit_record WHERE natural_key = 'honour-test' AND subject_id IN "
                "(SELECT id FROM credit_subject WHERE uscc = %s)", [store.tianyi_uscc]):
            yield

def test_a_category_added_to_the_catalog_shows_on_the_public_pages(client, store, catalog_with_honours):
    html = client.get(f"/subjects/{store.tianyi_uscc}").content.decode()
    assert '<h2 id="honour-heading">荣誉表彰（1 条）</h2>' in html
    assert "<dt>荣誉称号</dt><dd>守合同重信用企业</dd>" in html
    # after the catalog's other categories, in the catalog's order
    assert html.index('id="black_list-heading"') < html.index('id="honour-heading"')
    body = client.get(f"/api/v1/public/subjects/{store.tianyi_uscc}").json()
    assert body["records"]["honour"][0]["fields"] == {"honour_no": "湘表〔2026〕1号", "title": "守合同重信用企业"}


def test_without_it_the_category_is_not_shown(client, store):
    html = client.get(f"/subjects/{store.tianyi_uscc}").content.decode()
    assert "荣誉表彰" not in html and '<h2 id="admin_penalty-heading">行政处罚（1 条）</h2>' in html
