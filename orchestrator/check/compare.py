"""Comparing: the latest run of every (design, pdk) against its baseline entry, one verdict per
metric (``compare_metric``), per design (``DesignResult``) and overall (``CheckResult``).

``run_check`` is pure: records and a baseline file in, a ``CheckResult`` out; no output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from orchestrator.check.schema import (
    CHECK_UNITS,
    CHECKABLE_METRICS,
    DEFAULT_RULES,
    METRIC_BETTER,
    Baseline,
    BaselineEntry,
    MetricRule,
    load_baseline,
)
from orchestrator.errors import OrchestratorError, clip
from orchestrator.history import SkippedRecord, latest_records
from orchestrator.names import did_you_mean
from orchestrator.record import RunRecord, parameters_key

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


class SelectionError(OrchestratorError):
    """--pdk/--design names nothing in the history or the baseline (a typo must not pass the gate)."""



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
