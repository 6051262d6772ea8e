"""The catalog is data: loaded from its file into the database, versioned."""

import pytest

from validation.catalog import SUBJECT_KEY, current_catalog, file_catalog
from validation.models import CatalogVersion
from validation.services import CatalogError, catalog_load


def test_catalog_has_the_five_categories_with_their_natural_keys():
    catalog = file_catalog()
    assert {name: c.natural_key for name, c in catalog.categories.items()} == {
        "registration": ("uscc",),
        "admin_license": ("decision_no",),
        "admin_penalty": ("decision_no",),
        "red_list": ("list_code", SUBJECT_KEY, "listed_on"),
        "black_list": ("list_code", "case_no"),
    }


def test_fields_carry_labels_and_required_flags_from_the_spec():
    penalty = file_catalog().category("admin_penalty")
    assert penalty.field_for_header("行政处罚决定书文号").name == "decision_no"
    assert penalty.fields_by_name["decision_no"].required
    assert not penalty.fields_by_name["fine_amount"].required
    assert penalty.fields_by_name["usage_scope"].default == "public"
    assert file_catalog().category("registration").field_for_header("统一社会信用代码").type == "uscc"
    assert "subject_name" not in file_catalog().category("registration").fields_by_name


def test_penalty_periods_are_data_with_an_effective_date():
    import datetime as dt

    periods = file_catalog().penalty_periods_on(dt.date(2026, 1, 1))
    assert periods.default_until == {"general": "P1Y", "serious": "P3Y"}
    assert periods.repair_not_before == {"general": "P3M", "serious": "P6M"}


@pytest.mark.django_db
def test_load_is_idempotent_and_refuses_changed_content_under_the_same_version(tmp_path):
    row, changed = catalog_load()
    assert not changed  # the test database already has it
    assert CatalogVersion.objects.count() == 1
    assert current_catalog().version == row.version
    edited = tmp_path / "catalog.yaml"
    text = (file_catalog.__globals__["CATALOG_FILE"]).read_text(encoding="utf-8")
    edited.write_text(text.replace("label: 行政处罚\n", "label: 行政处罚（改）\n"), encoding="utf-8")
    with pytest.raises(CatalogError, match="new version number"):
        catalog_load(path=edited)


@pytest.mark.django_db
def test_a_new_version_with_a_new_field_needs_no_code(tmp_path):
    text = (file_catalog.__globals__["CATALOG_FILE"]).read_text(encoding="utf-8")
    version = file_catalog().version
    text = text.replace(f"version: {version}\n", f"version: {version + 1}\n", 1).replace(
        "      - {name: remarks, label: 备注, type: text, max_length: 1000}\n    rules:\n      - {rule: required_when_contains",
        "      - {name: remarks, label: 备注, type: text, max_length: 1000}\n"
        "      - {name: appeal_status, label: 复议诉讼状态, type: text, max_length: 50}\n"
        "    rules:\n      - {rule: required_when_contains",
    )
    path = tmp_path / "catalog-v2.yaml"
    path.write_text(text, encoding="utf-8")
    catalog_load(path=path)
    penalty = current_catalog().category("admin_penalty")
    assert current_catalog().version == version + 1
    assert penalty.field_for_header("复议诉讼状态").name == "appeal_status"


@pytest.mark.django_db
def test_a_heading_two_fields_claim_is_refused_at_load(tmp_path):
    """catalog.md: a heading claimed by two fields of one category is a catalog error, caught at load."""
    text = (file_catalog.__globals__["CATALOG_FILE"]).read_text(encoding="utf-8")
    version = file_catalog().version
    text = text.replace(f"version: {version}\n", f"version: {version + 1}\n", 1).replace(
        "      legal_basis: [CF_YJ]\n", "      legal_basis: [CF_YJ, cf_wsh]\n", 1)  # CF_WSH is decision_no's
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        catalog_load(path=path)
    assert "admin_penalty" in str(refused.value) and "decision_no" in str(refused.value)
    assert "legal_basis" in str(refused.value)
    assert not CatalogVersion.objects.filter(version=version + 1).exists()
