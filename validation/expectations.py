"""great-expectations suites generated from the catalog, run over chunk frames.

GE sees a compact *feature frame* of a normalised chunk, one column per catalog
field, typed for fast vectorised checks and cheap batch fingerprints:
  text / code / list fields → their length (float, NaN = absent), or the text
                              itself when the field has a `pattern`
  enum                      → pandas Categorical of the code
  date                      → days since 1970-01-01 (float)
  decimal                   → float
plus one boolean helper column per `required_when_contains` rule. Checks GE is
not good at (check characters, dates, enum lists, cross-field code equality) run
in Python (normalise.py, field_rules.py, batch.py).

Each expectation carries `meta = {"field", "code"}` so failures map back to
per-row rejections. The GE context, suites and batch definition are built once
per process (per catalog version, category and day) and reused.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from validation.catalog import Catalog, Category, FieldDef

_EPOCH = dt.date(1970, 1, 1)
_lock = threading.Lock()
_context = None
_runners: dict[tuple, SuiteRunner] = {}

RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}


@dataclass(frozen=True)
class Failure:
    pos: int  # 0-based position in the chunk frame
    field: str
    code: str
    params: dict


def _gx():
    import great_expectations as gx

    return gx


def _get_context():
    global _context
    if _context is None:
        gx = _gx()
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        _context = ctx
    return _context


def day_number(iso: str | None) -> float:
    return np.nan if iso is None else float((dt.date.fromisoformat(iso) - _EPOCH).days)


def length_column(fd: FieldDef) -> bool:
    return fd.type in {
        "text",
        "text_list",
        "enum_list",
        "uscc",
        "org_code",
        "registration_no",
        "id_number",
    } and not (fd.pattern)


def helper_column(rule_field: str) -> str:
    return f"_has_{rule_field}"


def build_expectations(catalog: Catalog, category: Category, today: dt.date) -> list:
    """The GE expectations for one category, generated from the catalog."""
    gxe = _gx().expectations
    out = []

    def meta(fd: FieldDef, code: str, **params) -> dict:
        return {"field": fd.name, "code": code, **params}

    for fd in category.fields:
        if fd.required:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=fd.name, meta=meta(fd, "required")))
        if fd.type == "enum":
            codes = sorted(catalog.enum_codes(fd.enum))
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=fd.name, value_set=codes, meta=meta(fd, "invalid_enum")
                )
            )
        elif fd.type == "decimal" and fd.min is not None:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=fd.name, min_value=fd.min, meta=meta(fd, "below_minimum")
                )
            )
        elif fd.type == "date" and fd.not_future:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=fd.name, max_value=float((today - _EPOCH).days), meta=meta(fd, "future_date")
                )
            )
        elif fd.pattern:
            out.append(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=fd.name, regex=fd.pattern, meta=meta(fd, "pattern_mismatch")
                )
            )
            if fd.max_length or fd.min_length:
                out.append(
                    gxe.ExpectColumnValueLengthsToBeBetween(
                        column=fd.name,
                        min_value=fd.min_length,
                        max_value=fd.max_length,
                        meta=meta(fd, "length"),
                    )
                )
        elif fd.type == "text" and (fd.max_length or fd.min_length):
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=fd.name, min_value=fd.min_length, max_value=fd.max_length, meta=meta(fd, "length")
                )
            )
    for rule in category.rules:
        fd = category.fields_by_name[rule.field]
        p = rule.params
        if rule.rule == "required_when":
            cond = " & ".join(f'{k}=="{v}"' for k, v in p["when"].items())
            out.append(_conditional_not_null(gxe, fd, cond, meta(fd, "required", when=p["when"])))
        elif rule.rule == "required_unless_any":
            cond = " & ".join(
                [f'{k}=="{v}"' for k, v in p["when"].items()] + [f"{o}.isnull()" for o in p["unless_any"]]
            )
            out.append(
                _conditional_not_null(
                    gxe, fd, cond, meta(fd, "required", when=p["when"], unless=p["unless_any"])
                )
            )
        elif rule.rule == "required_when_contains":
            cond = f"{helper_column(fd.name)} == True"
            out.append(
                _conditional_not_null(
                    gxe, fd, cond, meta(fd, "required", list_field=p["list_field"], contains=p["contains"])
                )
            )
        elif rule.rule == "date_not_before":
            out.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=fd.name,
                    column_B=p["other"],
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                    meta=meta(fd, "date_order", other=p["other"]),
                )
            )
    return out


def _conditional_not_null(gxe, fd: FieldDef, condition: str, meta: dict):
    return gxe.ExpectColumnValuesToNotBeNull(
        column=fd.name, row_condition=condition, condition_parser="pandas", meta=meta
    )


class SuiteRunner:
    """One category's suite and batch definition, built once and reused for every chunk."""

    def __init__(self, catalog: Catalog, category: Category, today: dt.date):
        gx = _gx()
        ctx = _get_context()
        self.category = category
        name = f"v{catalog.version}-{category.name}-{today.isoformat()}-{id(catalog)}"
        suite = gx.ExpectationSuite(name=name, expectations=build_expectations(catalog, category, today))
        self.suite = ctx.suites.add_or_update(suite)
        source = ctx.data_sources.add_or_update_pandas(f"chunks-{name}")
        asset = source.add_dataframe_asset("chunk")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        self.helpers = [r.field for r in category.rules if r.rule == "required_when_contains"]
        self.contains = {
            r.field: (r.params["list_field"], r.params["contains"])
            for r in category.rules
            if r.rule == "required_when_contains"
        }

    def frame(self, values: dict[str, list], n: int) -> pd.DataFrame:
        cols: dict[str, object] = {}
        for fd in self.category.fields:
            col = values.get(fd.name)
            if col is None:
                col = [None] * n
            if fd.type == "enum":
                cols[fd.name] = pd.Categorical(col)
            elif fd.type == "date":
                cache: dict = {}
                cols[fd.name] = np.array(
                    [cache[v] if v in cache else cache.setdefault(v, day_number(v)) for v in col], dtype=float
                )
            elif fd.type == "decimal":
                cols[fd.name] = np.array([np.nan if v is None else float(v) for v in col], dtype=float)
            elif fd.pattern:
                cols[fd.name] = np.array(col, dtype=object)
            else:
                cols[fd.name] = np.array([np.nan if v is None else len(v) for v in col], dtype=float)
        for name, (list_field, item) in self.contains.items():
            lists = values.get(list_field) or [None] * n
            cols[helper_column(name)] = np.array([bool(v) and item in v for v in lists], dtype=bool)
        return pd.DataFrame(cols)

    def run(self, df: pd.DataFrame) -> list[Failure]:
        if len(df) == 0:
            return []
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(self.suite, result_format=RESULT_FORMAT)
        failures: list[Failure] = []
        for r in result.results:
            meta = dict(r.expectation_config.meta or {})
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"GE expectation failed to run: {r.exception_info.get('exception_message')}"
                )
            if r.success:
                continue
            fld, code = meta.pop("field"), meta.pop("code")
            for idx in r.result.get("unexpected_index_list") or []:
                pos = idx if isinstance(idx, int | np.integer) else next(iter(idx.values()))
                failures.append(Failure(int(pos), fld, code, meta))
        return failures


def suite_runner(catalog: Catalog, category: Category, today: dt.date) -> SuiteRunner:
    key = (id(catalog), catalog.version, category.name, today)
    with _lock:
        runner = _runners.get(key)
        if runner is None:
            if len(_runners) > 32:
                _runners.clear()
            runner = _runners[key] = SuiteRunner(catalog, category, today)
        return runner
