"""What makes two runs the same configuration, for every page of the gallery.

A configuration is (design, PDK, known parameters, clock period, source, stage). Two runs compare
-- share an index table, a bar chart, a trend line, a vs-ORFS ratio, a design-space front -- only
when their configurations say they measure the same thing:

- ``source``: this flow or an import (ORFS). An import carries no RTL parameters, so its size is
  unknown to us; it never shares a line or a ratio with a run of this flow.
- ``stage``: a synthesis estimate or a post-route figure. Synthesis area is the netlist before
  placement's buffering and resizing; joining it to a routed area draws a jump no design change made.

This module is the one place that defines it; pages group with ``configuration`` and pick runs
with ``newest_per``. Pure functions of records.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from orchestrator.history import record_sort_key
from orchestrator.record import RunRecord

Stage = Literal["post-route", "synthesis estimate"]
OWN_SOURCE = "siliconcompiler"
SOURCE_NAMES = {OWN_SOURCE: "this flow", "orfs": "ORFS import"}
# Not parameters of the design: the imported tool's design name, a sweep point's label.
NAME_PARAMETERS = frozenset({"orfs_design", "label"})
CLOCK_DIGITS = 9  # ORFS stores ps, we store ns: round away the conversion noise

K = TypeVar("K", bound=Hashable)


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, f"{source} import")


def stage_of(record: RunRecord) -> Stage:
    """Synthesis estimate when the area/cell figures come from synthesis (the flow never placed it)."""
    return "synthesis estimate" if record.post_synthesis else "post-route"


def known_parameters(record: RunRecord) -> dict[str, Any]:
    return {k: v for k, v in record.parameters.items() if k not in NAME_PARAMETERS}


def clock_of(record: RunRecord) -> float | None:
    period = record.metrics.clock_period_ns
    return round(float(period), CLOCK_DIGITS) if period is not None else None


@dataclass(frozen=True, order=True)
class Kind:
    """Source and stage: which runs may stand side by side at all."""

    source: str
    stage: Stage

    @property
    def label(self) -> str:
        return f"{source_name(self.source)}, {self.stage}"

    @property
    def is_own(self) -> bool:
        return self.source == OWN_SOURCE


@dataclass(frozen=True, order=True)
class Configuration:
    design: str
    pdk: str
    # Sorted (name, repr(value)): hashable, and 32 and "32" stay apart.
    parameters: tuple[tuple[str, str], ...]
    clock_period_ns: float  # NaN-free: -1.0 when unknown
    kind: Kind

    @property
    def clock_text(self) -> str:
        return f"{self.clock_period_ns:g} ns" if self.clock_period_ns >= 0 else "clock unknown"

    def parameters_text(self) -> str:
        return ", ".join(f"{k}={display_value(v)}" for k, v in self.parameters)

    @property
    def line(self) -> tuple:
        """The configuration without its stage: one colour for a configuration's estimate and
        its routed values (told apart by dashes), two colours for two configurations."""
        return (self.design, self.pdk, self.parameters, self.clock_period_ns, self.kind.source)


def display_value(text: str) -> str:
    """A parameter value as written in the config (the repr of a string without its quotes)."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def kind_of(record: RunRecord) -> Kind:
    return Kind(record.source, stage_of(record))


def configuration(record: RunRecord) -> Configuration:
    parameters = tuple(sorted((k, repr(v)) for k, v in known_parameters(record).items()))
    clock = clock_of(record)
    return Configuration(record.design, record.pdk, parameters, clock if clock is not None else -1.0,
                         kind_of(record))


def newest_per(records: Iterable[RunRecord], key: Callable[[RunRecord], K], *,
               status: Iterable[str] = ("pass",), prefer_passing: bool = False) -> dict[K, RunRecord]:
    """The newest record per ``key(record)`` among records of ``status`` (history order:
    timestamp, then run id). With ``prefer_passing`` a passing run beats any newer partial one
    (a partial run only stands in for a key that has no passing run)."""
    allowed = set(status)
    chosen: dict[K, RunRecord] = {}
    for record in records:
        if record.status not in allowed:
            continue
        k = key(record)
        current = chosen.get(k)
        if current is None:
            chosen[k] = record
            continue
        rank = (prefer_passing and record.status == "pass", record_sort_key(record))
        current_rank = (prefer_passing and current.status == "pass", record_sort_key(current))
        if rank > current_rank:
            chosen[k] = record
    return chosen


def design_kind(record: RunRecord) -> tuple[str, str, Kind]:
    """Key of an index column / a bar: one design on one PDK, of one source and stage."""
    return (record.pdk, record.design, kind_of(record))


def comparable(a: RunRecord, b: RunRecord, reference: dict[str, Any] | None = None) -> str | None:
    """None when ``a`` and ``b`` measure the same thing (a ratio of them means something), else why not.

    Both must be post-route, at the same clock. Their sizes must agree: equal known parameters, or,
    for an import that carries none, ``a`` at ``reference`` (the parameters the imported archive
    was run at, from the config)."""
    if stage_of(a) != stage_of(b):
        return f"{stage_of(a)} vs {stage_of(b)}: not compared"
    if stage_of(a) != "post-route":
        return "synthesis estimates: not compared"
    if clock_of(a) != clock_of(b):
        return "different clocks"
    pa, pb = known_parameters(a), known_parameters(b)
    if a.source == b.source or (pa and pb):
        return None if pa == pb else "different parameters"
    own, other_params = (pa, pb) if a.source == OWN_SOURCE else (pb, pa)
    if reference is not None and _same_size(own, reference) and all(own.get(k) == v for k, v in other_params.items()
                                                                     if k in own):
        return None
    return "size of the import unknown: not compared" if reference is None else "different size from the import"


def _same_size(parameters: dict[str, Any], reference: dict[str, Any]) -> bool:
    return {k: v for k, v in parameters.items() if k not in NAME_PARAMETERS} == \
        {k: v for k, v in reference.items() if k not in NAME_PARAMETERS}
