"""Which line of a trend plot each run belongs to, and what the legend calls it.

A line is one configuration: a parameter set of this flow, or, for imported runs (which carry no
RTL parameters), what is known of them -- "ORFS import" and the clock they ran at. Post-synthesis
estimates and post-route values of one configuration are two lines, never one: joining a
synthesis area to a routed area draws a jump that no design change made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator.record import RunRecord, parameters_key
from orchestrator.report import plots
from orchestrator.report.view import is_post_synthesis

LABEL_LIMIT = 40
ESTIMATE_SUFFIX = " · post-synthesis"
# Imported records keep their tool's design name here; it is a name, not a parameter.
_IMPORT_NAME_PARAMETERS = frozenset({"orfs_design"})
_IMPORT_SOURCE_NAMES = {"orfs": "ORFS import"}


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[:LABEL_LIMIT - 1] + "…"


def _is_import(record: RunRecord) -> bool:
    return record.source != "siliconcompiler"


def _known_parameters(record: RunRecord) -> dict[str, Any]:
    return {k: v for k, v in record.parameters.items() if k not in _IMPORT_NAME_PARAMETERS}


def _clock_text(record: RunRecord) -> str:
    period = record.metrics.clock_period_ns
    return f"{period:g} ns" if period is not None else "clock unknown"


def series_key(record: RunRecord) -> str:
    """The line a run belongs to: its parameter set; for imports, source + known parameters + clock."""
    if _is_import(record):
        return f"{record.source}:{parameters_key(_known_parameters(record))}:{_clock_text(record)}"
    return parameters_key(record.parameters)


def parameter_set_labels(sets: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Legend label per parameter set: only the parameters that differ ("M=4" vs "M=8")."""
    names = sorted({name for params in sets.values() for name in params})
    differing = [n for n in names if len({repr(p.get(n)) for p in sets.values()}) > 1]
    labels = {}
    for key, params in sets.items():
        text = ", ".join(f"{n}={params.get(n, '-')}" for n in differing) or f"params {key}"
        labels[key] = _clip(text)
    return labels


def series_labels(records: Sequence[RunRecord]) -> dict[str, str]:
    """Legend label per ``series_key`` of ``records``.

    Parameter sets of this flow are told apart by the parameters that differ among them only
    (an import's missing parameters never show up as "C=-"); a single one is "this flow" next to
    imports. Imports are named by source, known parameters and clock: "ORFS import, 3 ns".
    """
    own: dict[str, dict[str, Any]] = {}
    imported: dict[str, RunRecord] = {}
    for record in records:
        key = series_key(record)
        if _is_import(record):
            imported.setdefault(key, record)
        else:
            own.setdefault(key, record.parameters)
    # A lone parameter set needs no name of its own ("" -> the kind of value names the line).
    labels = parameter_set_labels(own) if len(own) > 1 else {key: "this flow" if imported else "" for key in own}
    for key, record in imported.items():
        parts = [_IMPORT_SOURCE_NAMES.get(record.source, f"{record.source} import")]
        parts += [f"{name}={value}" for name, value in sorted(_known_parameters(record).items())]
        parts.append(_clock_text(record))
        labels[key] = _clip(", ".join(parts))
    return labels


def _with_kind(label: str, is_estimate: bool) -> str:
    if is_estimate:
        return label + ESTIMATE_SUFFIX if label else "post-synthesis estimate"
    return label or "post-route"


def trend_series(records: Sequence[RunRecord], metric: str, dates: np.ndarray, values: np.ndarray,
                 passing: np.ndarray, *, keys: np.ndarray | None = None,
                 labels: dict[str, str] | None = None) -> list[plots.Series]:
    """The lines of one metric's trend over ``records`` (``dates``/``values``/``passing`` per record,
    NaN where a run has no value): one per configuration and kind of value, estimates dashed.
    ``keys``/``labels`` (``series_key`` per record, ``series_labels``) may be passed in when one
    group is plotted for many metrics."""
    if keys is None:
        keys = np.array([series_key(r) for r in records])
    if labels is None:
        labels = series_labels(records)
    estimate = np.array([is_post_synthesis(r, metric) for r in records], dtype=bool)
    present = ~np.isnan(values)
    series = []
    for key in sorted(set(keys[present].tolist())):
        for is_estimate in (False, True):
            mask = present & (keys == key) & (estimate == is_estimate)
            if not mask.any():
                continue
            label = _with_kind(labels[key], is_estimate)
            series.append(plots.Series(label=label, dates=dates[mask], values=values[mask], passing=passing[mask],
                                       estimate=is_estimate))
    return series


def needs_legend(series: Sequence[plots.Series]) -> bool:
    """A lone line of estimates still needs its legend: it must not pass for routed values."""
    return len(series) > 1 or any(s.estimate for s in series)
