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

from orchestrator.errors import ConfigError, OrchestratorError
from orchestrator.names import check_name

# Environment variable that points lambdapdk at an offline data root (e.g. ../shared/pdk).
PDK_ROOT_ENV = "HALUT_PDK_ROOT"

# Nanoseconds per time unit (Liberty/ORFS spellings); platforms use ps or ns.
TIME_UNIT_NS = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class _Strict(BaseModel):
    # NaN and Inf pass "> 0" checks (or fail far away, in a tool): no setting of ours may be one.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


TimingCheck = Literal["setup", "hold", "power"]


class TimingScenarioSpec(_Strict):
    """One sign-off scenario (SC ``[constraint,timing,scenario]``): library corners and the checks
    analysed there. Every check must be analysed somewhere, setup at exactly one scenario."""

    libcorners: list[str] = Field(min_length=1)  # SC libcorners; the first one gives the voltage
    pexcorner: str = "typical"
    checks: list[TimingCheck] = Field(min_length=1)


# SC's named ABC scripts for Yosys synthesis (syn_asic var ``strategy``; tools/yosys/scripts/common/
# syn_strategies.tcl). AREA3 is ORFS's abc_area script, DELAY4 its abc_speed script.
SynthesisStrategy = Literal["DELAY0", "DELAY1", "DELAY2", "DELAY3", "DELAY4", "AREA0", "AREA1", "AREA2", "AREA3"]


class Platform(_Strict):
    """One PDK + main std-cell library, as ORFS would declare a platform."""

    name: str
    description: str = ""
    sc_target: str  # "module:function" of the SC target that sets PDK, flow and timing scenarios
    pdk: str  # lambdapdk PDK name
    stdcell_lib: str  # main std-cell library name (Liberty library group)
    stdcell_lib_class: str  # "module:Class" of the lambdapdk StdCellLibrary
    time_unit: Literal["ps", "ns"]
    clock_period: float = Field(gt=0)  # in time_unit
    clock_port: str = "clk_i"
    io_delay_fraction: float = Field(ge=0, lt=1)
    driving_cell: str
    driving_cell_pin: str
    output_load_ff: float = Field(ge=0)  # in fF (the Liberty capacitive_load_unit of both PDKs)
    core_utilization_pct: float = Field(gt=0, le=100)
    placement_density: float = Field(gt=0, le=1)
    ge_reference_cell: str
    ge_reference_area_um2: float = Field(gt=0)
    # Sign-off scenarios by name, replacing the SC target's: which corner setup, hold and power are
    # analysed at. The record names the scenario of each timing and power figure.
    timing_scenarios: dict[str, TimingScenarioSpec] = Field(min_length=1)
    clock_uncertainty: float = Field(default=0.0, ge=0)  # in time_unit (jitter + skew margin)
    # Library cells (patterns) OpenROAD's repair steps may never pick as a replacement. Latches
    # only come from the RTL: on ASAP7, OpenROAD 26Q3's repair_timing swapped a write-data
    # flip-flop (DFFHQx4) for a latch (DHLx1), a change of function the flop/latch census caught.
    resizer_dont_use: list[str] = Field(default_factory=list)
    voltage_v: float | None = Field(default=None, gt=0)  # override; None = the setup corner's Liberty
    sdc_template: str  # file name under platforms/
    # Supply voltage of the ORFS platform's default corner, for imported ORFS runs (their metrics
    # do not carry it). ORFS asap7 runs at CORNER=BC (0.77 V), not at our analysis corner.
    orfs_voltage_v: float | None = Field(default=None, gt=0)
    # ABC script of the Yosys synthesis (flow.apply_synthesis_settings). None = SC's default:
    # Yosys' own ABC script, timed to the clock period (``abc -D``).
    synthesis_strategy: SynthesisStrategy | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_name(value, "platform name")

    @model_validator(mode="after")
    def _checks_covered(self) -> "Platform":
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


class DesignSpec(_Strict):
    """One entry of the matrix: a generated design and its parameter set."""

    name: str  # design name, e.g. "halut_encoder"
    generator: str = "halut"  # Python package that renders it (``render(design, params, out_dir)``)
    parameters: dict[str, Any] = Field(default_factory=dict)
    clock_period: dict[str, float] = Field(default_factory=dict)  # per-PDK override, platform time unit
    label: str | None = None  # distinguishes several parameter sets of one design
    # Accuracy task (dataset, layer, seed, options) the generator measures this point on; its
    # ``accuracy`` plug-in validates it (orchestrator.accuracy). None = hardware figures only.
    accuracy: dict[str, Any] | None = None

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
    build_dir: str = "build"
    history_dir: str = "reports/history"
    reports_dir: str = "reports"
    site_dir: str = "reports/site"
    platforms_dir: str = "platforms"


# The node schedulers SC 0.38 implements for [option,scheduler,name]. Its schema also lists lsf and
# sge, but its scheduler rejects them at run time ("Unsupported scheduler"), so we refuse them here.
Scheduler = Literal["slurm", "docker"]
SCHEDULERS: tuple[str, ...] = get_args(Scheduler)


class FlowOptions(_Strict):
    to: str | None = None  # last SC step to run (None = whole flow, as far as tools allow)
    jobs: int | None = Field(default=None, ge=1)  # None = number of cores
    require_all_stages: bool = False
    syn_np: int = Field(default=1, ge=1)
    scheduler: Scheduler | None = None  # SC [option,scheduler,name]; None = nodes run on this machine
    scheduler_queue: str | None = None  # SC [option,scheduler,queue] (the Slurm partition)
    scheduler_options: list[str] = Field(default_factory=list)  # SC [option,scheduler,options], as-is
    # Reuse SC's Yosys Liberty preparation across jobs (orchestrator.liberty_cache); off = SC as shipped.
    liberty_cache: bool = True
    # OpenROAD reports every P&R step skips (SC APRTask ``skip_reports``). logicdepth: OpenROAD's
    # report_logic_depth_histogram walks every path and takes tens of minutes on the latch-memory
    # designs (a small halut_matmul on ASAP7 sat in it for over 15 min at cts.repair_timing); the
    # record does not use SC's logicdepth metric.
    openroad_skip_reports: list[str] = Field(default_factory=lambda: ["logicdepth"])


class Sweep(_Strict):
    """A design-space sweep: parameter points (a grid or a list) crossed with clock periods per PDK.

    ``orchestrator.jobs`` expands it into one job per (point, clock period, PDK).
    """

    name: str  # part of job labels and build directory names (``names``)
    design: str
    generator: str = "halut"
    parameters: dict[str, Any] = Field(default_factory=dict)  # fixed for every point
    grid: dict[str, list[Any]] = Field(default_factory=dict)  # parameter -> values; every combination
    points: list[dict[str, Any]] = Field(default_factory=list)  # or: explicit parameter sets
    clock_period: dict[str, list[float]] = Field(default_factory=dict)  # PDK -> periods (platform unit)
    pdks: list[str] | None = None  # default: the config's pdks
    accuracy: dict[str, Any] | None = None  # every point's accuracy task (see DesignSpec.accuracy)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_name(value, "sweep name")

    @field_validator("design")
    @classmethod
    def _safe_design(cls, value: str) -> str:
        return check_name(value, "design name")


class Config(_Strict):
    pdk_data_root: str | None = None  # lambdapdk data root; env HALUT_PDK_ROOT wins
    pdks: list[str] = Field(min_length=1)
    designs: list[DesignSpec] = Field(min_length=1)
    sweeps: list[Sweep] = Field(default_factory=list)
    flow: FlowOptions = Field(default_factory=FlowOptions)
    paths: Paths = Field(default_factory=Paths)

    # Filled by the loader, not by the file.
    root: Path = Path(".")
    platforms: dict[str, Platform] = Field(default_factory=dict)

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
    err = exc.errors()[0]
    parts: list[str] = []
    for item in err["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    key = "".join(parts) or "<root>"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    if err["type"] == "missing":
        return f"{source}: missing key '{key}'"
    value = err.get("input")
    if err["type"] == "value_error":  # our validators' messages already name what is wrong
        msg = msg.removeprefix("Value error, ")
        if "(value: " in msg:
            return f"{source}: key '{key}': {msg}"
    return f"{source}: key '{key}': {msg} (value: {value!r})"


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
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: invalid YAML{where}: {problem}") from None
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


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
        raise ConfigError(f"{path}: key 'sdc_template': file not found (value: {platform.sdc_template!r})")
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
            raise ConfigError(f"{config_path}: key 'pdks[{index}]': unknown PDK (value: {pdk!r}; known: {known})")
    for index, spec in enumerate(config.designs):
        for pdk in spec.clock_period:
            if pdk not in platforms:
                raise ConfigError(
                    f"{config_path}: key 'designs[{index}].clock_period.{pdk}': unknown PDK (value: {pdk!r})"
                )
    return config.model_copy(update={"root": root, "platforms": platforms})


def _check_unique_jobs(config_path: Path, config: Config) -> None:
    """Entries that map to one job share its name and build directory: refuse them, naming both."""
    for index, pdk in enumerate(config.pdks):
        if pdk in config.pdks[:index]:
            first = config.pdks.index(pdk)
            raise ConfigError(f"{config_path}: keys 'pdks[{first}]' and 'pdks[{index}]': PDK listed twice "
                              f"(value: {pdk!r})")
    seen: dict[tuple[str, str | None], int] = {}
    for index, spec in enumerate(config.designs):
        key = (spec.name, spec.label)
        if key in seen:
            what = f"label {spec.label!r}" if spec.label else "no label"
            raise ConfigError(f"{config_path}: keys 'designs[{seen[key]}]' and 'designs[{index}]': the same job "
                              f"(design {spec.name!r}, {what}); give each a distinct 'label'")
        seen[key] = index
