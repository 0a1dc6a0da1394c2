"""Regression gate: the latest run of every (design, pdk) against a committed baseline.

The baseline file (``reports/baseline.yaml``) holds two things:

* ``rules``: per metric, which way is better, how much worsening is tolerated (relative and/or
  absolute) and optional hard bounds;
* ``baseline``: per PDK and design, the reference run (status, completed stages, metrics).

Which way is better is physics, not configuration: it is declared with each metric
(``record.METRIC_SPECS``, ``METRIC_BETTER`` below), and a rule may restate it but never invert it.
``run_check`` is pure (records in, a ``CheckResult`` out); rendering and writing are separate
functions the CLI calls.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.config import format_validation_error, read_yaml_mapping
from orchestrator.errors import OrchestratorError, clip, cut
from orchestrator.fsutil import atomic_write_text
from orchestrator.history import SkippedRecord, latest_records
from orchestrator.markdown import md_text
from orchestrator.names import did_you_mean
from orchestrator.record import METRIC_BETTER as RECORD_METRIC_BETTER
from orchestrator.record import METRIC_NAMES, METRIC_SPECS, METRIC_UNITS, Better, RunRecord, Status, parameters_key

BASELINE_SCHEMA_VERSION = 1

# Which direction is an improvement: the physics declared with each metric (record.METRIC_SPECS).
# "none": the value has no better side (an operating point or a ratio that is only wrong outside
# bounds). WNS/TNS are <= 0 when failing, so a higher (less negative) value is better.
METRIC_BETTER: dict[str, Better] = {
    **RECORD_METRIC_BETTER,
    "total_runtime_s": "lower",  # RunRecord.total_runtime_s: the steps' wall times summed
}

CHECKABLE_METRICS: tuple[str, ...] = (*METRIC_NAMES, "total_runtime_s")
CHECK_UNITS: dict[str, str] = {**METRIC_UNITS, "total_runtime_s": "s", "stages": "steps"}

# "skipped (tool missing)", "no baseline" and "not gated" are states, not findings: a machine
# without OpenROAD, a project without a baseline yet and an imported archive of someone else's
# runs are reported as such and pass the gate (only a real regression fails it).
SKIPPED_TOOL = "skipped (tool missing)"
NO_BASELINE = "no baseline"
NOT_GATED = "not gated"
Verdict = Literal["ok", "improved", "new", "regressed", "out of bounds", "missing", "failed",
                  "skipped (tool missing)", "no baseline", "not gated"]
FAILING_VERDICTS: frozenset[str] = frozenset({"regressed", "out of bounds", "missing", "failed"})

# The flow this gate guards; records of any other source (ORFS imports) are gated only when the
# baseline names them (an entry with that source).
OWN_SOURCE = "siliconcompiler"


class BaselineError(OrchestratorError):
    """The baseline file is missing or invalid (a usage error: exit 2)."""


class SelectionError(OrchestratorError):
    """--pdk/--design names nothing in the history or the baseline (a typo must not pass the gate)."""


# --------------------------------------------------------------------------------------------
# Baseline file schema


class MetricRule(BaseModel):
    """How one metric is judged. Allowed worsening = max(rel_tol_pct % of |baseline|, abs_tol)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN would disable the rule

    better: Better | None = None  # None = the physics in METRIC_BETTER
    rel_tol_pct: float = Field(default=0.0, ge=0)
    abs_tol: float = Field(default=0.0, ge=0)  # in the metric's unit
    min: float | None = None  # hard bounds: any value outside fails, baseline or not
    max: float | None = None

    @model_validator(mode="after")
    def _ordered_bounds(self) -> MetricRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def merged(self, override: MetricRule | None) -> MetricRule:
        if override is None:
            return self
        return self.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})


class BaselineEntry(BaseModel):
    """The reference run of one (design, pdk)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    timestamp: datetime
    source: str | None = None
    status: Status = "pass"
    stages: list[str] = Field(default_factory=list)  # steps that completed, in flow order
    metrics_origin: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, int | float] = Field(default_factory=dict)
    rules: dict[str, MetricRule] = Field(default_factory=dict)  # per-design overrides of ``rules``


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = BASELINE_SCHEMA_VERSION
    rules: dict[str, MetricRule] = Field(default_factory=dict)
    baseline: dict[str, dict[str, BaselineEntry]] = Field(default_factory=dict)  # pdk -> design -> entry

    def entry(self, pdk: str, design: str) -> BaselineEntry | None:
        return self.baseline.get(pdk, {}).get(design)

    def rule_for(self, metric: str, entry: BaselineEntry | None) -> MetricRule | None:
        base = self.rules.get(metric)
        if metric in SIGNOFF_LIMITS:
            # A sign-off limit applies to every design; a rule in the file (a waiver) overrides it.
            base = SIGNOFF_LIMITS[metric].merged(base)
        override = entry.rules.get(metric) if entry is not None else None
        if base is None:
            return override
        return base.merged(override)


# Physical sign-off limits that every baseline file gets (``MetricSpec.signoff_max``): a routed
# design with DRC or electrical rule violations cannot be taped out, so any count above 0 fails,
# with or without a baseline.
SIGNOFF_LIMITS: dict[str, MetricRule] = {
    spec.name: MetricRule(better=spec.better, max=spec.signoff_max)
    for spec in METRIC_SPECS if spec.signoff_max is not None
}

# Written into a fresh baseline file (``MetricSpec.gate``, then the runtime); afterwards the file
# is the source of truth.
DEFAULT_RULES: dict[str, MetricRule] = {
    **{spec.name: MetricRule(better=spec.better, **spec.gate.fields()) for spec in METRIC_SPECS if spec.gate},
    "total_runtime_s": MetricRule(better=METRIC_BETTER["total_runtime_s"], rel_tol_pct=25.0, abs_tol=60.0),
}


def _check_metric_name(path: Path, key: str, metric: str) -> None:
    if metric not in CHECKABLE_METRICS:
        known = ", ".join(CHECKABLE_METRICS)
        raise BaselineError(f"{path}: key '{cut(key)}': unknown metric (value: {clip(metric)}; known: {known})")


def _check_rules(path: Path, prefix: str, rules: dict[str, MetricRule]) -> None:
    for metric, rule in rules.items():
        _check_metric_name(path, f"{prefix}.{metric}", metric)
        physics = METRIC_BETTER[metric]
        if rule.better is not None and rule.better != physics:
            raise BaselineError(
                f"{path}: key '{prefix}.{metric}.better': {metric} is better when {physics}, "
                f"a rule cannot invert that (value: {rule.better!r})"
            )


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a baseline file; every problem is one BaselineError line naming file/key/value."""
    path = Path(path)
    data = read_yaml_mapping(
        path, BaselineError, kind="baseline",
        not_found_hint="create it with `python -m orchestrator check --update-baseline`", empty_ok=False,
    )
    try:
        baseline = Baseline.model_validate(data)
    except ValidationError as exc:
        raise BaselineError(format_validation_error(path, exc)) from None
    _check_rules(path, "rules", baseline.rules)
    for pdk, designs in baseline.baseline.items():
        for design, entry in designs.items():
            prefix = f"baseline.{pdk}.{design}"
            for metric, value in entry.metrics.items():
                _check_metric_name(path, f"{prefix}.metrics.{metric}", metric)
                if not math.isfinite(value):
                    raise BaselineError(f"{path}: key '{prefix}.metrics.{metric}': not a finite number "
                                        f"(value: {value!r})")
            _check_rules(path, f"{prefix}.rules", entry.rules)
    return baseline


# --------------------------------------------------------------------------------------------
# Comparing


def record_metric(record: RunRecord, metric: str) -> int | float | None:
    if metric == "total_runtime_s":
        return record.total_runtime_s
    return getattr(record.metrics, metric)


def record_stages(record: RunRecord) -> list[str]:
    """Steps that completed, in flow order; the last completed step when no step list exists."""
    stages = [step.step for step in record.steps if step.status == "success"]
    if not stages and record.stage_reached:
        stages = [record.stage_reached]
    return stages


def delta_pct(baseline: float | None, current: float | None) -> float | None:
    if baseline is None or current is None:
        return None
    if baseline == 0:
        return 0.0 if current == 0 else None
    return (current - baseline) / abs(baseline) * 100.0


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def missing_tools(record: RunRecord) -> list[str]:
    """The tools whose absence cut this run short ("openroad not installed"), in flow order; empty
    when the run was not cut by a missing tool (it passed, failed, or stopped for another reason)."""
    if record.status != "partial":
        return []
    # A skip with ``blocked_by`` only inherits an upstream skip; the root ones name the tool.
    return list(dict.fromkeys(s.reason.split(" (")[0] for s in record.skipped_stages if s.blocked_by is None))


def describe_rule(metric: str, rule: MetricRule) -> str:
    """Short human form of a rule, e.g. "lower, tol 2%" or "within 20..75 %"."""
    better = rule.better or METRIC_BETTER[metric]
    unit = CHECK_UNITS.get(metric, "")
    parts: list[str] = []
    if better != "none":
        tols = []
        if rule.rel_tol_pct:
            tols.append(f"{_fmt(rule.rel_tol_pct)}%")
        if rule.abs_tol:
            tols.append(f"{_fmt(rule.abs_tol)} {unit}")
        parts.append(f"{better}, tol {' or '.join(tols)}" if tols else f"{better}, exact")
    if rule.min is not None or rule.max is not None:
        low = _fmt(rule.min) if rule.min is not None else "-inf"
        high = _fmt(rule.max) if rule.max is not None else "inf"
        parts.append(f"within {low}..{high} {unit}")
    return "; ".join(parts)


def compare_metric(
    metric: str, baseline: float | None, current: float | None, rule: MetricRule
) -> tuple[Verdict, str] | None:
    """Judge one metric. None when neither run has a value (nothing to check)."""
    unit = CHECK_UNITS.get(metric, "")
    if current is None:
        if baseline is None:
            return None
        return "missing", "not produced by the current run (not treated as 0)"
    bound_problems = []
    if rule.min is not None and current < rule.min:
        bound_problems.append(f"below min {_fmt(rule.min)} {unit}")
    if rule.max is not None and current > rule.max:
        bound_problems.append(f"above max {_fmt(rule.max)} {unit}")
    if bound_problems:
        return "out of bounds", "; ".join(bound_problems)
    if baseline is None:
        return "new", "no baseline value"
    better = rule.better or METRIC_BETTER[metric]
    if better == "none":
        return "ok", ""
    worsening = current - baseline if better == "lower" else baseline - current
    allowed = max(abs(baseline) * rule.rel_tol_pct / 100.0, rule.abs_tol)
    at_limit = math.isclose(abs(worsening), allowed, rel_tol=1e-9, abs_tol=1e-12)
    if worsening > allowed and not at_limit:
        return "regressed", f"worse by {_fmt(abs(worsening))} {unit} (allowed {_fmt(allowed)})"
    if worsening < 0 and -worsening > allowed and not at_limit:
        return "improved", f"better by {_fmt(-worsening)} {unit}"
    return "ok", ""


@dataclass(frozen=True)
class CheckRow:
    pdk: str
    design: str
    metric: str  # a metric name, or "status" / "stages" / "run"
    unit: str
    baseline: float | str | None
    current: float | str | None
    delta_pct: float | None
    rule: str
    verdict: Verdict
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING_VERDICTS


@dataclass(frozen=True)
class DesignResult:
    pdk: str
    design: str
    baseline_run_id: str | None
    current_run_id: str | None
    rows: tuple[CheckRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(row.failed for row in self.rows)

    @property
    def states(self) -> set[str]:
        """The non-failing states of this design/PDK: skipped (tool missing), no baseline, not gated."""
        found = {row.verdict for row in self.rows} & {SKIPPED_TOOL, NOT_GATED}
        if self.baseline_run_id is None and NOT_GATED not in found:
            found.add(NO_BASELINE)
        return found


@dataclass(frozen=True)
class CheckResult:
    baseline_path: Path
    designs: tuple[DesignResult, ...] = field(default_factory=tuple)
    # History files of the selection that could not be read: their (pdk, design) was judged without them.
    skipped: tuple[SkippedRecord, ...] = field(default_factory=tuple)

    @property
    def unjudged(self) -> list[str]:
        """One line per quarantined history file of the selection: which design/PDK it leaves unjudged."""
        return [f"{s.pdk}/{s.design}: not judged on {s.path.name} (unreadable history record)" for s in self.skipped]
    baseline_found: bool = True  # False: the default baseline file does not exist (yet)

    @property
    def rows(self) -> list[CheckRow]:
        return [row for design in self.designs for row in design.rows]

    @property
    def regressions(self) -> list[CheckRow]:
        return [row for row in self.rows if row.failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def count(self, state: str) -> int:
        return sum(1 for design in self.designs if state in design.states)

    @property
    def summary(self) -> str:
        failing = [d for d in self.designs if d.failed]
        if not self.designs:
            return "nothing to check: no runs in the history and no baseline entries for this selection"
        gated = [d for d in self.designs if NOT_GATED not in d.states]
        pairs = f"{len(gated)} design/PDK pair{'s' if len(gated) != 1 else ''}"
        if failing:
            n = len(self.regressions)
            head = f"FAIL: {n} regression{'s' if n != 1 else ''} in {len(failing)} of {pairs}"
        elif not gated:
            head = "OK: nothing is gated"
        else:
            head = f"OK: all {sum(len(d.rows) for d in gated)} checks hold across {pairs}"
        states = [f"{self.count(state)} {state}" for state in (SKIPPED_TOOL, NO_BASELINE, NOT_GATED)
                  if self.count(state)]
        return head + (" — " + ", ".join(states) if states else "")

    @property
    def baseline_state(self) -> str | None:
        """Why nothing (or not everything) is compared with a reference, or None when all is."""
        if not self.baseline_found:
            return (f"no baseline: {self.baseline_path} not found; designs are reported, judged by status "
                    "and bounds only (`check --update-baseline` writes it)")
        if self.designs and all(d.baseline_run_id is None for d in self.designs):
            return (f"no baseline: {self.baseline_path} has no entries for this selection; designs are "
                    "reported, judged by status and bounds only (`check --update-baseline` adds them)")
        return None


def latest_runs(records: Iterable[RunRecord], *, passing_only: bool = False) -> dict[tuple[str, str], RunRecord]:
    """Newest record per (pdk, design), by timestamp then run id (``history.latest_records``)."""
    chosen = latest_records(records, passing_only=passing_only)
    return {(pdk, design): record for (design, pdk), record in chosen.items()}


def gated_runs(records: Iterable[RunRecord], baseline: Baseline) -> dict[tuple[str, str], RunRecord]:
    """The run judged per (pdk, design): the newest of the source its baseline entry names (any
    source for an entry without one); without an entry, the newest of this flow's own runs, else
    the newest foreign one (reported as not gated). Importing an archive never changes the
    verdict on this flow's runs, nor does a run of this flow change that of a baselined import."""
    by_source: dict[str, list[RunRecord]] = {}
    records = list(records)
    for record in records:
        by_source.setdefault(record.source, []).append(record)
    newest_of = {source: latest_runs(recs) for source, recs in by_source.items()}
    newest_any = latest_runs(records)
    chosen: dict[tuple[str, str], RunRecord] = {}
    for key, newest in newest_any.items():
        entry = baseline.entry(*key)
        if entry is not None and entry.source:
            record = newest_of.get(entry.source, {}).get(key)
        elif entry is not None:
            record = newest
        else:
            record = newest_of.get(OWN_SOURCE, {}).get(key, newest)
        if record is not None:
            chosen[key] = record
    return chosen


def _selected(pdk: str, design: str, pdks: Iterable[str] | None, designs: Iterable[str] | None) -> bool:
    return (pdks is None or pdk in pdks) and (designs is None or design in designs)


def _check_design(
    baseline: Baseline, pdk: str, design: str, entry: BaselineEntry | None, record: RunRecord | None
) -> DesignResult:
    rows: list[CheckRow] = []
    notes: list[str] = []

    def row(metric: str, base: Any, cur: Any, verdict: Verdict, detail: str = "", rule: str = "", delta=None):
        rows.append(CheckRow(pdk, design, metric, CHECK_UNITS.get(metric, ""), base, cur, delta, rule, verdict, detail))

    if record is None:
        assert entry is not None
        source = f" from {entry.source}" if entry.source else ""
        row("run", entry.run_id, None, "missing", f"no run{source} of this design/PDK in the history")
        return DesignResult(pdk, design, entry.run_id, None, tuple(rows))
    if entry is None and record.source != OWN_SOURCE:
        row("run", None, record.run_id, NOT_GATED, f"{record.source} import; the baseline does not name it")
        return DesignResult(pdk, design, None, record.run_id, tuple(rows))

    # Status: a design that passed and now fails is a regression; a reason says why. A run cut
    # short by a missing tool is its own state: what it lost against the baseline is judged by
    # the stages row below (a stage lost is a regression), so the status row itself never fails.
    tools = missing_tools(record)
    base_status = entry.status if entry else None
    if tools and (entry is None or entry.status != "pass" or entry.stages):
        row("status", base_status, record.status, SKIPPED_TOOL, f"after {record.stage_reached}: " + "; ".join(tools))
    elif record.status == "pass":
        if entry is None:
            row("status", None, record.status, NO_BASELINE)
        else:
            row("status", base_status, record.status, "ok")
    elif entry is None:
        row("status", None, record.status, "failed", record.reason or "")
    elif entry.status == "pass":
        row("status", entry.status, record.status, "regressed", record.reason or "")
    else:
        row("status", entry.status, record.status, "ok", "still failing, as in the baseline")

    if entry is not None and entry.stages:
        current_stages = record_stages(record)
        lost = [stage for stage in entry.stages if stage not in current_stages]
        if lost:
            row("stages", len(entry.stages), len(current_stages), "regressed", "lost: " + ", ".join(lost))
        else:
            row("stages", len(entry.stages), len(current_stages), "ok")

    for metric in CHECKABLE_METRICS:
        rule = baseline.rule_for(metric, entry)
        if rule is None:
            continue
        base_value = entry.metrics.get(metric) if entry is not None else None
        current_value = record_metric(record, metric)
        judged = compare_metric(metric, base_value, current_value, rule)
        if judged is None:
            continue
        verdict, detail = judged
        row(metric, base_value, current_value, verdict, detail, describe_rule(metric, rule),
            delta_pct(base_value, current_value))

    if entry is None:
        notes.append("no baseline entry: only status and bounds are checked (`check --update-baseline` adds it)")
    else:
        if entry.parameters and parameters_key(entry.parameters) != parameters_key(record.parameters):
            notes.append(f"parameters changed: {entry.parameters} -> {record.parameters}")
        if entry.metrics_origin and record.metrics_origin and entry.metrics_origin != record.metrics_origin:
            notes.append(f"metrics come from '{record.metrics_origin}', baseline from '{entry.metrics_origin}'")
        base_freq, freq = entry.metrics.get("target_freq_mhz"), record.metrics.target_freq_mhz
        if base_freq is not None and freq is not None and not math.isclose(base_freq, freq, rel_tol=1e-9):
            # A tighter clock buys frequency with area and slack; say so next to those rows.
            notes.append(f"clock constraint changed: {_fmt(base_freq)} -> {_fmt(freq)} MHz")
    return DesignResult(pdk, design, entry.run_id if entry else None, record.run_id, tuple(rows), tuple(notes))


def _selection(
    names: Iterable[str] | None, known: set[str], option: str, baseline_path: Path
) -> set[str] | None:
    """The requested names (None = all; "all" as in `run --pdk all`); unknown names are an error."""
    if names is None:
        return None
    wanted = set(names)
    if "all" in wanted:
        return None
    unknown = sorted(wanted - known)
    if unknown:
        have = ", ".join(sorted(known)) or "none"
        raise SelectionError(
            f"{option} {clip(unknown[0])}: no runs in the history and no entries in {baseline_path} (known: {have})"
            + did_you_mean(unknown[0], known)
        )
    return wanted


def check_against(
    records: Iterable[RunRecord],
    baseline: Baseline,
    baseline_path: Path,
    *,
    pdks: Iterable[str] | None = None,
    designs: Iterable[str] | None = None,
    baseline_found: bool = True,
) -> CheckResult:
    newest = gated_runs(records, baseline)
    known_pdks = {pdk for pdk, _ in newest} | set(baseline.baseline)
    known_designs = {design for _, design in newest} | {d for by in baseline.baseline.values() for d in by}
    pdks = _selection(pdks, known_pdks, "--pdk", baseline_path)
    designs = _selection(designs, known_designs, "--design", baseline_path)
    current = {key: rec for key, rec in newest.items() if _selected(*key, pdks, designs)}
    keys = set(current)
    for pdk, by_design in baseline.baseline.items():
        keys.update((pdk, design) for design in by_design if _selected(pdk, design, pdks, designs))
    results = [
        _check_design(baseline, pdk, design, baseline.entry(pdk, design), current.get((pdk, design)))
        for pdk, design in sorted(keys)
    ]
    return CheckResult(Path(baseline_path), tuple(results), baseline_found=baseline_found)


def run_check(
    records: list[RunRecord],
    baseline_path: Path,
    *,
    pdks: Iterable[str] | None = None,
    designs: Iterable[str] | None = None,
    skipped: Iterable[SkippedRecord] = (),
    missing_ok: bool = False,
) -> CheckResult:
    """Compare the latest run of every selected (design, pdk) with the baseline file. No output.

    ``skipped``: history files that could not be read (``history.read_history``); those of the
    selection are named in the result, since their design/PDK is judged without them.
    ``missing_ok``: a baseline file that does not exist is the state "no baseline" (the default
    rules, no entries) instead of an error; for the default path only, so that a mistyped
    ``--baseline FILE`` still fails."""
    path = Path(baseline_path)
    if missing_ok and not path.exists():
        result = check_against(records, Baseline(rules=DEFAULT_RULES), path, pdks=pdks, designs=designs,
                               baseline_found=False)
    else:
        result = check_against(records, load_baseline(path), path, pdks=pdks, designs=designs)
    selected = tuple(s for s in skipped if _selected(s.pdk, s.design, pdks, designs))
    return replace(result, skipped=selected) if selected else result


# --------------------------------------------------------------------------------------------
# Rendering

_HEADERS = ("PDK", "Design", "Metric", "Baseline", "Current", "Δ %", "Rule", "Verdict")


def _cell(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return _fmt(value)


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _metric_label(row: CheckRow) -> str:
    return f"{row.metric} [{row.unit}]" if row.unit else row.metric


def _table_cells(row: CheckRow) -> list[str]:
    verdict = row.verdict.upper() if row.failed else row.verdict
    if row.detail:
        verdict = f"{verdict}: {row.detail}"
    return [row.pdk, row.design, _metric_label(row), _cell(row.baseline), _cell(row.current),
            _delta(row.delta_pct), row.rule, verdict]


def wrap(text: str, width: int | None, indent: str = "  ") -> list[str]:
    """``text`` as lines of at most ``width`` columns (None: one line), continuation lines indented.
    Long words (a path, a run id) are never cut; a line holding one may exceed a tiny width."""
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [text]


def _narrow_rows(rows: tuple[CheckRow, ...], width: int) -> list[str]:
    """One design's rows: metric, baseline, current, Δ %, verdict; the verdict wraps under itself."""
    table = [["metric", "baseline", "current", "Δ %"]] + [
        [_metric_label(r), _cell(r.baseline), _cell(r.current), _delta(r.delta_pct)] for r in rows]
    verdicts = ["verdict"] + [_table_cells(r)[-1] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = []
    for cells, verdict in zip(table, verdicts, strict=True):
        head = "  " + "  ".join([cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:],
                                                                                               strict=True))])
        room = width - len(head) - 2
        if room < 24:  # too narrow beside the numbers: the verdict goes below its row
            lines.append(head.rstrip())
            lines.extend(wrap("      " + verdict, width, " " * 6) if verdict else [])
            continue
        parts = textwrap.wrap(verdict, room, break_long_words=False) or [""]
        lines.append(f"{head}  {parts[0]}".rstrip())
        lines.extend(" " * (len(head) + 2) + part for part in parts[1:])
    return lines


def render_table_text(result: CheckResult, width: int | None = None) -> str:
    """The check for the terminal, failing verdicts in capitals.

    ``width`` None: one flat table of every checked metric with its rule (as wide as it needs);
    a number: per design/PDK its run ids, then its rows without the rule column, every line
    wrapped to ``width`` columns; designs that are not gated are listed by name only."""
    if width is not None:
        return _render_narrow(result, width)
    lines = [f"Regression check against {result.baseline_path}"]
    if result.baseline_state:
        lines.append(result.baseline_state)
    table = [list(_HEADERS)] + [_table_cells(row) for row in result.rows]
    if len(table) > 1:
        widths = [max(len(r[i]) for r in table) for i in range(len(_HEADERS) - 1)]
        for index, cells in enumerate(table):
            head = "  ".join(cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True))
            lines.append(f"{head}  {cells[-1]}".rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(_HEADERS[-1]))
    for design in result.designs:
        for note in design.notes:
            lines.append(f"note: {design.pdk}/{design.design}: {note}")
    lines += [f"note: {line}" for line in result.unjudged]
    lines.append(result.summary)
    return "\n".join(lines) + "\n"


def _render_narrow(result: CheckResult, width: int) -> str:
    lines = wrap(f"Regression check against {result.baseline_path}", width)
    if result.baseline_state:
        lines += wrap(result.baseline_state, width)
    not_gated: dict[str, list[str]] = {}
    for design in result.designs:
        if NOT_GATED in design.states:
            not_gated.setdefault(design.pdk, []).append(design.design)
            continue
        lines.append("")
        lines += wrap(f"{design.pdk} / {design.design}", width)
        lines += wrap(f"  run       {design.current_run_id or '— (none in the history)'}", width, " " * 12)
        lines += wrap(f"  baseline  {design.baseline_run_id or '—'}", width, " " * 12)
        lines += _narrow_rows(design.rows, width)
        # Without any baseline the header already says what a missing entry means, once.
        for note in design.notes if design.baseline_run_id or not result.baseline_state else ():
            lines += wrap(f"  note: {note}", width, " " * 8)
    if not_gated:
        lines += ["", *wrap("not gated (imported runs the baseline does not name):", width)]
        for pdk, names in sorted(not_gated.items()):
            lines += wrap(f"  {pdk}: {', '.join(names)}", width, " " * 4)
    for line in result.unjudged:
        lines += wrap(f"note: {line}", width, " " * 6)
    lines += ["", *wrap(result.summary, width)]
    return "\n".join(lines) + "\n"


_MD_VERDICT = {
    "ok": "✅ ok",
    "improved": "✅ improved",
    "new": "🆕 new",
    "regressed": "❌ **regressed**",
    "out of bounds": "❌ **out of bounds**",
    "missing": "❌ **missing**",
    "failed": "❌ **failed**",
    SKIPPED_TOOL: "⏭️ skipped (tool missing)",
    NO_BASELINE: "🆕 no baseline",
    NOT_GATED: "➖ not gated",
}


def _md_code(text: object) -> str:
    """``text`` as a Markdown code span, which shows it literally (no HTML, no markup); only a
    backtick or a "|" (a table cell's end) could break out of it, so those are dropped."""
    return "`" + "".join(c for c in " ".join(str(text).split()) if c not in "`|") + "`"


def render_markdown(result: CheckResult) -> str:
    """GitHub-flavoured Markdown (job summary / PR comment) of the same table. Everything that comes
    from a record or a file (names, values, reasons, paths) goes through ``md_text``: a design named
    ``<img src=x onerror=...>`` is shown as text, never rendered."""
    icon = "❌" if result.exit_code else "✅"
    lines = [
        f"### {icon} Regression check",
        "",
        f"{md_text(result.summary)} — baseline {_md_code(result.baseline_path)}.",
        "",
    ]
    if result.baseline_state:
        lines += [md_text(result.baseline_state), ""]
    if result.rows:
        lines.append("| " + " | ".join(_HEADERS) + " |")
        lines.append("|" + "|".join(["---"] * 3 + ["---:"] * 3 + ["---"] * 2) + "|")
        for row in result.rows:
            verdict = _MD_VERDICT[row.verdict] + (f": {md_text(row.detail)}" if row.detail else "")
            metric = _md_code(row.metric) + (f" ({md_text(row.unit)})" if row.unit else "")
            cells = [md_text(row.pdk), md_text(row.design), metric, md_text(_cell(row.baseline)),
                     md_text(_cell(row.current)), _delta(row.delta_pct), md_text(row.rule), verdict]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    notes = [f"- {md_text(f'{d.pdk}/{d.design}: {note}')}" for d in result.designs for note in d.notes]
    notes += [f"- {md_text(line)}" for line in result.unjudged]
    if notes:
        lines += ["Notes:", "", *notes, ""]
    return "\n".join(lines)


def write_step_summary(markdown: str) -> bool:
    """Append to the GitHub Actions job summary when running there; False elsewhere."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return True


# --------------------------------------------------------------------------------------------
# Writing a baseline

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
