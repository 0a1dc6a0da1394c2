"""Which line of a trend plot each run belongs to, what the legend calls it, and its colour.

A line is one configuration (``identity.configuration``: parameters, clock, source, stage): a
parameter set of this flow at one clock, or, for imported runs (which carry no RTL parameters),
what is known of them -- "ORFS import" and the clock they ran at. Post-synthesis estimates and
post-route values of one configuration are two lines, never one: joining a synthesis area to a
routed area draws a jump that no design change made. The two share a colour (estimates dashed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

from orchestrator.record import RunRecord
from orchestrator.report import plots
from orchestrator.report.identity import Configuration, configuration, display_value, source_name
from orchestrator.report.view import is_post_synthesis

LABEL_LIMIT = 40
ESTIMATE_SUFFIX = " · post-synthesis"
# Colour-blind-safe, distinguishable on white (Okabe-Ito, then Tableau's darker tones).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f3c8d", "#8c564b",
           "#3969ac", "#e73f74", "#11a579", "#666666")


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[:LABEL_LIMIT - 1] + "…"


def series_key(record: RunRecord) -> Configuration:
    """The line a run belongs to: its configuration."""
    return configuration(record)


def series_labels(records: Sequence[RunRecord]) -> dict[Configuration, str]:
    """Legend label per ``series_key`` of ``records``.

    Configurations of this flow are told apart by what differs among them only (parameters,
    clock), so an import's missing parameters never show up as "C=-"; a single one is "this
    flow" next to imports. Imports are named by source, known parameters and clock:
    "ORFS import, 3 ns". A synthesis estimate's label ends in ``ESTIMATE_SUFFIX``.
    """
    keys = sorted({series_key(r) for r in records})
    own = [k for k in keys if k.kind.is_own]
    lines = sorted({k.line for k in own})
    names = sorted({name for line in lines for name, _ in line[2]})
    differing = [n for n in names if len({dict(line[2]).get(n) for line in lines}) > 1]
    clocks_differ = len({line[3] for line in lines}) > 1
    labels = {}
    for key in keys:
        if key.kind.is_own:
            params = dict(key.parameters)
            parts = [f"{n}={display_value(params.get(n, '-'))}" for n in differing]
            if clocks_differ:
                parts.append(key.clock_text)
            text = ", ".join(parts) or ("this flow" if len(own) < len(keys) else "")
        else:
            known = [f"{k}={display_value(v)}" for k, v in key.parameters]
            text = ", ".join([source_name(key.kind.source), *known, key.clock_text])
        labels[key] = _with_kind(_clip(text), key.kind.stage == "synthesis estimate")
    return labels


def _with_kind(label: str, is_estimate: bool) -> str:
    if is_estimate:
        return label + ESTIMATE_SUFFIX if label else "post-synthesis estimate"
    return label or "post-route"


def color_key(key: Configuration) -> str:
    return repr(key.line)


def assign_colors(keys: Iterable[str]) -> dict[str, str]:
    """A colour per series key, the same on every plot of a page and, unless two keys of one page
    would collide, on every page: each key starts at the palette slot of its hash and moves on to
    the next free one."""
    colors: dict[str, str] = {}
    used: set[int] = set()
    for key in sorted(set(keys)):
        slot = int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(PALETTE)
        for step in range(len(PALETTE)):
            if (slot + step) % len(PALETTE) not in used:
                slot = (slot + step) % len(PALETTE)
                break
        used.add(slot)
        if len(used) == len(PALETTE):
            used.clear()  # more lines than colours: reuse, the legend still names each
        colors[key] = PALETTE[slot]
    return colors


def trend_series(records: Sequence[RunRecord], metric: str, positions: np.ndarray, values: np.ndarray,
                 passing: np.ndarray, *, keys: Sequence[Configuration] | None = None,
                 labels: dict[Configuration, str] | None = None,
                 colors: dict[str, str] | None = None) -> list[plots.Series]:
    """The lines of one metric's trend over ``records`` (``positions``/``values``/``passing`` per
    record, NaN where a run has no value): one per configuration, estimates dashed.
    ``keys``/``labels``/``colors`` (``series_key`` per record, ``series_labels``, ``assign_colors``)
    may be passed in when one group is plotted for many metrics: the colours then agree."""
    if keys is None:
        keys = [series_key(r) for r in records]
    if labels is None:
        labels = series_labels(records)
    if colors is None:
        colors = assign_colors(color_key(k) for k in keys)
    present = ~np.isnan(values)
    members: dict[Configuration, list[int]] = {}
    for index, key in enumerate(keys):
        if present[index]:
            members.setdefault(key, []).append(index)
    series = []
    for key in sorted(members):
        index = np.array(members[key])
        estimate = any(is_post_synthesis(records[i], metric) for i in members[key])
        series.append(plots.Series(label=labels[key], dates=positions[index], values=values[index],
                                   passing=passing[index], estimate=estimate, color=colors[color_key(key)]))
    return series


def needs_legend(series: Sequence[plots.Series]) -> bool:
    """A lone line of estimates still needs its legend: it must not pass for routed values."""
    return len(series) > 1 or any(s.estimate for s in series)
