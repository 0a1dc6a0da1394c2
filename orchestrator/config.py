"""Typed configuration: ``config.yaml`` (the matrix and defaults) + ``platforms/<pdk>.yaml``.

This is the single source of truth that every stage receives. Unknown keys are errors, and every
error is one line naming the file, the key and the offending value.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import CLIP_CHARS, ConfigError, OrchestratorError, clip, cut
from orchestrator.names import check_name
from orchestrator.record import TimingCheck

# Environment variable that points lambdapdk at an offline data root (e.g. ../shared/pdk).
PDK_ROOT_ENV = "HALUT_PDK_ROOT"

# Nanoseconds per time unit (Liberty/ORFS spellings); platforms use ps or ns.
TIME_UNIT_NS = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class _Strict(BaseModel):
    # NaN and Inf pass "> 0" checks (or fail far away, in a tool): no setting of ours may be one.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)




class TimingScenarioSpec(_Strict):
    """One sign-off scenario (SC ``[constraint,timing,scenario]``): library corners and the checks
    analysed there. Every check must be analysed somewhere, setup at exactly one scenario."""

    libcorners: list[str] = Field(min_length=1, description="SC library corners (e.g. slow); the first one's "
                                  "Liberty nom_voltage is the scenario's voltage")
    pexcorner: str = Field("typical", description="SC parasitic extraction corner")
    checks: list[TimingCheck] = Field(min_length=1, description="what is analysed here: setup, hold, power")


# SC's named ABC scripts for Yosys synthesis (syn_asic var ``strategy``; tools/yosys/scripts/common/
# syn_strategies.tcl). AREA3 is ORFS's abc_area script, DELAY4 its abc_speed script.
SynthesisStrategy = Literal["DELAY0", "DELAY1", "DELAY2", "DELAY3", "DELAY4", "AREA0", "AREA1", "AREA2", "AREA3"]


class Platform(_Strict):
    """One PDK + main std-cell library, as ORFS would declare a platform."""

    name: str = Field(description="platform name; must equal the file name (platforms/<name>.yaml)")
    description: str = Field("", description="one line for people")
    sc_target: str = Field(description='"module:function" of the SC target that sets PDK, std-cell library, '
                                       "flow and timing scenarios")
    pdk: str = Field(description="lambdapdk PDK name")
    stdcell_lib: str = Field(description="main std-cell library (its Liberty library group name)")
    stdcell_lib_class: str = Field(description='"module:Class" of the lambdapdk StdCellLibrary')
    time_unit: Literal["ps", "ns"] = Field(description="unit of every time setting of this platform and of "
                                                       "config.yaml clock periods for it")
    clock_period: float = Field(gt=0, description="default clock period, in time_unit")
    clock_port: str = Field("clk_i", description="clock port of the generated designs")
    io_delay_fraction: float = Field(ge=0, lt=1, description="input and output delay as a fraction of the "
                                                             "clock period (SDC)")
    driving_cell: str = Field(description="Liberty cell driving every input (SDC set_driving_cell)")
    driving_cell_pin: str = Field(description="output pin of driving_cell")
    output_load_ff: float = Field(ge=0, description="load on every output, in fF (SDC set_load)")
    core_utilization_pct: float = Field(gt=0, le=100, description="floorplan core utilisation (SC "
                                                                  "[constraint,density])")
    placement_density: float = Field(gt=0, le=1, description="global placement target density")
    ge_reference_cell: str = Field(description="the cell one gate equivalent stands for (a NAND2)")
    ge_reference_area_um2: float = Field(gt=0, description="its area in µm²: ge = area_um2 / this")
    # Replaces the SC target's scenarios: the record names the scenario of each timing and power figure.
    timing_scenarios: dict[str, TimingScenarioSpec] = Field(
        min_length=1, description="sign-off scenarios by name: which corner setup (exactly one), hold and "
                                  "power are analysed at")
    clock_uncertainty: float = Field(0.0, ge=0, description="jitter + skew margin, in time_unit (SDC "
                                                            "set_clock_uncertainty)")
    # Latches only come from the RTL: on ASAP7, OpenROAD 26Q3's repair_timing swapped a write-data
    # flip-flop (DFFHQx4) for a latch (DHLx1), a change of function the flop/latch census caught.
    resizer_dont_use: list[str] = Field(default_factory=list, description="library cell patterns OpenROAD's "
                                        "repair steps may never pick as a replacement")
    voltage_v: float | None = Field(None, gt=0, description="supply voltage to record; null = the setup "
                                                            "corner's Liberty nom_voltage")
    sdc_template: str = Field(description="Jinja2 SDC template, a file name under platforms/")
    # ORFS asap7 runs at CORNER=BC (0.77 V), not at our analysis corner.
    orfs_voltage_v: float | None = Field(None, gt=0, description="supply voltage of the ORFS platform's default "
                                                                 "corner, for imported ORFS runs (their metrics "
                                                                 "do not carry it)")
    # lambdapdk's freepdk45 routes metal2-metal7 only; ORFS's nangate45 (the halutmatmul archive's
    # platform) routes metal2-metal10. null = the PDK's own range (SC [pdk,minlayer]/[pdk,maxlayer]).
    min_routing_layer: str | None = Field(None, description="lowest signal routing layer (SC "
                                                            "[asic,minlayer]); null = the PDK's")
    max_routing_layer: str | None = Field(None, description="highest signal routing layer (SC "
                                                            "[asic,maxlayer]); null = the PDK's")
    global_routing_adjustment: dict[str, float] = Field(
        default_factory=dict, description="routing layer -> fraction of its global-routing capacity held "
                                          "back (OpenROAD set_global_routing_layer_adjustment), replacing "
                                          "the PDK's value for that layer; unnamed layers keep the PDK's")
    # Global placement (SC's OpenROAD place.global task variables; null = SC's default).
    gpl_timing_driven: bool | None = Field(None, description="timing-driven global placement (SC var "
                                                             "gpl_timing_driven; null = SC's default, on)")
    gpl_routability_driven: bool | None = Field(None, description="routability-driven global placement (SC "
                                                                  "var gpl_routability_driven; null = SC's "
                                                                  "default, on)")
    gpl_cell_padding_sites: int | None = Field(None, ge=0, description="sites of padding left and right of "
                                                                       "every cell in global placement (SC var "
                                                                       "pad_global_place; null = the library's)")
    synthesis_strategy: SynthesisStrategy | None = Field(
        None, description="SC's named ABC script for Yosys (AREA3 = ORFS abc_area, DELAY4 = abc_speed); null = "
                          "Yosys' own ABC script timed to the clock period")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_name(value, "platform name")

    @field_validator("global_routing_adjustment")
    @classmethod
    def _adjustment_fraction(cls, value: dict[str, float]) -> dict[str, float]:
        for layer, fraction in value.items():
            if not 0.0 <= fraction < 1.0:
                raise ValueError(f"global_routing_adjustment: layer '{layer}': must be in [0, 1) (value: {fraction!r})")
        return value

    @model_validator(mode="after")
    def _checks_covered(self) -> Platform:
        for check in ("setup", "hold", "power"):
            where = [name for name, sc in self.timing_scenarios.items() if check in sc.checks]
            if not where:
                raise ValueError(f"timing_scenarios: no scenario analyses '{check}'")
            if check == "setup" and len(where) > 1:
                raise ValueError(f"timing_scenarios: setup is analysed at {', '.join(where)}; name one")
        return self

    @property
    def setup_scenario(self) -> str:
        """The scenario fmax, WNS and TNS are quoted at (its corner's voltage is the record's)."""
        return next(name for name, sc in self.timing_scenarios.items() if "setup" in sc.checks)

    @property
    def analysis_corner(self) -> str:
        """The library corner of the setup scenario."""
        return self.timing_scenarios[self.setup_scenario].libcorners[0]

    def to_ns(self, value: float) -> float:
        """A time in this platform's unit, in ns."""
        return value * TIME_UNIT_NS[self.time_unit]

    @property
    def clock_period_ns(self) -> float:
        return self.to_ns(self.clock_period)

    @property
    def target_freq_mhz(self) -> float:
        return 1000.0 / self.clock_period_ns


class FloorplanOverride(_Strict):
    """A design's own floorplan on one PDK, in place of the platform's (ORFS keeps these per design
    and platform too: CORE_UTILIZATION and PLACE_DENSITY in the design's config.mk)."""

    core_utilization_pct: float | None = Field(None, gt=0, le=100, description="floorplan core utilisation "
                                                                               "(null = the platform's)")
    placement_density: float | None = Field(None, gt=0, le=1, description="global placement target density "
                                                                          "(null = the platform's)")


class DesignSpec(_Strict):
    """One entry of the matrix: a generated design and its parameter set."""

    name: str = Field(description='design name, e.g. "halut_encoder"')
    generator: str = Field("halut", description="Python package under designs/ that renders it")
    parameters: dict[str, Any] = Field(default_factory=dict, description="the generator's parameters "
                                       "(designs/<generator>/parameters.yaml); missing ones take its defaults")
    clock_period: dict[str, float] = Field(default_factory=dict, description="per-PDK clock period, in the "
                                           "platform's time_unit (default: the platform's)")
    floorplan: dict[str, FloorplanOverride] = Field(default_factory=dict, description="per-PDK core "
                                                    "utilisation / placement density of this design, in place "
                                                    "of the platform's (the closure loop relaxes from these)")
    label: str | None = Field(None, description="tells several parameter sets of one design apart (names the "
                                                "build directory and the run)")
    # Validated by the generator's ``accuracy`` plug-in (orchestrator.accuracy).
    accuracy: dict[str, Any] | None = Field(None, description="accuracy task the generator measures this point "
                                                              "on (dataset, layer, seed, options); null = "
                                                              "hardware figures only")

    @field_validator("clock_period")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for pdk, period in value.items():
            if not math.isfinite(period) or period <= 0:
                raise ValueError(f"clock period for '{pdk}' must be a finite number > 0, got {period}")
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_name(value, "design name")

    @field_validator("label")
    @classmethod
    def _safe_label(cls, value: str | None) -> str | None:
        # "" names the same job and build directory as no label at all: it is no label (and an entry
        # without one beside it is then a duplicate, refused naming both).
        return None if not value else check_name(value, "label")


class Paths(_Strict):
    """Where things go, relative to config.yaml's folder."""

    build_dir: str = Field("build", description="job build directories (SC's job trees)")
    history_dir: str = Field("reports/history", description="the history: one JSON record per run")
    reports_dir: str = Field("reports", description="tables and plots")
    site_dir: str = Field("reports/site", description="the static HTML gallery")
    platforms_dir: str = Field("platforms", description="platform files")


# The node schedulers SC 0.38 implements for [option,scheduler,name]. Its schema also lists lsf and
# sge, but its scheduler rejects them at run time ("Unsupported scheduler"), so we refuse them here.
Scheduler = Literal["slurm", "docker"]
SCHEDULERS: tuple[str, ...] = get_args(Scheduler)


class ClosureOptions(_Strict):
    """The routing closure loop: when global routing fails for congestion or detailed routing ends
    with DRC violations, the job runs again from the floorplan with the floorplan relaxed, up to
    ``max_attempts`` times in all (SC replays synthesis; see orchestrator.closure)."""

    max_attempts: int = Field(3, ge=1, le=10, description="flow attempts in all, the first included; 1 = "
                                                           "no closure loop")
    core_utilization_step_pct: float = Field(5.0, gt=0, le=50, description="each retry lowers the core "
                                                                            "utilisation by this many "
                                                                            "percentage points")
    placement_density_step: float = Field(0.05, ge=0, le=0.5, description="each retry lowers the global "
                                                                          "placement density by this much")
    min_core_utilization_pct: float = Field(10.0, gt=0, le=100, description="no retry goes below this "
                                                                            "core utilisation")


class FlowOptions(_Strict):
    """How jobs run (the ``flow:`` block; ``run``'s flags override it)."""

    to: str | None = Field(None, description="last SC step to run (e.g. synthesis); null = the whole flow, as "
                                             "far as the installed tools allow")
    jobs: int | None = Field(None, ge=1, description="jobs at once; null = the cores this process may use")
    require_all_stages: bool = Field(False, description="fail instead of skipping stages whose tool is missing")
    syn_np: int = Field(1, ge=1, description="threads of the synthesis node")
    scheduler: Scheduler | None = Field(None, description="SC [option,scheduler,name]: where SC runs each node; "
                                                          "null = on this machine")
    scheduler_queue: str | None = Field(None, description="SC [option,scheduler,queue] (the Slurm partition)")
    scheduler_options: list[str] = Field(default_factory=list, description="SC [option,scheduler,options], "
                                         "passed as they are")
    liberty_cache: bool = Field(True, description="reuse SC's Yosys Liberty preparation across jobs "
                                                  "(orchestrator.liberty_cache); false = SC as shipped")
    # logicdepth: OpenROAD's report_logic_depth_histogram walks every path and takes tens of minutes
    # on the latch-memory designs (a small halut_matmul on ASAP7 sat in it for over 15 min at
    # cts.repair_timing); the record does not use SC's logicdepth metric.
    closure: ClosureOptions = Field(default_factory=ClosureOptions, description="routing closure loop")
    # A detailed route that plateaus (a NanGate45 matmul at 45 %: 16 violations from its 7th pass on)
    # would otherwise run OpenROAD's 64 passes before the closure loop may relax the floorplan.
    detailed_route_end_iteration: int | None = Field(None, ge=1, le=64, description="last detailed-routing "
                                                     "pass (SC openroad var drt_end_iteration, ORFS "
                                                     "DETAILED_ROUTE_END_ITERATION); null = OpenROAD's 64")

    @field_validator("step_timeouts_s")
    @classmethod
    def _positive_timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        for step, seconds in value.items():
            if not seconds > 0:
                raise ValueError(f"step_timeouts_s: step '{cut(step)}': must be > 0 (value: {seconds!r})")
        return value

    openroad_skip_reports: list[str] = Field(default_factory=lambda: ["logicdepth"], description="OpenROAD "
                                             "reports every P&R step skips (SC APRTask skip_reports)")
    # The longest step measured here is detailed routing of a NanGate45 encoder, 40 min (a matmul's
    # is several times that); 6 h ends a hung tool the same night without cutting a slow real one.
    step_timeout_s: float | None = Field(21600.0, gt=0, description="wall-time limit of one flow step's tool, "
                                         "in s (SC [option,timeout]); a step past it is ended and the job "
                                         "recorded as fail; null = no limit")
    step_timeouts_s: dict[str, float] = Field(default_factory=dict, description="step name -> its own "
                                              "wall-time limit in s, replacing step_timeout_s for that step")
    # A P&R job takes 20 min to hours here: 1000 points are weeks of machine time, and a grid that
    # large is a typo (an axis listed twice, a range pasted in) far more often than a plan.
    max_sweep_points: int = Field(1000, ge=1, description="most jobs one sweep may expand to (its points x "
                                                          "clock periods x PDKs); a larger sweep is refused "
                                                          "at load, naming its count")


class Sweep(_Strict):
    """A design-space sweep: parameter points (a grid or a list) crossed with clock periods per PDK.

    ``orchestrator.jobs`` expands it into one job per (point, clock period, PDK).
    """

    name: str = Field(description="sweep name: the start of every point's label and build directory")
    design: str = Field(description="the design swept")
    generator: str = Field("halut", description="Python package under designs/ that renders it")
    parameters: dict[str, Any] = Field(default_factory=dict, description="parameters shared by every point")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="parameter -> values: every "
                                       "combination is a point")
    points: list[dict[str, Any]] = Field(default_factory=list, description="or: explicit parameter sets")
    clock_period: dict[str, list[float]] = Field(default_factory=dict, description="PDK -> clock periods "
                                                 "(platform time_unit), each crossed with every point")
    pdks: list[str] | None = Field(None, description="PDKs of the sweep; null = config.yaml's pdks")
    accuracy: dict[str, Any] | None = Field(None, description="every point's accuracy task (as designs[].accuracy)")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_name(value, "sweep name")

    @field_validator("design")
    @classmethod
    def _safe_design(cls, value: str) -> str:
        return check_name(value, "design name")


class Config(_Strict):
    """config.yaml: the design matrix, the sweeps and the defaults of a run."""

    pdk_data_root: str | None = Field(None, description=f"lambdapdk data root for offline runs (relative to "
                                                        f"config.yaml); ${PDK_ROOT_ENV} wins")
    pdks: list[str] = Field(min_length=1, description="the PDKs of the matrix (platform names)")
    designs: list[DesignSpec] = Field(min_length=1, description="the design matrix: every entry runs on every PDK")
    sweeps: list[Sweep] = Field(default_factory=list, description="design-space sweeps (run --sweep NAME)")
    flow: FlowOptions = Field(default_factory=FlowOptions, description="how jobs run")
    paths: Paths = Field(default_factory=Paths, description="where things go")

    # Filled by the loader, not by the file (``load_config`` refuses them as keys).
    root: Path = Field(Path("."), exclude=False, description="the folder of config.yaml")
    platforms: dict[str, Platform] = Field(default_factory=dict, description="platforms/*.yaml by name")

    def path(self, name: str) -> Path:
        return (self.root / getattr(self.paths, name)).resolve()

    def platform(self, pdk: str) -> Platform:
        try:
            return self.platforms[pdk]
        except KeyError:
            known = ", ".join(sorted(self.platforms)) or "none"
            raise ConfigError(f"unknown PDK '{pdk}' (platforms available: {known})") from None

    def resolved_pdk_data_root(self) -> Path | None:
        value = os.environ.get(PDK_ROOT_ENV) or self.pdk_data_root
        if not value:
            return None
        path = Path(value)
        if not path.is_absolute():
            path = (self.root / path) if not os.environ.get(PDK_ROOT_ENV) else Path.cwd() / path
        return path.resolve()


def format_validation_error(source: Path, exc: ValidationError) -> str:
    """pydantic's first error as one line naming the file, the key and the value; every part that
    comes from the file (key names, the value, a message quoting it) is cut to a few hundred
    characters."""
    err = exc.errors()[0]
    parts: list[str] = []
    for item in err["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + cut(str(item)))
    key = "".join(parts) or "<root>"
    msg = cut(err["msg"], 2 * CLIP_CHARS)
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    if err["type"] == "missing":
        return f"{source}: missing key '{key}'"
    value = err.get("input")
    if err["type"] == "value_error":  # our validators' messages already name what is wrong
        msg = msg.removeprefix("Value error, ")
        if "(value: " in msg:
            return f"{source}: key '{key}': {msg}"
    return f"{source}: key '{key}': {msg} (value: {clip(value)})"


def read_yaml_mapping(
    path: Path,
    error: type[OrchestratorError] = ConfigError,
    *,
    kind: str = "",
    not_found_hint: str = "",
    empty_ok: bool = True,
) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; any problem is one ``error`` line naming the file.

    ``kind`` names the file in messages ("baseline file not found"); ``not_found_hint`` says how
    to create a missing one.
    """
    label = f"{kind} " if kind else ""
    try:
        text = read_text_file(path)
    except FileNotFoundError:
        hint = f" ({not_found_hint})" if not_found_hint else ""
        raise error(f"{path}: {label}file not found{hint}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {label}file: {exc.strerror or exc}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML{yaml_error_text(exc)}") from None
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


# How much bigger than its own text a YAML document may become by expanding its aliases: each node
# counts 1 and each scalar its length, so an ordinary file (a few kB, an anchor or two) is far below
# and a "billion laughs" document (a 1 kB file that expands to 10^9 nodes) is refused before a
# single object of it is built.
YAML_ALIAS_BUDGET = 1_000_000
# Deeper than any config; PyYAML's composer recurses per level and would die of RecursionError.
YAML_MAX_DEPTH = 100


class YAMLBudgetError(yaml.YAMLError):
    """A document whose aliases expand beyond the budget, nests too deep, or refers to itself."""

    def __init__(self, problem: str, mark: Any = None):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """" (line L, column C): problem" for a PyYAML error: one line, bounded (a problem can quote
    the offending text)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    return f"{where}: {cut(problem)}"


def _check_expansion(root: yaml.Node, text_size: int, budget: int) -> None:
    """Refuse a composed document whose aliases would expand it beyond ``text_size + budget``.

    An alias is the same node object reached twice, so the expanded size is a sum over a DAG:
    each node is sized once (iteratively: no recursion however deep), a node met again while it is
    being sized is a recursive alias."""
    limit = text_size + budget
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            if isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            else:
                children = node.value
            total = 1 + sum(size[id(child)] for child in children)
            if total > limit:
                raise YAMLBudgetError(f"aliases expand the document by more than {budget} nodes and "
                                      f"characters (a YAML alias bomb?)", node.start_mark)
            size[key] = total
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise YAMLBudgetError("an alias refers to a node that contains it (a recursive document)",
                                  node.start_mark)
        if depth > YAML_MAX_DEPTH:
            raise YAMLBudgetError(f"nested deeper than {YAML_MAX_DEPTH} levels", node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            size[key] = 1 + len(node.value)
            continue
        open_nodes.add(key)
        stack.append((node, depth, True))
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
            else node.value
        stack.extend((child, depth + 1, False) for child in children)


def load_yaml(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader, *,
              budget: int = YAML_ALIAS_BUDGET) -> Any:
    """``yaml.safe_load`` with walls: the document is composed (aliases stay shared nodes), sized
    with its aliases expanded, and only then built. Every YAML document the orchestrator reads
    comes through here. Raises ``yaml.YAMLError`` (``YAMLBudgetError`` for the walls)."""
    loader_ = loader(text)
    try:
        try:
            node = loader_.get_single_node()
        except RecursionError:  # the composer recurses per nesting level
            raise YAMLBudgetError(f"nested deeper than {YAML_MAX_DEPTH} levels") from None
        if node is None:
            return None
        _check_expansion(node, len(text), budget)
        return loader_.construct_document(node)
    finally:
        loader_.dispose()


# A config, platform or baseline file is a few kB; anything far larger is not one (or is /dev/zero).
MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024


def read_text_file(path: Path, limit: int = MAX_TEXT_FILE_BYTES) -> str:
    """A UTF-8 text file that must be a regular file of at most ``limit`` bytes (OSError otherwise;
    UnicodeDecodeError for bytes that are not UTF-8). A FIFO or a device is never opened for reading
    (it could block or never end)."""
    import stat

    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise OSError("not a regular file")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"larger than {limit} bytes")
    return data.decode("utf-8")


def load_platform(path: Path) -> Platform:
    data = read_yaml_mapping(path)
    try:
        platform = Platform.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None
    if platform.name != path.stem:
        raise ConfigError(f"{path}: key 'name': must match the file name '{path.stem}' (value: {platform.name!r})")
    if not (path.parent / platform.sdc_template).is_file():
        raise ConfigError(f"{path}: key 'sdc_template': file not found (value: {clip(platform.sdc_template)})")
    return platform


def load_platforms(platforms_dir: Path) -> dict[str, Platform]:
    if not platforms_dir.is_dir():
        raise ConfigError(f"{platforms_dir}: platforms directory not found")
    return {p.stem: load_platform(p) for p in sorted(platforms_dir.glob("*.yaml"))}


def load_config(path: str | os.PathLike[str] = "config.yaml") -> Config:
    """Load config.yaml and every platform file against the schema; raise ConfigError on the first
    problem. What the design generators say of the entries is ``jobs.load_project``'s business."""
    config_path = Path(path).resolve()
    data = read_yaml_mapping(config_path)
    for reserved in ("root", "platforms"):
        if reserved in data:
            raise ConfigError(f"{config_path}: unknown key '{reserved}'")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(config_path, exc)) from None
    _check_unique_jobs(config_path, config)
    root = config_path.parent
    platforms = load_platforms(root / config.paths.platforms_dir)
    for index, pdk in enumerate(config.pdks):
        if pdk not in platforms:
            known = ", ".join(sorted(platforms)) or "none"
            raise ConfigError(f"{config_path}: key 'pdks[{index}]': unknown PDK (value: {clip(pdk)}; known: {known})")
    for index, spec in enumerate(config.designs):
        for key in ("clock_period", "floorplan"):
            for pdk in getattr(spec, key):
                if pdk not in platforms:
                    raise ConfigError(f"{config_path}: key 'designs[{index}].{key}.{cut(pdk)}': unknown PDK "
                                      f"(value: {clip(pdk)})")
    return config.model_copy(update={"root": root, "platforms": platforms})


def _check_unique_jobs(config_path: Path, config: Config) -> None:
    """Entries that map to one job share its name and build directory: refuse them, naming both."""
    for index, pdk in enumerate(config.pdks):
        if pdk in config.pdks[:index]:
            first = config.pdks.index(pdk)
            raise ConfigError(f"{config_path}: keys 'pdks[{first}]' and 'pdks[{index}]': PDK listed twice "
                              f"(value: {pdk!r})")
    # Case-folded: names that differ only in case are one build directory and one history folder on
    # a case-insensitive file system (macOS, Windows, some network shares).
    seen: dict[tuple[str, str | None], int] = {}
    for index, spec in enumerate(config.designs):
        key = (spec.name.casefold(), spec.label.casefold() if spec.label else None)
        if key in seen:
            first = config.designs[seen[key]]
            what = f"label {spec.label!r}" if spec.label else "no label"
            same = "the same job" if (first.name, first.label) == (spec.name, spec.label) else \
                "names that differ only in case, one folder on a case-insensitive file system"
            raise ConfigError(f"{config_path}: keys 'designs[{seen[key]}]' and 'designs[{index}]': {same} "
                              f"(design {spec.name!r}, {what}); give each a distinct 'label'")
        seen[key] = index
