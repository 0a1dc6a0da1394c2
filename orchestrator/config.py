"""Typed configuration: ``config.yaml`` (the matrix and defaults) + ``platforms/<pdk>.yaml``.

This is the single source of truth that every stage receives. Unknown keys are errors, and every
error is one line naming the file, the key and the offending value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import ConfigError, OrchestratorError

# Environment variable that points lambdapdk at an offline data root (e.g. ../shared/pdk).
PDK_ROOT_ENV = "HALUT_PDK_ROOT"

# Nanoseconds per time unit (Liberty/ORFS spellings); platforms use ps or ns.
TIME_UNIT_NS = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    analysis_corner: str  # SC libcorner whose Liberty gives the nominal voltage
    voltage_v: float | None = Field(default=None, gt=0)  # override; None = read from Liberty
    sdc_template: str  # file name under platforms/
    # Supply voltage of the ORFS platform's default corner, for imported ORFS runs (their metrics
    # do not carry it). ORFS asap7 runs at CORNER=BC (0.77 V), not at our analysis corner.
    orfs_voltage_v: float | None = Field(default=None, gt=0)
    # ABC script of the Yosys synthesis (flow.apply_synthesis_settings). None = SC's default:
    # Yosys' own ABC script, timed to the clock period (``abc -D``).
    synthesis_strategy: SynthesisStrategy | None = None

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

    @field_validator("clock_period")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for pdk, period in value.items():
            if period <= 0:
                raise ValueError(f"clock period for '{pdk}' must be > 0, got {period}")
        return value


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


class Sweep(_Strict):
    """A design-space sweep: parameter points (a grid or a list) crossed with clock periods per PDK.

    ``orchestrator.sweeps`` expands it into one job per (point, clock period, PDK).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")  # part of job labels and build directory names
    design: str
    generator: str = "halut"
    parameters: dict[str, Any] = Field(default_factory=dict)  # fixed for every point
    grid: dict[str, list[Any]] = Field(default_factory=dict)  # parameter -> values; every combination
    points: list[dict[str, Any]] = Field(default_factory=list)  # or: explicit parameter sets
    clock_period: dict[str, list[float]] = Field(default_factory=dict)  # PDK -> periods (platform unit)
    pdks: list[str] | None = None  # default: the config's pdks


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

    @model_validator(mode="after")
    def _unique_jobs(self) -> "Config":
        seen: set[tuple[str, str | None]] = set()
        for spec in self.designs:
            key = (spec.name, spec.label)
            if key in seen:
                raise ValueError(f"design '{spec.name}' listed twice without distinct 'label'")
            seen.add(key)
        return self

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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f" ({not_found_hint})" if not_found_hint else ""
        raise error(f"{path}: {label}file not found{hint}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {label}file: {exc.strerror}") from None
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


def load_config(path: str | os.PathLike[str] = "config.yaml", *, check_designs: bool = True) -> Config:
    """Load and validate config.yaml and every platform file; raise ConfigError on the first problem.

    ``check_designs=False`` skips asking each generator to validate every design entry and sweep
    point: for a job process whose parent has already loaded the same file.
    """
    config_path = Path(path).resolve()
    data = read_yaml_mapping(config_path)
    for reserved in ("root", "platforms"):
        if reserved in data:
            raise ConfigError(f"{config_path}: unknown key '{reserved}'")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(config_path, exc)) from None
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
        if check_designs:
            _validate_design(config_path, index, spec)
    if check_designs:
        _validate_sweeps(config_path, config, platforms)
    return config.model_copy(update={"root": root, "platforms": platforms})


def _validate_design(config_path: Path, index: int, spec: DesignSpec) -> None:
    # Imported here: the generator is a plugin, resolved by name (ORFS: adding a design = adding files).
    from orchestrator.designs import DesignError, validate_parameters

    try:
        validate_parameters(spec.generator, spec.name, spec.parameters)
    except DesignError as exc:
        raise ConfigError(f"{config_path}: key 'designs[{index}]': {exc}") from None


def _validate_sweeps(config_path: Path, config: Config, platforms: dict[str, Platform]) -> None:
    from orchestrator.sweeps import SweepError, validate_sweep

    seen: set[str] = set()
    for index, sweep in enumerate(config.sweeps):
        if sweep.name in seen:
            raise ConfigError(f"{config_path}: key 'sweeps[{index}].name': listed twice (value: {sweep.name!r})")
        seen.add(sweep.name)
        try:
            validate_sweep(sweep, default_pdks=config.pdks, known_pdks=platforms)
        except SweepError as exc:
            raise ConfigError(f"{config_path}: key 'sweeps[{index}]{exc.key}': {exc.message}") from None
