"""A month's scorecards as JSON objects (scorecards.md's fields, in its order), CSV and XLSX."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook

from ops.scorecards.figures import FIELDS

# Column headings of the downloads: the contract's field names, which operators' spreadsheets key on.
HEADINGS = FIELDS


def card_as_json(card: dict) -> dict:
    return {name: float(card[name]) if isinstance(card[name], Decimal) else card[name] for name in FIELDS}


def _cell(card: dict, name: str):
    value = card[name]
    if name == "top_rejection_codes":
        return "; ".join(f"{item['code']}:{item['count']}" for item in value)
    return float(value) if isinstance(value, Decimal) else value


def scorecards_csv(cards: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADINGS)
    for card in cards:
        writer.writerow(["" if _cell(card, name) is None else _cell(card, name) for name in HEADINGS])
    return ("\ufeff" + out.getvalue()).encode()  # a BOM: Excel opens UTF-8 Chinese names correctly


def scorecards_xlsx(cards: list[dict], *, title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append(list(HEADINGS))
    for card in cards:
        sheet.append([_cell(card, name) for name in HEADINGS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
