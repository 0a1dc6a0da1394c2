"""The history record (one immutable JSON document per flow job) and the metric registry.

``METRIC_SPECS`` declares each record metric once: field, unit, better direction, display format,
first stage, and where SiliconCompiler records it; every table about metrics derives from it.
Every producer (SiliconCompiler runs in ``metrics``, ORFS imports in ``orfs_import``) emits a
``RunRecord``; every consumer (``history``, ``report``, ``check``) reads only this shape.
Units are part of the field names; a metric that no stage produced is absent (``None``), never 0.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

SCHEMA_VERSION = 1

Status = Literal["pass", "fail", "partial"]
Source = Literal["siliconcompiler", "orfs"]

# Where a figure came from, coarsest first. "synthesis" values are estimates (no P&R).
MetricOrigin = Literal["synthesis", "floorplan", "place", "cts", "route", "finish", "sta"]


Better = Literal["lower", "higher", "none"]
# Display format, by name (``report.view.FORMATS`` maps each to its function).
Format = Literal["area", "freq", "count", "ns", "pct", "voltage", "power", "kge", "number"]
# Where a figure first exists: the job's configuration (clock constraint, supply), a flow stage
# (``metrics.step_origin`` of the SC step), or the design point's ``accuracy`` task.
Stage = Literal["config", "synthesis", "floorplan", "place", "cts", "route", "finish", "accuracy"]
# Stages of place and route: a metric first produced by one of them is meaningless before floorplan.
PNR_STAGES: tuple[Stage, ...] = ("floorplan", "place", "cts", "route", "finish")
TimingCheck = Literal["setup", "hold", "power"]


@dataclass(frozen=True)
class ScSource:
    """Where a metric comes from in SiliconCompiler: ``[metric,<name>]`` of a flow node, scaled to the
    record's unit. Names are SC 0.38's (``siliconcompiler/metrics/asic.py``); which task records which
    name is in each tool's ``post_process`` (tests/test_metric_registry.py walks both)."""

    name: str
    scale: float = 1.0  # SC unit -> record unit (SC: um^2, %, ns, Hz, mw)
    check: TimingCheck | None = None  # the SC timing check whose scenario the value is analysed at


@dataclass(frozen=True)
class MetricSpec:
    """One record metric, declared once: everything else (the ``Metrics`` model, units, ``check``'s
    physical directions, the view's formats, which values are post-synthesis estimates, which are
    P&R-only, where SC records them) is derived from this table."""

    name: str  # field name, unit suffix included
    kind: type  # float or int
    unit: str  # human-readable unit for tables and axes
    better: Better  # physical direction of an improvement ("none": an operating point)
    help: str
    _: KW_ONLY
    fmt: Format  # how the reports print a value
    stage: Stage  # the earliest stage that produces it
    # A value that exists after synthesis too, where it is only an estimate of the routed design.
    estimate: bool = False
    sc: ScSource | None = None  # the SC metric it is read from (None: computed by the orchestrator)
    # The OpenROAD ``reports/metrics.json`` key (ORFS name, SC's ``sc__metric__`` prefix) read after
    # floorplan, for figures SC's schema does not carry (its ``cells`` counts fillers too).
    openroad: str | None = None
    signed: bool = False  # may be negative (a slack); every other metric is >= 0
    title: str = ""  # what axes and column headers call it ("Std-cell area"); the unit is added there

    @property
    def pnr_only(self) -> bool:
        """Meaningless before floorplan: a value from a synthesis step (SC's cleanup guesses a
        utilization and a die) is not taken."""
        return self.stage in PNR_STAGES


METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("area_um2", float, "µm²", "lower", "std-cell instance area (fillers excluded)",
               title="Std-cell area", fmt="area", stage="synthesis", estimate=True, sc=ScSource("cellarea")),
    MetricSpec("stdcell_count", int, "cells", "lower", "std-cell instances (fillers excluded, taps included)",
               title="Std cells", fmt="count", stage="synthesis", estimate=True, sc=ScSource("cells"),
               openroad="sc__metric__design__instance__count__stdcell"),
    MetricSpec("register_count", int, "registers", "lower", "sequential cells: flip-flops + latches",
               title="Registers", fmt="count", stage="synthesis", estimate=True),
    MetricSpec("flop_count", int, "flops", "lower", "flip-flop instances (Liberty ff groups)",
               title="Flip-flops", fmt="count", stage="synthesis", estimate=True),
    MetricSpec("latch_count", int, "latches", "lower", "latch instances (Liberty latch groups)",
               title="Latches", fmt="count", stage="synthesis", estimate=True),
    MetricSpec("ge", float, "GE", "lower", "gate equivalents: area_um2 / GE reference cell area",
               title="Gate equivalents", fmt="kge", stage="synthesis", estimate=True),
    MetricSpec("clock_period_ns", float, "ns", "lower", "the clock constraint, not the achieved period",
               title="Clock period (constraint)", fmt="ns", stage="config"),
    MetricSpec("target_freq_mhz", float, "MHz", "higher", "1000 / clock_period_ns",
               title="Target frequency", fmt="freq", stage="config"),
    MetricSpec("fmax_mhz", float, "MHz", "higher", "achieved frequency at the setup sign-off scenario",
               title="Achieved fmax",
               fmt="freq", stage="synthesis", estimate=True, sc=ScSource("fmax", 1e-6, check="setup")),
    # SC's STA task records only the slack; WNS is then min(0, slack) (metrics.WNS_FROM_SLACK).
    MetricSpec("wns_ns", float, "ns", "higher", "setup worst negative slack (min(0, worst slack))",
               title="Setup WNS",
               fmt="ns", stage="synthesis", estimate=True, sc=ScSource("setupwns", check="setup"), signed=True),
    MetricSpec("tns_ns", float, "ns", "higher", "setup total negative slack",
               title="Setup TNS",
               fmt="ns", stage="synthesis", estimate=True, sc=ScSource("setuptns", check="setup"), signed=True),
    MetricSpec("setup_slack_ns", float, "ns", "higher", "setup worst slack (positive when met)",
               title="Setup worst slack",
               fmt="ns", stage="synthesis", estimate=True, sc=ScSource("setupslack", check="setup"), signed=True),
    MetricSpec("hold_slack_ns", float, "ns", "higher", "hold worst slack (positive when met)",
               title="Hold worst slack",
               fmt="ns", stage="synthesis", estimate=True, sc=ScSource("holdslack", check="hold"), signed=True),
    MetricSpec("hold_wns_ns", float, "ns", "higher", "hold worst negative slack",
               title="Hold WNS",
               fmt="ns", stage="synthesis", estimate=True, sc=ScSource("holdwns", check="hold"), signed=True),
    MetricSpec("hold_tns_ns", float, "ns", "higher", "hold total negative slack",
               title="Hold TNS",
               fmt="ns", stage="synthesis", estimate=True, sc=ScSource("holdtns", check="hold"), signed=True),
    MetricSpec("utilization_pct", float, "%", "none", "std-cell area / core area (after floorplan)",
               title="Utilization", fmt="pct", stage="floorplan", sc=ScSource("utilization")),
    MetricSpec("voltage_v", float, "V", "none", "supply voltage of the setup sign-off scenario",
               title="Supply voltage", fmt="voltage", stage="config"),
    # No SC 0.38 task records averagepower.
    MetricSpec("power_mw", float, "mW", "lower", "total power at the power scenario (SC peakpower)",
               title="Total power",
               fmt="power", stage="synthesis", estimate=True, sc=ScSource("peakpower", check="power")),
    MetricSpec("leakage_power_mw", float, "mW", "lower", "leakage power at the power scenario",
               title="Leakage power",
               fmt="power", stage="synthesis", estimate=True, sc=ScSource("leakagepower", check="power")),
    MetricSpec("die_area_um2", float, "µm²", "lower", "die area (after floorplan)",
               title="Die area", fmt="area", stage="floorplan", sc=ScSource("totalarea")),
    MetricSpec("core_area_um2", float, "µm²", "lower", "core (row) area (after floorplan)",
               title="Core area", fmt="area", stage="floorplan", openroad="sc__metric__design__core__area"),
    MetricSpec("drc_count", int, "violations", "lower", "routing DRC violations after detailed routing",
               title="DRC violations", fmt="count", stage="route", sc=ScSource("drcs")),
    MetricSpec("drv_count", int, "violations", "lower",
               "electrical rule violations: max slew/cap/fanout, floating/overdriven nets, antenna",
               title="Electrical violations (DRV)", fmt="count", stage="floorplan", sc=ScSource("drvs")),
    MetricSpec("wirelength_um", float, "µm", "lower", "routed wire length",
               title="Wire length", fmt="number", stage="route", sc=ScSource("wirelength")),
    # Of the layer the design point runs (a sweep's ``accuracy`` task, see orchestrator.accuracy):
    MetricSpec("accuracy_pct", float, "%", "higher", "held-out accuracy with the halut layer",
               title="Held-out accuracy", fmt="number", stage="accuracy"),
    MetricSpec("approx_error", float, "rel. Frobenius", "lower", "||approx - A.B||_F / ||A.B||_F on the test rows",
               title="Approximation error", fmt="number", stage="accuracy"),
)
METRIC_SPEC: dict[str, MetricSpec] = {spec.name: spec for spec in METRIC_SPECS}

# ``None`` means "not produced", see ``RunRecord.missing``; never 0.
Metrics = create_model(
    "Metrics",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Normalised design metrics, one optional field per ``METRIC_SPECS`` entry.",
    **{spec.name: (spec.kind | None, None) for spec in METRIC_SPECS},
)

# Human-readable unit per metric, for tables and plot axes.
METRIC_UNITS: dict[str, str] = {spec.name: spec.unit for spec in METRIC_SPECS}
METRIC_BETTER: dict[str, Better] = {spec.name: spec.better for spec in METRIC_SPECS}
POST_SYNTHESIS_ESTIMATES: frozenset[str] = frozenset(spec.name for spec in METRIC_SPECS if spec.estimate)
INT_METRICS: frozenset[str] = frozenset(spec.name for spec in METRIC_SPECS if spec.kind is int)
PNR_ONLY: frozenset[str] = frozenset(spec.name for spec in METRIC_SPECS if spec.pnr_only)
SIGNED_METRICS: frozenset[str] = frozenset(spec.name for spec in METRIC_SPECS if spec.signed)

METRIC_NAMES: tuple[str, ...] = tuple(Metrics.model_fields)


def format_kge(ge: float) -> str:
    """GE the way the halutmatmul tables print it, in thousands: '110.238 kGE'."""
    return f"{ge / 1000.0:.3f} kGE"


class SkippedStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str  # SC step name, e.g. "floorplan.init" (or an ORFS stage name for imports)
    reason: str  # e.g. "openroad not installed (install OpenROAD >= 2.0 ...)"
    # The upstream step whose skip this one inherits (None: this step's own tool is the reason).
    blocked_by: str | None = None


class StepInfo(BaseModel):
    """One flow step (SC ``step/index`` or an ORFS stage) as it ran."""

    model_config = ConfigDict(extra="forbid")

    step: str
    status: Literal["success", "error", "skipped", "pending"] = "success"
    tool: str | None = None
    runtime_s: float | None = None  # wall time of the tool ("exetime") or of the stage
    # Peak resident memory of the step's tool process (SC [metric,memory], bytes, as MiB; ORFS
    # logs/*.json "peak_memory" as it reports it). None: not measured.
    peak_memory_mib: float | None = Field(None, ge=0)
    log: str | None = None  # path, relative to the record's build_dir when possible
    note: str | None = None  # e.g. why SC skipped the node ("no macros to place")
    # Where the node ran: {"host": ...} on this machine; a Slurm node adds scheduler, job_id,
    # job_name, node, partition and log (see orchestrator.scheduler.record_placement).
    ran_on: dict[str, str] = Field(default_factory=dict)


ClosureOutcome = Literal["routed", "congestion", "drc", "failed", "not_routed"]


class ClosureAttempt(BaseModel):
    """One flow attempt of the routing closure loop (``orchestrator.closure``): the floorplan it
    used, how far it got and why the loop went on or stopped."""

    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(ge=1)
    core_utilization_pct: float
    placement_density: float
    stage_reached: str | None = None  # last SC step that completed
    # routed: detailed routing ended with 0 DRC violations; congestion: global routing failed
    # for congestion (GRT-0116); drc: detailed routing ended with violations; failed: another
    # step failed (the loop stops); not_routed: the flow ended before routing (--to, a tool).
    outcome: ClosureOutcome
    reason: str | None = None
    drc_count: int | None = None
    runtime_s: float | None = None  # the attempt's SC run, wall time


class TimingScenario(BaseModel):
    """One sign-off scenario as the flow analysed it (SC ``[constraint,timing,scenario]``)."""

    model_config = ConfigDict(extra="forbid")

    libcorner: str
    checks: list[str]  # SC checks: setup, hold, power
    voltage_v: float | None = None  # Liberty nom_voltage of the scenario's corner


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: str
    source: Source = "siliconcompiler"
    design: str  # logical design name, e.g. "halut_encoder" (no ORFS uniquifying suffix)
    top: str | None = None  # top module
    pdk: str  # platform name as in platforms/<pdk>.yaml: "asap7", "nangate45"
    stdcell_lib: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime  # when the run started (UTC)
    status: Status
    reason: str | None = None  # why it failed / is partial; None on pass
    stage_reached: str | None = None  # last step that completed successfully
    metrics_origin: MetricOrigin | None = None  # stage the area/cell figures come from
    metrics: Metrics = Field(default_factory=Metrics)
    metric_steps: dict[str, str] = Field(default_factory=dict)  # metric name -> step it came from
    # metric name -> sign-off scenario it was analysed at (timing and power metrics only)
    metric_scenarios: dict[str, str] = Field(default_factory=dict)
    timing_scenarios: dict[str, TimingScenario] = Field(default_factory=dict)
    steps: list[StepInfo] = Field(default_factory=list)
    # The routing closure loop's attempts, in order (empty: one attempt, nothing to relax).
    closure_attempts: list[ClosureAttempt] = Field(default_factory=list)
    skipped_stages: list[SkippedStage] = Field(default_factory=list)
    tool_versions: dict[str, str] = Field(default_factory=dict)
    orchestrator_version: str | None = None
    orchestrator_commit: str | None = None
    ge_reference_cell: str | None = None
    ge_reference_area_um2: float | None = None
    job_key: str | None = None  # content hash of the job's inputs (cache key)
    cached: bool = False
    build_dir: str | None = None
    logs: dict[str, str] = Field(default_factory=dict)  # step -> log path
    reports: list[str] = Field(default_factory=list)
    gds: str | None = None
    # "layout" (KLayout render of the GDS), "placement", "clocks", "routing" (OpenROAD) -> png path
    images: dict[str, str] = Field(default_factory=dict)
    # step -> the DEF OpenROAD wrote in that step (``outputs/<top>.def[.gz]``), in flow order: what
    # the run page's placement, routing, congestion and clock-tree pictures are drawn from.
    defs: dict[str, str] = Field(default_factory=dict)
    source_path: str | None = None  # for imports: where the run came from

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def post_synthesis(self) -> bool:
        """Area and cell figures are synthesis estimates (the flow did not place the design)."""
        return self.metrics_origin in ("synthesis", "sta")

    @property
    def total_runtime_s(self) -> float | None:
        """Sum of the steps' wall times; None when no step reported one."""
        runtimes = [s.runtime_s for s in self.steps if s.runtime_s is not None]
        return sum(runtimes) if runtimes else None

    @property
    def peak_memory_mib(self) -> float | None:
        """The largest peak memory of any step (steps run one after another in a job)."""
        peaks = [s.peak_memory_mib for s in self.steps if s.peak_memory_mib is not None]
        return max(peaks) if peaks else None

    @property
    def missing(self) -> list[str]:
        return [name for name in METRIC_NAMES if getattr(self.metrics, name) is None]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parameters_key(parameters: dict[str, Any]) -> str:
    """Short stable hash of a parameter set (part of run ids and file names)."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def run_name(design: str, label: str | None) -> str:
    """A design and its label as one name ("halut_encoder", "encoder_ck.C=16"): the start of run ids,
    build directories and last-key files (``jobs.Job.run_name``)."""
    return f"{design}-{label}" if label else design


def make_run_id(design: str, pdk: str, parameters: dict[str, Any], timestamp: datetime, salt: str = "") -> str:
    """Run id: sortable by time, unique per (design, pdk, parameters, time, salt)."""
    stamp = timestamp.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(
        f"{design}|{pdk}|{parameters_key(parameters)}|{stamp}|{salt}".encode()
    ).hexdigest()[:8]
    return f"{stamp}-{_UNSAFE.sub('_', design)}-{_UNSAFE.sub('_', pdk)}-{digest}"
