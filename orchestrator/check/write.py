"""Writing a baseline: ``update_baseline`` sets each selected (design, pdk) entry to its latest passing
run and writes the file atomically, keeping the rules and per-design overrides."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from orchestrator.check.compare import _selected, latest_runs, record_metric, record_stages
from orchestrator.check.schema import (
    CHECKABLE_METRICS,
    DEFAULT_RULES,
    Baseline,
    BaselineEntry,
    BaselineError,
    MetricRule,
    _check_rules,
    load_baseline,
)
from orchestrator.fsutil import atomic_write_text
from orchestrator.record import RunRecord

_HEADER = """\
# Regression baseline for `python -m orchestrator check` (schema_version 1).
#
# rules:     per metric, how a change is judged.
#   better:      lower | higher | none  (optional; it is the physics and cannot be inverted:
#                area, cells, GE, power, runtime, approx_error lower; frequency, fmax, WNS, TNS,
#                accuracy_pct higher)
#   rel_tol_pct: allowed worsening in % of |baseline|
#   abs_tol:     allowed worsening in the metric's unit (ns for WNS/TNS); the larger one applies
#   min / max:   hard bounds, checked on every run, baseline or not
# baseline:  <pdk>: <design>: the reference run. `stages` are the steps it completed (losing one
#            fails), `metrics` its values (a metric the current run lacks is reported as missing,
#            never read as 0), `rules` optional per-design overrides of the rules above.
#
# Rewrite the baseline entries from the latest passing runs with
#   python -m orchestrator check --update-baseline [--pdk P] [--design D]
# (rules and per-design overrides are kept).
"""


def entry_from_record(record: RunRecord, rules: dict[str, MetricRule] | None = None) -> BaselineEntry:
    metrics = {}
    for metric in CHECKABLE_METRICS:
        value = record_metric(record, metric)
        if value is not None and math.isfinite(value):
            metrics[metric] = value
    return BaselineEntry(
        run_id=record.run_id,
        timestamp=record.timestamp,
        source=record.source,
        status=record.status,
        stages=record_stages(record),
        metrics_origin=record.metrics_origin,
        parameters=record.parameters,
        metrics=metrics,
        rules=rules or {},
    )


def _rule_dict(rule: MetricRule) -> dict[str, Any]:
    return rule.model_dump(exclude_defaults=True)


def dump_baseline(baseline: Baseline) -> str:
    data: dict[str, Any] = {
        "schema_version": baseline.schema_version,
        "rules": {metric: _rule_dict(rule) for metric, rule in baseline.rules.items()},
        "baseline": {},
    }
    for pdk in sorted(baseline.baseline):
        data["baseline"][pdk] = {}
        for design in sorted(baseline.baseline[pdk]):
            entry = baseline.baseline[pdk][design]
            item = entry.model_dump(mode="json", exclude={"rules"})
            if entry.rules:
                item["rules"] = {metric: _rule_dict(rule) for metric, rule in entry.rules.items()}
            data["baseline"][pdk][design] = item
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
    return _HEADER + "\n" + body


def update_baseline(
    records: Iterable[RunRecord],
    baseline_path: Path,
    rules: dict[str, MetricRule] | None = None,
    *,
    pdks: Iterable[str] | None = None,
    designs: Iterable[str] | None = None,
) -> Path:
    """Set each selected (design, pdk) entry to its latest passing run and write the file atomically.

    Entries without a passing run in ``records`` and outside the selection are kept as they are;
    ``rules`` default to the existing file's, else ``DEFAULT_RULES``. A broken existing file is an
    error, never silently replaced.
    """
    baseline_path = Path(baseline_path)
    existing = load_baseline(baseline_path) if baseline_path.exists() else None
    if rules is None:
        rules = existing.rules if existing is not None else DEFAULT_RULES
    else:
        _check_rules(baseline_path, "rules", rules)
    pdks = None if pdks is None or "all" in pdks else set(pdks)
    designs = None if designs is None or "all" in designs else set(designs)
    chosen = {
        key: rec for key, rec in latest_runs(records, passing_only=True).items() if _selected(*key, pdks, designs)
    }
    if not chosen:
        raise BaselineError(f"{baseline_path}: no passing run in the history for this selection; baseline not written")
    entries: dict[str, dict[str, BaselineEntry]] = {
        pdk: dict(by_design) for pdk, by_design in (existing.baseline.items() if existing else [])
    }
    for (pdk, design), record in chosen.items():
        old = entries.get(pdk, {}).get(design)
        entries.setdefault(pdk, {})[design] = entry_from_record(record, old.rules if old else None)
    text = dump_baseline(Baseline(rules=rules, baseline=entries))
    return atomic_write_text(baseline_path, text)
