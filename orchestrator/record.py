"""The history record (one immutable JSON document per flow job) and the metric registry.

``METRIC_SPECS`` declares each record metric once: field, unit, better direction, display format,
first stage, where SiliconCompiler (in its declared unit), OpenROAD and ORFS record it, its default
gate rule and plausibility limit; every table about metrics derives from it. ``VIEWS`` beside it
chooses which metrics each table, plot and terminal view shows.
Every producer (SiliconCompiler runs in ``metrics``, ORFS imports in ``orfs_import``) emits a
``RunRecord``; every consumer (``history``, ``report``, ``check``) reads only this shape.
Units are part of the field names; a metric that no stage produced is absent (``None``), never 0.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from orchestrator.names import NOT_PLAIN
from orchestrator.steps import STEP_SPECS
from orchestrator.steps import MetricOrigin as MetricOrigin  # the type records use; declared with the steps

SCHEMA_VERSION = 1

Status = Literal["pass", "fail", "partial"]
Source = Literal["siliconcompiler", "orfs"]

Better = Literal["lower", "higher", "none"]
# Display format, by name (``report.view.FORMATS`` maps each to its function).
Format = Literal["area", "freq", "count", "ns", "pct", "voltage", "power", "kge", "number"]
# Where a figure first exists: the job's configuration (clock constraint, supply), a flow stage
# (``steps.step_origin`` of the SC step), or the design point's ``accuracy`` task.
Stage = Literal["config", "synthesis", "floorplan", "place", "cts", "route", "finish", "accuracy"]
# Stages of place and route (every flow stage after synthesis, ``steps.STEP_SPECS``): a metric
# first produced by one of them is meaningless before floorplan.
PNR_STAGES: tuple[Stage, ...] = tuple(dict.fromkeys(s.stage for s in STEP_SPECS if s.stage != "synthesis"))
TimingCheck = Literal["setup", "hold", "power"]

# Size of each unit the registry and its sources name, in SI units, so that a source's scale
# factor follows from its declared unit. None (SC's unit of a count) and the count units are 1.
UNIT_SI: dict[str, float] = {
    "um^2": 1e-12, "µm²": 1e-12, "um": 1e-6, "µm": 1e-6, "Hz": 1.0, "MHz": 1e6, "ns": 1e-9,
    "mw": 1e-3, "mW": 1e-3, "W": 1.0, "%": 1e-2, "fraction": 1.0,
}


def unit_scale(source_unit: str | None, record_unit: str) -> float:
    """Factor from a source's unit to the record's (``UNIT_SI``); 1 for counts."""
    if source_unit is None:
        return 1.0
    return UNIT_SI[source_unit] / UNIT_SI[record_unit]


@dataclass(frozen=True)
class ScSource:
    """Where a metric comes from in SiliconCompiler: ``[metric,<name>]`` of a flow node, in SC's
    declared unit. Names and units are SC 0.38's (``siliconcompiler/metrics/asic.py``); which task
    records which name is in each tool's ``post_process`` (tests/test_metric_registry.py walks both)."""

    name: str
    unit: str | None = None  # SC's unit of the metric (None: a count); the scale to the record follows
    check: TimingCheck | None = None  # the SC timing check whose scenario the value is analysed at


@dataclass(frozen=True)
class OrfsSource:
    """Where OpenROAD-flow-scripts reports a metric: ``<stage>__<key>`` of its metrics file, read at
    the latest ORFS stage that has it (or at ``stage`` only)."""

    key: str
    # ORFS's unit: one of ``UNIT_SI`` ("fraction" for a share ORFS does not give in %), None for a
    # count, "time" for the platform's time unit (``run__flow__platform__time_units``).
    unit: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class Tolerance:
    """A default rule of the regression gate (``check.DEFAULT_RULES``): allowed worsening
    max(rel_tol_pct % of |baseline|, abs_tol), and hard bounds."""

    rel_tol_pct: float | None = None
    abs_tol: float | None = None
    min: float | None = None
    max: float | None = None

    def fields(self) -> dict[str, float]:
        return {name: value for name, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class MetricSpec:
    """One record metric, declared once: everything else (the ``Metrics`` model, units, ``check``'s
    physical directions and default rules, the view's formats, which values are post-synthesis
    estimates, which are P&R-only, where SC, OpenROAD and ORFS record them, the plausibility limit)
    is derived from this table."""

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
    orfs: OrfsSource | None = None  # where ORFS reports it (``import-orfs``; None: not imported)
    # Read after floorplan from OpenROAD's ``reports/metrics.json`` under the ORFS key with SC's
    # ``sc__metric__`` prefix, for figures SC's schema does not carry (its ``cells`` counts fillers too).
    from_openroad: bool = False
    signed: bool = False  # may be negative (a slack); every other metric is >= 0
    title: str = ""  # what axes and column headers call it ("Std-cell area"); the unit is added there
    gate: Tolerance | None = None  # the rule a fresh baseline file gets (None: not gated by default)
    signoff_max: float | None = None  # a limit every routed design must meet, baseline or not
    # Largest plausible magnitude: a value beyond it is a corrupt or hand-made record (``history``).
    plausible_max: float = 1e15

    @property
    def pnr_only(self) -> bool:
        """Meaningless before floorplan: a value from a synthesis step (SC's cleanup guesses a
        utilization and a die) is not taken."""
        return self.stage in PNR_STAGES

    @property
    def sc_scale(self) -> float:
        """SC's unit -> the record's."""
        return unit_scale(self.sc.unit, self.unit) if self.sc else 1.0

    @property
    def orfs_scale(self) -> float:
        """ORFS's unit -> the record's (the platform's time unit is applied by the importer)."""
        return unit_scale(self.orfs.unit, self.unit) if self.orfs and self.orfs.unit != "time" else 1.0

    @property
    def openroad(self) -> str | None:
        """The key in OpenROAD's ``reports/metrics.json`` (None: not read from there)."""
        return f"sc__metric__{self.orfs.key}" if self.from_openroad and self.orfs else None


# The default gate: sizes and fmax within 2 %, power within 5 %, slacks within 10 ps (TNS: 5 % too);
# exact for what the same RTL and constraint cannot change (registers, the clock constraint).
_2PCT = Tolerance(rel_tol_pct=2.0)
_5PCT = Tolerance(rel_tol_pct=5.0)
_SLACK = Tolerance(abs_tol=0.01)
_TOTAL_SLACK = Tolerance(rel_tol_pct=5.0, abs_tol=0.01)
_EXACT = Tolerance()
METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("area_um2", float, "µm²", "lower", "std-cell instance area (fillers excluded)",
               title="Std-cell area", fmt="area", stage="synthesis", estimate=True, sc=ScSource("cellarea", "um^2"),
               orfs=OrfsSource("design__instance__area", "um^2"), gate=_2PCT, plausible_max=1e12),
    MetricSpec("stdcell_count", int, "cells", "lower", "std-cell instances (fillers excluded, taps included)",
               title="Std cells", fmt="count", stage="synthesis", estimate=True, sc=ScSource("cells"),
               orfs=OrfsSource("design__instance__count__stdcell"), from_openroad=True, gate=_2PCT,
               plausible_max=1e12),
    MetricSpec("register_count", int, "registers", "lower", "sequential cells: flip-flops + latches",
               title="Registers", fmt="count", stage="synthesis", estimate=True, gate=_EXACT, plausible_max=1e12),
    MetricSpec("flop_count", int, "flops", "lower", "flip-flop instances (Liberty ff groups)",
               title="Flip-flops", fmt="count", stage="synthesis", estimate=True, gate=_EXACT),
    MetricSpec("latch_count", int, "latches", "lower", "latch instances (Liberty latch groups)",
               title="Latches", fmt="count", stage="synthesis", estimate=True, gate=_EXACT),
    MetricSpec("ge", float, "GE", "lower", "gate equivalents: area_um2 / GE reference cell area",
               title="Gate equivalents", fmt="kge", stage="synthesis", estimate=True, gate=_2PCT, plausible_max=1e13),
    MetricSpec("clock_period_ns", float, "ns", "lower", "the clock constraint, not the achieved period",
               title="Clock period (constraint)", fmt="ns", stage="config",
               orfs=OrfsSource("clocks__details", "time", stage="constraints"), plausible_max=1e9),
    MetricSpec("target_freq_mhz", float, "MHz", "higher", "1000 / clock_period_ns",
               title="Target frequency", fmt="freq", stage="config", gate=_EXACT, plausible_max=1e6),
    MetricSpec("fmax_mhz", float, "MHz", "higher", "achieved frequency at the setup sign-off scenario",
               title="Achieved fmax", fmt="freq", stage="synthesis", estimate=True,
               sc=ScSource("fmax", "Hz", check="setup"), gate=_2PCT, plausible_max=1e6),
    # SC's STA task records only the slack; WNS is then min(0, slack) (metrics.WNS_FROM_SLACK).
    MetricSpec("wns_ns", float, "ns", "higher", "setup worst negative slack (min(0, worst slack))",
               title="Setup WNS", fmt="ns", stage="synthesis", estimate=True,
               sc=ScSource("setupwns", "ns", check="setup"), orfs=OrfsSource("timing__setup__ws", "time"),
               signed=True, gate=_SLACK, plausible_max=1e9),
    MetricSpec("tns_ns", float, "ns", "higher", "setup total negative slack",
               title="Setup TNS", fmt="ns", stage="synthesis", estimate=True,
               sc=ScSource("setuptns", "ns", check="setup"), orfs=OrfsSource("timing__setup__tns", "time"),
               signed=True, gate=_TOTAL_SLACK),
    MetricSpec("setup_slack_ns", float, "ns", "higher", "setup worst slack (positive when met)",
               title="Setup worst slack", fmt="ns", stage="synthesis", estimate=True,
               sc=ScSource("setupslack", "ns", check="setup"), signed=True),
    MetricSpec("hold_slack_ns", float, "ns", "higher", "hold worst slack (positive when met)",
               title="Hold worst slack", fmt="ns", stage="synthesis", estimate=True,
               sc=ScSource("holdslack", "ns", check="hold"), signed=True),
    MetricSpec("hold_wns_ns", float, "ns", "higher", "hold worst negative slack",
               title="Hold WNS", fmt="ns", stage="synthesis", estimate=True,
               sc=ScSource("holdwns", "ns", check="hold"), signed=True, gate=_SLACK),
    MetricSpec("hold_tns_ns", float, "ns", "higher", "hold total negative slack",
               title="Hold TNS", fmt="ns", stage="synthesis", estimate=True,
               sc=ScSource("holdtns", "ns", check="hold"), signed=True, gate=_TOTAL_SLACK),
    # Bounded, not toleranced: a floorplan outside 20-75 % is a configuration mistake.
    MetricSpec("utilization_pct", float, "%", "none", "std-cell area / core area (after floorplan)",
               title="Utilization", fmt="pct", stage="floorplan", sc=ScSource("utilization", "%"),
               orfs=OrfsSource("design__instance__utilization", "fraction"), gate=Tolerance(min=20.0, max=75.0),
               plausible_max=1e4),
    MetricSpec("voltage_v", float, "V", "none", "supply voltage of the setup sign-off scenario",
               title="Supply voltage", fmt="voltage", stage="config", plausible_max=100.0),
    # No SC 0.38 task records averagepower. ORFS reports watts whatever its power_units says.
    MetricSpec("power_mw", float, "mW", "lower", "total power at the power scenario (SC peakpower)",
               title="Total power", fmt="power", stage="synthesis", estimate=True,
               sc=ScSource("peakpower", "mw", check="power"), orfs=OrfsSource("power__total", "W"), gate=_5PCT,
               plausible_max=1e9),
    MetricSpec("leakage_power_mw", float, "mW", "lower", "leakage power at the power scenario",
               title="Leakage power", fmt="power", stage="synthesis", estimate=True,
               sc=ScSource("leakagepower", "mw", check="power"), gate=_5PCT),
    MetricSpec("die_area_um2", float, "µm²", "lower", "die area (after floorplan)",
               title="Die area", fmt="area", stage="floorplan", sc=ScSource("totalarea", "um^2"),
               orfs=OrfsSource("design__die__area", "um^2"), plausible_max=1e12),
    MetricSpec("core_area_um2", float, "µm²", "lower", "core (row) area (after floorplan)",
               title="Core area", fmt="area", stage="floorplan", orfs=OrfsSource("design__core__area", "um^2"),
               from_openroad=True, plausible_max=1e12),
    # A routed design with DRC or electrical rule violations cannot be taped out.
    MetricSpec("drc_count", int, "violations", "lower", "routing DRC violations after detailed routing",
               title="DRC violations", fmt="count", stage="route", sc=ScSource("drcs"),
               orfs=OrfsSource("route__drc_errors", stage="detailedroute"), signoff_max=0),
    MetricSpec("drv_count", int, "violations", "lower",
               "electrical rule violations: max slew/cap/fanout, floating/overdriven nets, antenna",
               title="Electrical violations (DRV)", fmt="count", stage="floorplan", sc=ScSource("drvs"),
               signoff_max=0),
    MetricSpec("wirelength_um", float, "µm", "lower", "routed wire length",
               title="Wire length", fmt="number", stage="route", sc=ScSource("wirelength", "um"),
               orfs=OrfsSource("route__wirelength", "um", stage="detailedroute")),
    # Of the layer the design point runs (a sweep's ``accuracy`` task, see orchestrator.accuracy).
    # Seeded and deterministic; the slack absorbs last-bit BLAS differences between machines (one
    # digits test image is 0.19 points).
    MetricSpec("accuracy_pct", float, "%", "higher", "held-out accuracy with the halut layer",
               title="Held-out accuracy", fmt="number", stage="accuracy", gate=Tolerance(abs_tol=0.5)),
    MetricSpec("approx_error", float, "rel. Frobenius", "lower", "||approx - A.B||_F / ||A.B||_F on the test rows",
               title="Approximation error", fmt="number", stage="accuracy", gate=_2PCT),
)
METRIC_SPEC: dict[str, MetricSpec] = {spec.name: spec for spec in METRIC_SPECS}


@dataclass(frozen=True)
class Column:
    """One metric column (or row) of a view."""

    metric: str
    label: str = ""  # the view's own header; "" for the registry's title and unit (``view.metric_label``)
    _: KW_ONLY
    digits: int = 3  # decimals of a float in the terminal tables (``progress``)
    priority: int = 0  # terminal tables: which columns go first when the width is short (lower stays)
    mark_estimate: bool = False  # terminal tables: "(syn)" after a post-synthesis value
    ratio: bool = False  # vs-ORFS page: ours / theirs is a meaningful ratio (positive sizes)


View = Literal["index", "signoff", "comparison", "cross_design_trend", "orfs_compare", "run_table",
               "history_table"]
# Which metrics each view shows, in its order: the one place to make a metric visible.
VIEWS: dict[View, tuple[Column, ...]] = {
    # The summary table of the halutmatmul project, in its row order (``report.view.INDEX_ROWS``).
    "index": (
        Column("area_um2", "Area [um^2]"), Column("target_freq_mhz", "Freq [MHz]"), Column("ge", "GE"),
        Column("stdcell_count", "Std Cell [#]"), Column("voltage_v", "Voltage [V]"),
        Column("utilization_pct", "Util [%]"), Column("tns_ns", "TNS"),
    ),
    # The sign-off figures of a routed run of this flow, under the summary table per PDK.
    "signoff": (
        Column("fmax_mhz", "fmax [MHz]"), Column("wns_ns", "Setup WNS [ns]"), Column("tns_ns", "Setup TNS [ns]"),
        Column("hold_wns_ns", "Hold WNS [ns]"), Column("hold_tns_ns", "Hold TNS [ns]"),
        Column("power_mw", "Power [mW]"), Column("leakage_power_mw", "Leakage [mW]"),
        Column("utilization_pct", "Util [%]"), Column("drc_count", "DRC [#]"), Column("drv_count", "DRV [#]"),
        Column("flop_count", "Flops [#]"), Column("latch_count", "Latches [#]"),
    ),
    # The cross-design comparison plot per PDK.
    "comparison": tuple(Column(m) for m in ("area_um2", "ge", "stdcell_count", "target_freq_mhz", "tns_ns",
                                            "utilization_pct")),
    # The cross-design trend per PDK: the first of these any run has.
    "cross_design_trend": (Column("ge"), Column("area_um2")),
    # The figures of the halutmatmul summary the vs-ORFS comparison is about.
    "orfs_compare": (Column("area_um2", ratio=True), Column("stdcell_count", ratio=True),
                     Column("utilization_pct"), Column("tns_ns")),
    # ``run``'s metrics table (``progress.format_metrics_table``), between the job and the runtime.
    "run_table": (
        Column("area_um2", "area [µm²]", digits=2, priority=1, mark_estimate=True),
        Column("ge", "GE [kGE]", priority=2), Column("stdcell_count", "cells", priority=5),
        Column("register_count", "regs", priority=10), Column("target_freq_mhz", "clock [MHz]", digits=1, priority=3),
        Column("fmax_mhz", "fmax [MHz]", digits=1, priority=8), Column("wns_ns", "WNS [ns]", priority=7),
        Column("tns_ns", "TNS [ns]", priority=4), Column("hold_wns_ns", "hold WNS [ns]", priority=13),
        Column("power_mw", "power [mW]", priority=11), Column("utilization_pct", "util [%]", digits=1, priority=9),
        Column("drc_count", "DRC", priority=12), Column("voltage_v", "V", digits=2, priority=14),
    ),
    # ``history``'s table (``progress``), between the run's stage and its runtime.
    "history_table": (
        Column("area_um2", "area [µm²]", digits=2, priority=1), Column("ge", "GE [kGE]", priority=2),
        Column("stdcell_count", "cells", priority=9), Column("target_freq_mhz", "clock [MHz]", digits=1, priority=3),
        Column("fmax_mhz", "fmax [MHz]", digits=1, priority=7), Column("wns_ns", "WNS [ns]", priority=8),
        Column("tns_ns", "TNS [ns]", priority=4), Column("utilization_pct", "util [%]", digits=1, priority=5),
    ),
}

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
PLAUSIBLE_MAX: dict[str, float] = {spec.name: spec.plausible_max for spec in METRIC_SPECS}
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
    reason: str  # e.g. "openroad not installed (install OpenROAD >= 24Q3-2011: ...)" (steps.TOOL_SPECS)
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
    return f"{stamp}-{NOT_PLAIN.sub('_', design)}-{NOT_PLAIN.sub('_', pdk)}-{digest}"
