"""This flow next to the halutmatmul OpenROAD-flow-scripts results (records imported with
``import-orfs``, ``source == "orfs"``), at the same clock.

A comparison row is one configuration of this flow -- (pdk, design, parameter set, clock period) --
shown with its latest passing run (else its latest partial run, whose figures are then
post-synthesis estimates) beside the latest passing ORFS run of the same design and PDK at the
same clock period. Comparing at different clocks would compare the constraint, not the flow, so a
configuration whose clock ORFS never ran says so (with the clocks it did run) instead.
``compare_with_orfs`` is a pure function of records, like ``view``; ``write_pages`` writes the
site's ``vs-orfs.html`` from it (an entry of ``pages.PAGES``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.history import record_sort_key
from orchestrator.record import VIEWS, RunRecord
from orchestrator.report import identity
from orchestrator.report.pages import SiteView
from orchestrator.report.view import format_metric, is_post_synthesis, metric_label

# The figures of the halutmatmul summary the comparison is about, and those where ours / theirs is
# a meaningful ratio (positive sizes): chosen in ``record.VIEWS``.
COMPARED_METRICS: tuple[str, ...] = tuple(c.metric for c in VIEWS["orfs_compare"])
RATIO_METRICS = frozenset(c.metric for c in VIEWS["orfs_compare"] if c.ratio)
# Clock periods this close (relative) are the same constraint (ORFS stores ps, we store ns).
CLOCK_REL_TOL = 1e-6
IMPORT_SOURCE = "orfs"


@dataclass
class ComparedValue:
    metric: str
    label: str  # column header with unit
    ours: str  # formatted, or why it is missing
    theirs: str
    ours_value: float | None
    theirs_value: float | None
    ours_estimate: bool  # our figure is a post-synthesis estimate
    ratio: str = ""  # "0.06×" (ours / theirs) for sizes of comparable runs
    no_ratio: str = ""  # why there is no ratio (``identity.comparable``)


@dataclass
class ComparisonRow:
    pdk: str
    design: str
    clock_period_ns: float
    ours: RunRecord
    theirs: RunRecord | None
    note: str  # why there is no ORFS run to compare with ("" when there is one)
    ours_parameters: str  # "C=4, DU=1, K=4, M=2, ..."
    theirs_parameters: str
    values: list[ComparedValue] = field(default_factory=list)


@dataclass
class OrfsOnly:
    """ORFS results of a (pdk, design) this flow has no run of."""

    pdk: str
    design: str
    clocks_ns: list[float]
    latest: RunRecord


@dataclass
class OrfsComparison:
    rows: list[ComparisonRow]
    orfs_only: list[OrfsOnly]
    imported_runs: int  # ORFS records in the history
    own_runs: int  # records of this flow in the history

    @property
    def has_estimates(self) -> bool:
        return any(v.ours_estimate for row in self.rows for v in row.values)


def same_clock(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=CLOCK_REL_TOL, abs_tol=1e-9)


def _clocks_text(clocks: Iterable[float]) -> str:
    return ", ".join(f"{c:g}" for c in sorted(set(clocks)))


def _parameters_text(parameters: dict) -> str:
    shown = {k: v for k, v in parameters.items() if k != "orfs_design"}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def _value(record: RunRecord | None, metric: str) -> float | None:
    value = getattr(record.metrics, metric) if record is not None else None
    return float(value) if value is not None else None


def _compared(ours: RunRecord, theirs: RunRecord | None, metric: str, why_not: str | None) -> ComparedValue:
    mine, other = _value(ours, metric), _value(theirs, metric)
    estimate = mine is not None and is_post_synthesis(ours, metric)
    ratio = no_ratio = ""
    if metric in RATIO_METRICS and mine is not None and other:
        # A ratio of a C=4 run to a reference-size import, or of an estimate to a routed
        # figure, reads as a gain no flow made: only runs of one configuration get one.
        if why_not is None:
            ratio = f"{mine / other:.2f}×"
        else:
            no_ratio = why_not
    return ComparedValue(
        metric=metric, label=metric_label(metric),
        ours=format_metric(metric, mine) if mine is not None else "not reported",
        theirs=format_metric(metric, other) if other is not None else ("" if theirs is None else "not reported"),
        ours_value=mine, theirs_value=other, ours_estimate=estimate, ratio=ratio, no_ratio=no_ratio,
    )


def compare_with_orfs(records: Iterable[RunRecord], reference: dict[str, dict[str, Any]] | None = None
                      ) -> OrfsComparison:
    """``reference``: design -> the parameters the imported archive ran it at (the config's design
    entries); without it the size of an import is unknown and no ratio is printed."""
    records = sorted(records, key=record_sort_key)
    imported = [r for r in records if r.source == IMPORT_SOURCE]
    own = [r for r in records if r.source == "siliconcompiler"]
    # (pdk, design) -> passing ORFS runs with a clock, oldest first
    theirs_by_design: dict[tuple[str, str], list[RunRecord]] = {}
    for record in imported:
        if record.status == "pass" and record.metrics.clock_period_ns is not None:
            theirs_by_design.setdefault((record.pdk, record.design), []).append(record)

    # Our configurations (identity.configuration without its stage): the latest passing run, else
    # the latest partial one (fails have no figures), whose estimates are then shown but not compared.
    chosen = identity.newest_per(own, lambda r: identity.configuration(r).line, status=("pass", "partial"),
                                 prefer_passing=True)
    chosen = {line: r for line, r in chosen.items() if r.metrics.clock_period_ns is not None}

    rows = []
    for (design, pdk, _, period, _), ours in sorted(chosen.items(), key=lambda item: (item[0][1], item[0][0],
                                                                                       item[0][3], item[0][2])):
        candidates = theirs_by_design.get((pdk, design), [])
        matching = [r for r in candidates if same_clock(r.metrics.clock_period_ns, period)]
        theirs = matching[-1] if matching else None
        if theirs is not None:
            note = ""
        elif candidates:
            note = (f"no ORFS run at {period:g} ns (ORFS ran {design} on {pdk} at "
                    f"{_clocks_text(r.metrics.clock_period_ns for r in candidates)} ns)")
        else:
            note = f"no ORFS run of {design} on {pdk}"
        rows.append(ComparisonRow(
            pdk=pdk, design=design, clock_period_ns=period, ours=ours, theirs=theirs, note=note,
            ours_parameters=_parameters_text(ours.parameters),
            theirs_parameters=_parameters_text(theirs.parameters) if theirs is not None else "",
            values=[_compared(ours, theirs, metric,
                              identity.comparable(ours, theirs, (reference or {}).get(design)) if theirs else None)
                    for metric in COMPARED_METRICS],
        ))

    ours_designs = {(row.pdk, row.design) for row in rows}
    orfs_only = [
        OrfsOnly(pdk=pdk, design=design, clocks_ns=sorted({r.metrics.clock_period_ns for r in runs}), latest=runs[-1])
        for (pdk, design), runs in sorted(theirs_by_design.items()) if (pdk, design) not in ours_designs
    ]
    return OrfsComparison(rows=rows, orfs_only=orfs_only, imported_runs=len(imported), own_runs=len(own))


def write_pages(site: SiteView) -> None:
    """``vs-orfs.html``: this flow vs the imported ORFS runs at the same clock."""
    comparison = compare_with_orfs(site.records, site.orfs_reference)
    by_pdk: dict[str, list[dict[str, Any]]] = {}
    for row in comparison.rows:
        by_pdk.setdefault(row.pdk, []).append({
            "row": row,
            "ours_href": site.run_href(row.ours, ""),
            "theirs_href": site.run_href(row.theirs, "") if row.theirs is not None else None,
            "history_href": site.history_href(row.pdk, row.design, ""),
            "ours_layout": site.layout_href(row.ours),
            "theirs_layout": site.layout_href(row.theirs),
        })
    orfs_only = [{"entry": entry, "href": site.run_href(entry.latest, ""),
                  "clocks": ", ".join(f"{c:g}" for c in entry.clocks_ns)} for entry in comparison.orfs_only]
    site.write_page("vs-orfs.html", "vs_orfs.html", comparison=comparison, by_pdk=sorted(by_pdk.items()),
                    orfs_only=orfs_only, metrics=COMPARED_METRICS,
                    metric_labels={m: metric_label(m) for m in COMPARED_METRICS},
                    metric_is_ratio=RATIO_METRICS.__contains__)
