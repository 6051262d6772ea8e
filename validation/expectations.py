"""great-expectations suites generated from the catalog, run over per-block feature tables.

GE sees a compact *feature table* of a normalised block, built from typed feature
columns, one per catalog field:
  text / code / list fields → their length (float, NaN = absent), or the text
                              itself when the field has a `pattern`
  enum                      → the code (object)
  date                      → days since 1970-01-01 (float)
  decimal                   → float
plus one boolean helper column per `required_when_contains` rule.

Every expectation reads a fixed set of columns (one field, or the fields of one
cross-field rule). Its result for a row depends only on that row's feature values
in those columns, so GE is given, per column set, the *distinct* feature tuples
that occur in the block (exact deduplication; the sets share the table's rows,
each padded by repeating its last tuple), and each unexpected index is mapped back
to every row carrying that tuple. The suite's checks (required, value sets,
ranges, lengths, regex, conditional required, column pairs) are unchanged; GE
just does not repeat them for identical inputs. Blocks of department data have a
few thousand distinct feature tuples per set at most (dates), so a run costs about
the same whatever the block size.

Which expectations each distinct tuple fails is remembered per column set in the
(per-process, per catalog/category/day) runner, bounded: a block hands GE only the
tuples not seen in earlier blocks, and runs only the expectations of the column sets
that have such tuples (none at all once a batch's value combinations are known).

The suite is run with BOOLEAN_ONLY first; only the expectations that failed are
re-run with COMPLETE results (unexpected index lists) on the same batch.

Checks GE is not good at (check characters, dates, enum lists, cross-field code
equality) run in Python (normalise.py, field_rules.py, batch.py).

Each expectation carries `meta = {"field", "code", "set"}` so failures map back to
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
from validation.normalise import NormColumn, factorize, object_array

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
FIRST_PASS_FORMAT = {"result_format": "BOOLEAN_ONLY"}


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


def feature(fd: FieldDef, values: list) -> np.ndarray:
    """The GE feature of each (distinct) normalised value of `fd`."""
    if fd.type == "enum" or (fd.pattern and fd.type == "text"):
        return object_array(values)
    if fd.type == "date":
        return np.array([day_number(v) for v in values], dtype=float)
    if fd.type == "decimal":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    if None not in values:
        return np.fromiter(map(len, values), dtype=float, count=len(values))
    # present values are never empty ('' is normalised to None), so truth = presence
    present = np.fromiter(map(bool, values), dtype=bool, count=len(values))
    out = np.full(len(values), np.nan)
    out[present] = np.fromiter(map(len, filter(None, values)), dtype=float)
    return out


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


def column_sets(category: Category) -> dict[str, tuple[tuple[str, str], ...]]:
    """Set key -> ((GE column, feature name), ...): one set per field, one per cross-field rule.
    A feature name is a field name or a helper column (`_has_<field>`)."""
    sets: dict[str, tuple[tuple[str, str], ...]] = {fd.name: ((fd.name, fd.name),) for fd in category.fields}
    for i, rule in enumerate(category.rules):
        p = rule.params
        if rule.rule == "required_when":
            names = [rule.field, *p["when"]]
        elif rule.rule == "required_unless_any":
            names = [rule.field, *p["when"], *p["unless_any"]]
        elif rule.rule == "required_when_contains":
            names = [rule.field, helper_column(rule.field)]
        elif rule.rule == "date_not_before":
            names = [rule.field, p["other"]]
        else:
            continue
        sets[f"r{i}"] = tuple(
            (f"r{i}{name}" if name.startswith("_") else f"r{i}_{name}", name) for name in names
        )
    return sets


def build_expectations(catalog: Catalog, category: Category, today: dt.date) -> list:
    """The GE expectations for one category, generated from the catalog."""
    gxe = _gx().expectations
    out = []

    def meta(fd: FieldDef, code: str, **params) -> dict:
        return {"field": fd.name, "code": code, "set": fd.name, **params}

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
    sets = column_sets(category)
    for i, rule in enumerate(category.rules):
        fd = category.fields_by_name[rule.field]
        p = rule.params
        key = f"r{i}"
        if key not in sets:
            continue
        col = dict((name, c) for c, name in sets[key])
        if rule.rule == "required_when":
            cond = " & ".join(f'{col[k]}=="{v}"' for k, v in p["when"].items())
            m = meta(fd, "required", when=p["when"]) | {"set": key}
            out.append(_conditional_not_null(gxe, col[fd.name], cond, m))
        elif rule.rule == "required_unless_any":
            cond = " & ".join(
                [f'{col[k]}=="{v}"' for k, v in p["when"].items()]
                + [f"{col[o]}.isnull()" for o in p["unless_any"]]
            )
            m = meta(fd, "required", when=p["when"], unless=p["unless_any"]) | {"set": key}
            out.append(_conditional_not_null(gxe, col[fd.name], cond, m))
        elif rule.rule == "required_when_contains":
            cond = f"{col[helper_column(fd.name)]} == True"
            m = meta(fd, "required", list_field=p["list_field"], contains=p["contains"]) | {"set": key}
            out.append(_conditional_not_null(gxe, col[fd.name], cond, m))
        elif rule.rule == "date_not_before":
            out.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=col[fd.name],
                    column_B=col[p["other"]],
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                    meta=meta(fd, "date_order", other=p["other"]) | {"set": key},
                )
            )
    return out


def _conditional_not_null(gxe, column: str, condition: str, meta: dict):
    return gxe.ExpectColumnValuesToNotBeNull(
        column=column, row_condition=condition, condition_parser="pandas", meta=meta
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
        used = {e.meta["set"] for e in suite.expectations}
        self.sets = {k: v for k, v in column_sets(category).items() if k in used}
        self.contains = {
            r.field: (r.params["list_field"], r.params["contains"])
            for r in category.rules
            if r.rule == "required_when_contains"
        }
        self.helper_of = {helper_column(f): f for f in self.contains}
        self.configs = list(self.suite.expectation_configurations)
        self.by_meta: dict[tuple, int] = {}  # (set, field, code) -> index into self.configs
        self.of_set: dict[str, list[int]] = {key: [] for key in self.sets}
        for i, cfg in enumerate(self.configs):
            self.by_meta[_meta_key(cfg.meta)] = i
            self.of_set[cfg.meta["set"]].append(i)
        # per column set: feature tuple -> indices of the expectations it fails (() = none)
        self.memo: dict[str, dict] = {key: {} for key in self.sets}
        if len(self.by_meta) != len(self.configs):  # not one expectation per meta: no memo
            self.memo = {}

    def frame(self, columns: dict[str, NormColumn], n: int) -> tuple[pd.DataFrame, dict[str, tuple]]:
        """The block's feature table for GE and, per column set, (row codes, number of
        distinct tuples): row r carries tuple `codes[r]`, which is table row `codes[r]`."""
        tables, sets = self.features(columns, n)
        return _padded(tables), sets

    def features(self, columns: dict[str, NormColumn], n: int) -> tuple[dict, dict[str, tuple]]:
        """Per GE column, its values along the distinct tuples of its column set, and per
        column set (row codes, number of distinct tuples)."""
        feats: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # feature -> (row codes, distinct values)

        def feat(name: str) -> tuple[np.ndarray, np.ndarray]:
            got = feats.get(name)
            if got is not None:
                return got
            if name in self.helper_of:
                list_field, item = self.contains[self.helper_of[name]]
                nc = columns.get(list_field)
                uniq = np.array([bool(v) and item in v for v in nc.uniques] if nc else [False], dtype=bool)
            else:
                fd = self.category.fields_by_name[name]
                nc = columns.get(name)
                uniq = feature(fd, nc.uniques if nc else [None])
            row_codes = nc.codes if nc else np.zeros(n, np.int64)
            fcodes, first = factorize(uniq)  # distinct values may share a feature (lengths)
            got = feats[name] = (fcodes[row_codes], uniq[first])
            return got

        tables: dict[str, np.ndarray] = {}
        sets: dict[str, tuple] = {}
        for key, cols in self.sets.items():
            if len(cols) == 1:
                ((col, name),) = cols
                codes, uniq = feat(name)
                tables[col] = uniq
                sets[key] = (codes, len(uniq))
                continue
            joint = None
            for _, name in cols:
                codes, uniq = feat(name)
                joint = codes if joint is None else factorize(joint * len(uniq) + codes)[0]
            joint, first = factorize(joint)
            for col, name in cols:
                codes, uniq = feat(name)
                tables[col] = uniq[codes[first]]
            sets[key] = (joint, len(first))
        return tables, sets

    def run(self, columns: dict[str, NormColumn], n: int) -> list[Failure]:
        if n == 0:
            return []
        tables, sets = self.features(columns, n)
        # Which expectations each distinct tuple fails is remembered per column set (a
        # tuple's result depends only on the tuple): GE checks only tuples not seen before
        # in this process, and only the expectations of the sets that have such tuples.
        plan: dict[str, tuple] = {}  # set -> (tuple keys or None, memo hits, new tuple indices)
        for key, cols in self.sets.items():
            _, k = sets[key]
            memo = self.memo.get(key)
            if memo is None or k > MEMO_SET_MAX:
                plan[key] = (None, [None] * k, list(range(k)))
                continue
            tkeys = _tuple_keys([tables[col] for col, _ in cols])
            hits = list(map(memo.get, tkeys))
            plan[key] = (tkeys, hits, [i for i, h in enumerate(hits) if h is None])
        bad_new = self._validate(tables, plan)  # expectation -> failing among the new tuples
        failing: dict[int, list[int]] = {}  # expectation -> failing tuple indices of its set
        for key, (tkeys, hits, new) in plan.items():
            if new:
                eids = [e for e in self.of_set.get(key, ()) if e in bad_new]
                for j, i in enumerate(new):
                    hits[i] = tuple(e for e in eids if bad_new[e][j])
                memo = self.memo.get(key)
                if tkeys is not None and memo is not None:
                    if len(memo) + len(new) > MEMO_MAX_TUPLES:
                        memo.clear()
                    memo.update((tkeys[i], hits[i]) for i in new)
            for i in [i for i, h in enumerate(hits) if h]:
                for e in hits[i]:
                    failing.setdefault(e, []).append(i)
        failures: list[Failure] = []
        for e in sorted(failing):  # suite order, as GE reports them
            meta = dict(self.configs[e].meta or {})
            fld, code, key = meta.pop("field"), meta.pop("code"), meta.pop("set")
            codes, k = sets[key]
            bad = np.zeros(k, bool)
            bad[failing[e]] = True
            for pos in np.flatnonzero(bad[codes]).tolist():
                failures.append(Failure(pos, fld, code, meta))
        return failures

    def _validate(self, tables: dict, plan: dict[str, tuple]) -> dict[int, np.ndarray]:
        """GE over the new tuples of each column set: {expectation: failing new tuples}."""
        run_sets = {key for key, (_, _, new) in plan.items() if new}
        if not run_sets:
            return {}
        from great_expectations.validator.v1_validator import Validator

        data = {}
        for key in run_sets:
            new = np.asarray(plan[key][2], dtype=np.int64)
            for col, _ in self.sets[key]:
                data[col] = tables[col][new]
        configs = [c for c in self.configs if c.meta["set"] in run_sets]
        validator = Validator(
            batch_definition=self.batch_definition,
            batch_parameters={"dataframe": _padded(data)},
            result_format=FIRST_PASS_FORMAT,
        )
        failed = []
        for r in validator._validate_expectation_configs(configs):
            _raise_if_failed_to_run(r)
            if not r.success:
                failed.append(r.expectation_config)
        if not failed:
            return {}
        # only the failed expectations again, with unexpected index lists (same batch, no reload)
        validator.result_format = RESULT_FORMAT
        out: dict[int, np.ndarray] = {}
        for r in validator._validate_expectation_configs(failed):
            _raise_if_failed_to_run(r)
            if r.success:
                continue
            meta = r.expectation_config.meta or {}
            k = len(plan[meta["set"]][2])
            bad = np.zeros(k, bool)
            for idx in r.result.get("unexpected_index_list") or []:
                pos = idx if isinstance(idx, int | np.integer) else next(iter(idx.values()))
                if pos < k:  # rows past k repeat the last tuple (padding)
                    bad[pos] = True
            out[self.by_meta[_meta_key(meta)]] = bad
        return out


MEMO_SET_MAX = 50_000  # column sets with more distinct tuples in a block are not memoised
MEMO_MAX_TUPLES = 200_000  # per column set; the memo is cleared when exceeded


def _meta_key(meta: dict) -> tuple:
    return (meta["set"], meta["field"], meta["code"])


def _raise_if_failed_to_run(r) -> None:
    if r.exception_info and r.exception_info.get("raised_exception"):
        raise RuntimeError(f"GE expectation failed to run: {r.exception_info.get('exception_message')}")


def _tuple_keys(arrays: list[np.ndarray]) -> list:
    """Hashable keys of the tuples along `arrays` (NaN as None, so that equal tuples match)."""
    lists = []
    for a in arrays:
        values = a.tolist()
        if a.dtype.kind == "f":
            values = [None if v != v else v for v in values]
        lists.append(values)
    return lists[0] if len(lists) == 1 else list(zip(*lists, strict=True))


def _padded(tables: dict) -> pd.DataFrame:
    """One frame of columns of different lengths, each padded by repeating its last value."""
    size = max((len(t) for t in tables.values()), default=1)
    data = {}
    for col, t in tables.items():
        data[col] = t if len(t) == size else t[np.minimum(np.arange(size), len(t) - 1)]
    return pd.DataFrame(data)


def suite_runner(catalog: Catalog, category: Category, today: dt.date) -> SuiteRunner:
    key = (id(catalog), catalog.version, category.name, today)
    with _lock:
        runner = _runners.get(key)
        if runner is None:
            if len(_runners) > 32:
                _runners.clear()
            runner = _runners[key] = SuiteRunner(catalog, category, today)
        return runner
