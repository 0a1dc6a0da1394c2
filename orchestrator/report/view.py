"""What the reports show, independent of HTML or Markdown: index rows, number formats and the
reason a value is missing. Pure functions of ``RunRecord``; no file access.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.names import NOT_PLAIN
from orchestrator.record import (
    METRIC_SPEC,
    METRIC_SPECS,
    METRIC_UNITS,
    POST_SYNTHESIS_ESTIMATES,
    VIEWS,
    Format,
    RunRecord,
    View,
    format_kge,
)
from orchestrator.report.identity import OWN_SOURCE, Kind, kind_of, newest_per
from orchestrator.steps import record_step_origin


def _fmt_area(value: float) -> str:
    return f"{value:,.2f}"


def _fmt_freq(value: float) -> str:
    return f"{value:,.1f}"


def _fmt_count(value: float) -> str:
    return f"{round(value):,}"


def _fmt_voltage(value: float) -> str:
    return f"{value:.2f}"


def _fmt_pct(value: float) -> str:
    return f"{value:.1f}"


def _fmt_ns(value: float) -> str:
    return f"{value:.3f}"


def _fmt_power(value: float) -> str:
    # Three significant digits below 1 mW (leakage is often µW-scale), two decimals above.
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


@dataclass(frozen=True)
class IndexRow:
    metric: str
    label: str  # row header of the halutmatmul summary table

    @property
    def fmt(self) -> Callable[[float], str]:
        return _FORMATTERS[self.metric]


def _rows(view: View) -> tuple[IndexRow, ...]:
    return tuple(IndexRow(c.metric, c.label or metric_label(c.metric)) for c in VIEWS[view])


def format_metric(metric: str, value: float | None) -> str:
    """Display text of one metric value ("" for None: callers show the reason instead)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    fmt = _FORMATTERS.get(metric, format_number)
    # format_number keeps an int an int; the unit formats take the value as a float.
    return format_number(value) if fmt is format_number else fmt(float(value))


def format_number(value: float) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.3f}"
    return f"{value:.4g}"


# ``MetricSpec.fmt`` name -> its function; every registry metric gets one.
FORMATS: dict[Format, Callable[[float], str]] = {
    "area": _fmt_area,
    "freq": _fmt_freq,
    "count": _fmt_count,
    "ns": _fmt_ns,
    "pct": _fmt_pct,
    "voltage": _fmt_voltage,
    "power": _fmt_power,
    "kge": format_kge,
    "number": format_number,
}
_FORMATTERS: dict[str, Callable[[float], str]] = {spec.name: FORMATS[spec.fmt] for spec in METRIC_SPECS}


def format_runtime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {rest:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def metric_label(metric: str) -> str:
    """Axis/column label: the registry's human name with its unit, e.g. "Std-cell area [µm²]"."""
    spec = METRIC_SPEC.get(metric)
    name = spec.title if spec is not None else metric
    unit = METRIC_UNITS.get(metric)
    return f"{name} [{unit}]" if unit else name


# The summary table of the halutmatmul project and the sign-off figures under it (``record.VIEWS``).
INDEX_ROWS: tuple[IndexRow, ...] = _rows("index")
SIGNOFF_ROWS: tuple[IndexRow, ...] = _rows("signoff")


def short_reason(reason: str) -> str:
    """First clause of a tool's reason ("openroad not installed (install ...)" -> "openroad not installed")."""
    text = reason.strip().splitlines()[0] if reason.strip() else reason
    head = re.split(r"\s[(\[]|;\s", text, maxsplit=1)[0].strip()
    return head or text


def is_post_synthesis(record: RunRecord, metric: str) -> bool:
    """True when the value is a synthesis estimate rather than a P&R/STA figure."""
    if record_step_origin(record.source, record.metric_steps.get(metric, "")) == "synthesis":
        return True
    return record.post_synthesis and metric in POST_SYNTHESIS_ESTIMATES


def missing_reason(record: RunRecord | None, metric: str) -> str:
    """Why a metric is absent, in a few words (never a fake value)."""
    if record is None:
        return "no run"
    if record.skipped_stages:
        first = record.skipped_stages[0]
        return f"no P&R: {short_reason(first.reason)}" if record.metrics_origin is None or record.post_synthesis else (
            f"{first.step} skipped: {short_reason(first.reason)}"
        )
    if record.status != "pass" and record.reason:
        return f"{record.status}: {short_reason(record.reason)}"
    if record.post_synthesis and metric in POST_SYNTHESIS_ESTIMATES:
        return "no P&R (synthesis only)"
    if record.stage_reached:
        return f"not reported (flow reached {record.stage_reached})"
    return "not reported by the flow"


def missing_run_reason(latest_any: RunRecord | None) -> str:
    """Why a (design, pdk) column has no passing run."""
    if latest_any is None:
        return "no run"
    why = short_reason(latest_any.reason) if latest_any.reason else "no reason recorded"
    return f"no passing run (latest {latest_any.status}: {why})"


def slug(text: str) -> str:
    """A file-name-safe, collision-free name: the text itself when already safe, else a cleaned
    version plus a short hash of the original."""
    cleaned = NOT_PLAIN.sub("_", text).strip("._") or "_"
    if cleaned == text and not text.startswith("."):
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:60]}-{digest}"


@dataclass
class IndexCell:
    text: str  # formatted value, or the reason it is missing
    value: float | None  # the raw number (None when missing)
    missing: bool
    post_synthesis: bool
    note: str = ""  # hover text: full reason, source step


@dataclass
class IndexColumn:
    design: str
    record: RunRecord | None  # latest passing run, else latest partial run, else None
    note: str  # "" for a passing run, else what the column shows instead and why


@dataclass
class IndexRowView:
    metric: str
    label: str
    cells: list[IndexCell]


@dataclass
class IndexTable:
    pdk: str
    description: str
    columns: list[IndexColumn]
    rows: list[IndexRowView]
    # Source and stage of every column: runs of another source or stage get a table of their own.
    kind: Kind = field(default_factory=lambda: Kind(OWN_SOURCE, "post-route"))

    @property
    def has_post_synthesis(self) -> bool:
        return any(cell.post_synthesis for row in self.rows for cell in row.cells)

    @property
    def title(self) -> str:
        return self.kind.label


def index_cell(record: RunRecord | None, metric: str, column_note: str) -> IndexCell:
    if record is None:
        # The column header gives the full reason once; the cells stay short.
        return IndexCell(text="no passing run", value=None, missing=True, post_synthesis=False, note=column_note)
    value = getattr(record.metrics, metric)
    if value is None:
        reason = missing_reason(record, metric)
        full = "; ".join(f"{s.step}: {s.reason}" for s in record.skipped_stages) or (record.reason or reason)
        return IndexCell(text=reason, value=None, missing=True, post_synthesis=False, note=full)
    step = record.metric_steps.get(metric)
    post = is_post_synthesis(record, metric)
    note = f"from {step}" if step else ""
    scenario = record.metric_scenarios.get(metric)
    if scenario:
        note = (note + " " if note else "") + f"at the {scenario} scenario"
    if post:
        note = (note + "; " if note else "") + "post-synthesis estimate (no P&R)"
    return IndexCell(text=format_metric(metric, value), value=float(value), missing=False, post_synthesis=post,
                     note=note)


def build_index_tables(records: list[RunRecord], pdk_order: list[str] | None = None,
                       descriptions: dict[str, str] | None = None,
                       rows: tuple[IndexRow, ...] = INDEX_ROWS) -> list[IndexTable]:
    """The halutmatmul-style summary tables per PDK: one column per design, one table per kind of
    run (``identity.Kind``: this flow or an import, post-route or synthesis estimate), this
    flow's first, so that only like stands beside like.

    Per (PDK, source) a design has one column: its latest passing run, else its latest partial
    run (e.g. synthesis only, P&R skipped because OpenROAD is missing), said so in the header;
    the column goes to the table of that run's stage. With neither, the column says why (the
    latest failure's reason), in the source's first table.
    """
    records = list(records)
    chosen = newest_per(records, lambda r: (r.pdk, r.source, r.design), status=("pass", "partial"),
                        prefer_passing=True)
    newest = newest_per(records, lambda r: (r.pdk, r.source, r.design), status=("pass", "partial", "fail"))
    pdks = sorted({r.pdk for r in records})
    if pdk_order:
        pdks = [p for p in pdk_order if p in pdks] + [p for p in pdks if p not in pdk_order]
    tables: list[IndexTable] = []
    for pdk in pdks:
        sources = sorted({s for p, s, _ in newest if p == pdk}, key=lambda s: (s != OWN_SOURCE, s))
        for source in sources:
            by_kind: dict[Kind, list[IndexColumn]] = {}
            without_run = []
            for design in sorted(d for p, s, d in newest if p == pdk and s == source):
                record = chosen.get((pdk, source, design))
                if record is None:
                    without_run.append(IndexColumn(design=design, record=None,
                                                   note=missing_run_reason(newest.get((pdk, source, design)))))
                    continue
                note = ""
                if record.status != "pass":
                    note = f"partial run: {short_reason(record.reason) if record.reason else 'flow stopped early'}"
                by_kind.setdefault(kind_of(record), []).append(IndexColumn(design=design, record=record, note=note))
            if without_run:
                first = min(by_kind) if by_kind else Kind(source, "post-route")
                by_kind.setdefault(first, []).extend(without_run)
            for kind in sorted(by_kind, key=lambda k: (k.stage != "post-route", k.stage)):
                columns = sorted(by_kind[kind], key=lambda c: c.design)
                table_rows = [
                    IndexRowView(row.metric, row.label, [index_cell(c.record, row.metric, c.note) for c in columns])
                    for row in rows
                ]
                tables.append(IndexTable(pdk=pdk, description=(descriptions or {}).get(pdk, ""), columns=columns,
                                         rows=table_rows, kind=kind))
    return tables


def build_signoff_tables(records: list[RunRecord], pdk_order: list[str] | None = None) -> list[IndexTable]:
    """The post-route figures (fmax, setup/hold slack, power, util, DRC, flops/latches) of this
    flow's runs (``source == "siliconcompiler"``; imports have their own page), per PDK, with the
    same column choice as ``build_index_tables``. A PDK with no run of this flow has no table."""
    own = [r for r in records if r.source == "siliconcompiler"]
    return build_index_tables(own, pdk_order, rows=SIGNOFF_ROWS)
