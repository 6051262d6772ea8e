"""Reads of the catalog for departments: what a category's file holds, and a template workbook to start from."""

from __future__ import annotations

import io
from typing import Any

from validation.catalog import Catalog, Category, FieldDef, current_catalog

FIELD_RULES = ("min_length", "max_length", "pattern", "min", "default")


def catalog_description(*, categories: list[str], catalog: Catalog | None = None) -> dict[str, Any]:
    """The catalog's version and, for each of `categories` it has, its fields: label, type, rules and every
    heading a column may carry for it (name, label, the standard's headings, pinyin codes)."""
    catalog = catalog or current_catalog()
    return {
        "version": catalog.version,
        "categories": [_category(catalog, catalog.categories[name]) for name in categories
                       if name in catalog.categories],
    }


def _category(catalog: Catalog, category: Category) -> dict[str, Any]:
    return {
        "name": category.name,
        "label": category.label,
        "natural_key": list(category.natural_key),
        "fields": [_field(catalog, f) for f in category.fields],
        "rules": [{"rule": r.rule, "field": r.field, **r.params} for r in category.rules],
    }


def _field(catalog: Catalog, f: FieldDef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "label": f.label, "type": f.type, "required": f.required}
    out |= {k: getattr(f, k) for k in FIELD_RULES if getattr(f, k) is not None}
    if f.not_future:
        out["not_future"] = True
    if f.enum:
        out["enum"] = [{"code": v.code, "label": v.label} for v in catalog.enums[f.enum]]
    if f.type == "date":
        out["date_formats"] = list(catalog.document.get("date_formats", []))
    out["headings"] = list(dict.fromkeys((f.template_heading, f.label, f.name, *f.aliases)))
    return out


def category_template_xlsx(*, category: str, catalog: Catalog | None = None) -> bytes:
    """A workbook to fill in: the first sheet headed by the standard's headings, text columns formatted as
    text (codes keep their leading zeros), date columns as dates; a second sheet explains each column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    catalog = catalog or current_catalog()
    cat = catalog.categories[category]
    book = Workbook()
    sheet = book.active
    sheet.title = cat.label[:31]
    sheet.append([f.template_heading for f in cat.fields])
    for i, f in enumerate(cat.fields, 1):
        column = sheet.column_dimensions[get_column_letter(i)]
        column.width = max(12, min(40, 2 * len(f.template_heading) + 2))
        column.number_format = "yyyy-mm-dd" if f.type == "date" else "0.######" if f.type == "decimal" else "@"
        sheet.cell(row=1, column=i).font = Font(bold=True)
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("填写说明")
    notes.append(["列名", "字段", "必填", "说明", "也接受的列名"])
    for f in cat.fields:
        described = _field(catalog, f)
        rule = "、".join(f"{k}={described[k]}" for k in (*FIELD_RULES, "not_future") if k in described)
        values = "；".join(v["label"] for v in described.get("enum", []))
        notes.append([f.template_heading, f.name, "是" if f.required else "", "；".join(
            p for p in (f.type, values and f"取值：{values}", rule) if p), "、".join(described["headings"][1:])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
