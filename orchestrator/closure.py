"""Routing closure: relax the floorplan and run again when routing does not close.

A job whose global routing fails for congestion (OpenROAD ``GRT-0116``) or whose detailed routing
ends with DRC violations is not a result, so the job process runs the flow again from the
floorplan with a relaxed setting, up to ``flow.closure.max_attempts`` attempts in all:

    attempt n:  core_utilization_pct = platform's - (n - 1) * core_utilization_step_pct
                placement_density    = platform's - (n - 1) * placement_density_step

(never below ``min_core_utilization_pct``; a density under the utilisation is taken by SC's
OpenROAD script as "just above uniform"). Each attempt is a new SiliconCompiler project in the
same build directory: SC sees that only floorplan and later nodes changed and replays synthesis.
The schedule is fixed by the settings (no search, no randomness), so a job's attempts are the same
on every machine, and those settings are part of the job's cache key. Every attempt is written to
the record (``RunRecord.closure_attempts``) with its setting, the stage it reached and why the loop
went on or stopped; the record's figures are the last attempt's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.config import ClosureOptions, Platform
from orchestrator.fsutil import read_tail
from orchestrator.record import ClosureAttempt, ClosureOutcome, RunRecord

# OpenROAD's global router stops with GRT-0116 when overflow remains after its iterations, and
# with GRT-0229 when one edge's usage passes the router's hard limit (far over capacity).
CONGESTION_ERROR = re.compile(r"\bGRT-(0116|0229)\b")
GLOBAL_ROUTE_STEP = "route.global"
DETAILED_ROUTE_STEP = "route.detailed"
RETRY_OUTCOMES: frozenset[ClosureOutcome] = frozenset({"congestion", "drc"})
_LOG_TAIL_BYTES = 256 * 1024  # the error is at the end of the step's log


@dataclass(frozen=True)
class Floorplan:
    """The floorplan setting one attempt runs with."""

    core_utilization_pct: float
    placement_density: float


def floorplan(platform: Platform, options: ClosureOptions, attempt: int) -> Floorplan | None:
    """The setting of ``attempt`` (1 = the platform's own), or None when there is none: past
    ``max_attempts``, or the utilisation would go below the floor (nothing left to relax)."""
    if attempt < 1 or attempt > options.max_attempts:
        return None
    steps = attempt - 1
    utilization = platform.core_utilization_pct - steps * options.core_utilization_step_pct
    if steps and utilization < options.min_core_utilization_pct:
        return None
    density = platform.placement_density - steps * options.placement_density_step
    # A density under the utilisation cannot be placed; SC's script then takes uniform density.
    density = max(density, utilization / 100.0)
    return Floorplan(core_utilization_pct=round(utilization, 6), placement_density=round(min(density, 1.0), 6))


def with_floorplan(platform: Platform, plan: Floorplan) -> Platform:
    """The platform as one attempt runs it."""
    return platform.model_copy(update={"core_utilization_pct": plan.core_utilization_pct,
                                       "placement_density": plan.placement_density})


def diagnose(record: RunRecord) -> tuple[ClosureOutcome, str | None]:
    """What one attempt's record says about routing: the outcome and a one-line reason."""
    steps = {step.step: step for step in record.steps}
    global_route = steps.get(GLOBAL_ROUTE_STEP)
    detailed = steps.get(DETAILED_ROUTE_STEP)
    if global_route is not None and global_route.status == "error":
        congestion = CONGESTION_ERROR.search(read_tail(record.logs.get(GLOBAL_ROUTE_STEP), _LOG_TAIL_BYTES))
        if congestion:
            return "congestion", f"global routing failed for congestion ({congestion.group(0)})"
        return "failed", record.reason
    drc = record.metrics.drc_count
    if detailed is not None and detailed.status in ("success", "error") and drc is not None and drc > 0:
        return "drc", f"detailed routing ended with {drc} DRC violations"
    if record.status == "fail":
        return "failed", record.reason
    if detailed is not None and detailed.status == "success":
        return "routed", None
    return "not_routed", record.reason


def attempt_entry(attempt: int, plan: Floorplan, record: RunRecord, runtime_s: float | None) -> ClosureAttempt:
    outcome, reason = diagnose(record)
    return ClosureAttempt(
        attempt=attempt,
        core_utilization_pct=plan.core_utilization_pct,
        placement_density=plan.placement_density,
        stage_reached=record.stage_reached,
        outcome=outcome,
        reason=reason,
        drc_count=record.metrics.drc_count,
        runtime_s=runtime_s,
    )


def should_retry(entry: ClosureAttempt) -> bool:
    return entry.outcome in RETRY_OUTCOMES


def summary(attempts: list[ClosureAttempt]) -> str | None:
    """One line for a record's reason when the loop ran out of attempts without routing."""
    if not attempts or not should_retry(attempts[-1]):
        return None
    last = attempts[-1]
    return (f"routing did not close after {len(attempts)} attempt(s) (last: core utilisation "
            f"{last.core_utilization_pct:g} %, placement density {last.placement_density:g}): {last.reason}")
