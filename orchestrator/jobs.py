"""Jobs: the design matrix and the ``sweeps`` blocks of config.yaml -> one ``Job`` per (design,
parameter set, clock period, PDK), and the check that every entry is one its generator accepts.

``config`` knows the schema; only a design's generator knows its parameters, so validating them
(``load_project``) and expanding sweeps into jobs (``select_jobs``) happen here, one layer up.

A sweep names one design, parameters shared by every point, and either a ``grid`` (every
combination of the listed values) or a list of ``points``; ``clock_period`` lists periods per
PDK (in the platform's time unit), each crossed with every point::

    sweeps:
      - name: encoder_ck
        design: halut_encoder
        parameters: {dtype: int8, mem_style: latch}
        grid: {C: [16, 32, 64], K: [8, 16]}
        clock_period: {asap7: [1000, 1500], nangate45: [2.0, 3.0]}

Each point becomes a ``DesignSpec`` labelled ``<sweep>.<axis>=<value>,...`` (only the swept axes),
so every point has its own build directory, run id and history record.

A sweep's ``accuracy`` block (``accuracy: {dataset: digits, layer: output, seed: 0}``) gives every
point an accuracy task: the job measures the layer learned for the point's parameters and its
record gains ``accuracy_pct`` and ``approx_error`` (see ``orchestrator.accuracy``).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import accuracy
from orchestrator.config import Config, DesignSpec, Platform, Sweep, load_config
from orchestrator.designs import DesignError, clock_period_for, platform_for, validate_parameters
from orchestrator.errors import ConfigError, OrchestratorError, clip, cut
from orchestrator.names import UnsafeNameError, check_name, did_you_mean, short_number
from orchestrator.record import parameters_key, run_name


@dataclass(frozen=True)
class Job:
    """One flow job of the matrix."""

    spec: DesignSpec
    platform: Platform
    parameters: dict[str, Any]  # validated, with defaults filled
    key: str | None = None  # content hash of the job's inputs (``cache.job_key``), set once rendered

    @property
    def run_name(self) -> str:
        """The design and its label ("halut_encoder", "encoder_ck.C=16"): names the job's build
        directories and last-key file within its PDK's folder."""
        return run_name(self.spec.name, self.spec.label)

    @property
    def name(self) -> str:
        """``run_name`` on a PDK: what the progress lines and the CLI call the job."""
        return f"{self.run_name}-{self.platform.name}"

    @property
    def record_parameters(self) -> dict[str, Any]:
        """The parameters as the job's history record stores them (the label and the accuracy task included)."""
        task = {"accuracy": accuracy.label(self.spec.accuracy)} if self.spec.accuracy is not None else {}
        return {**self.parameters, **({"label": self.spec.label} if self.spec.label else {}), **task}

    def build_dir(self, config: Config) -> Path:
        return config.path("build_dir") / self.platform.name / f"{self.run_name}-{parameters_key(self.parameters)}"


class SweepError(OrchestratorError):
    """A sweep block is inconsistent; ``key`` is the offending sub-key (".grid.C"), or ""."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class SweepPoint:
    sweep: str
    pdk: str
    parameters: dict[str, Any]  # the sweep's shared parameters, overridden by this point's
    swept: dict[str, Any]  # this point's values of the swept axes only (they name the point)
    clock_period: float | None  # platform time unit; None = the platform's default

    @property
    def label(self) -> str:
        axes = [f"{name}={short_number(value)}" for name, value in self.swept.items()]
        if self.clock_period is not None:
            axes.append(f"period={short_number(self.clock_period)}")
        return f"{self.sweep}.{','.join(axes)}" if axes else self.sweep


def sweep_pdks(sweep: Sweep, default_pdks: Iterable[str]) -> list[str]:
    return list(sweep.pdks) if sweep.pdks is not None else list(default_pdks)


def parameter_points(sweep: Sweep) -> list[dict[str, Any]]:
    """The swept parameter values of each point, in a stable order (grid: last axis fastest)."""
    if sweep.grid:
        axes = list(sweep.grid)
        return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*(sweep.grid[a] for a in axes))]
    if sweep.points:
        return [dict(point) for point in sweep.points]
    return [{}]


def sweep_point_count(sweep: Sweep, default_pdks: Iterable[str]) -> int:
    """How many jobs ``expand_sweep`` makes of ``sweep`` (before repeats are dropped), counted
    from the lengths alone: a 786 432 x 1 000 grid is a number here, not a list."""
    if sweep.grid:
        points = math.prod(len(values) for values in sweep.grid.values())
    else:
        points = len(sweep.points) or 1
    return points * sum(len(sweep.clock_period.get(pdk, [])) or 1 for pdk in sweep_pdks(sweep, default_pdks))


def expand_sweep(sweep: Sweep, default_pdks: Iterable[str]) -> list[SweepPoint]:
    points: list[SweepPoint] = []
    for pdk in sweep_pdks(sweep, default_pdks):
        periods: list[float | None] = list(sweep.clock_period.get(pdk, [])) or [None]
        for swept in parameter_points(sweep):
            for period in periods:
                points.append(SweepPoint(sweep.name, pdk, {**sweep.parameters, **swept}, swept, period))
    return points


def point_spec(sweep: Sweep, point: SweepPoint) -> DesignSpec:
    return DesignSpec(
        name=sweep.design,
        generator=sweep.generator,
        parameters=point.parameters,
        clock_period={point.pdk: point.clock_period} if point.clock_period is not None else {},
        label=point.label,
        accuracy=accuracy.normalise(sweep.generator, sweep.accuracy) if sweep.accuracy is not None else None,
    )


def validate_sweep(sweep: Sweep, *, default_pdks: Iterable[str], known_pdks: Mapping[str, Platform],
                   max_points: int | None = None) -> None:
    """Raise ``SweepError`` for the first inconsistency, naming the sub-key and the value; a sweep
    of more than ``max_points`` jobs is refused before any of its points is looked at."""
    if sweep.grid and sweep.points:
        raise SweepError(".points", "give 'grid' or 'points', not both")
    if not (sweep.grid or sweep.points or sweep.clock_period):
        raise SweepError("", "nothing to sweep: give 'grid', 'points' or 'clock_period'")
    for axis, values in sweep.grid.items():
        if axis == "clock_period":
            raise SweepError(".grid.clock_period", "clock periods go under the sweep's 'clock_period: {pdk: [...]}'")
        if not values:
            raise SweepError(f".grid.{cut(axis)}", "must list at least one value (value: [])")
    for index, point in enumerate(sweep.points):
        if "clock_period" in point:
            raise SweepError(f".points[{index}].clock_period",
                             "clock periods go under the sweep's 'clock_period: {pdk: [...]}'")
    for index, pdk in enumerate(sweep.pdks or []):
        if pdk not in known_pdks:
            known = ", ".join(sorted(known_pdks))
            raise SweepError(f".pdks[{index}]", f"unknown PDK (value: {clip(pdk)}; known: {known})")
    pdks = sweep_pdks(sweep, default_pdks)
    for pdk, periods in sweep.clock_period.items():
        if pdk not in known_pdks:
            raise SweepError(f".clock_period.{cut(pdk)}", f"unknown PDK (value: {clip(pdk)})")
        if pdk not in pdks:
            raise SweepError(f".clock_period.{pdk}", f"PDK is not swept (sweep pdks: {', '.join(pdks)})")
        if not periods:
            raise SweepError(f".clock_period.{pdk}", "must list at least one period (value: [])")
        for period in periods:
            if period <= 0:
                raise SweepError(f".clock_period.{pdk}", f"periods must be > 0 (value: {period})")
    count = sweep_point_count(sweep, default_pdks)
    if max_points is not None and count > max_points:
        raise SweepError("", f"sweep '{sweep.name}' expands to {count} jobs, more than "
                             f"flow.max_sweep_points ({max_points})")
    task = None
    if sweep.accuracy is not None:
        try:
            task = accuracy.normalise(sweep.generator, sweep.accuracy)
        except accuracy.AccuracyError as exc:
            raise SweepError(f".accuracy{exc.key}", exc.message) from None
    where = ".grid" if sweep.grid else ".points"
    for index, swept in enumerate(parameter_points(sweep)):
        point = cut(", ".join(f"{k}={short_number(v)}" for k, v in swept.items())) or "shared parameters"
        key = f"{where}[{index}]" if sweep.points else (where if sweep.grid else ".parameters")
        try:
            parameters = validate_parameters(sweep.generator, sweep.design, {**sweep.parameters, **swept})
        except DesignError as exc:
            raise SweepError(key, f"point {point}: {exc}") from None
        if task is not None:
            try:
                accuracy.check_point(sweep.generator, parameters, task)
            except accuracy.AccuracyError as exc:
                raise SweepError(key, f"point {point}: accuracy: {exc.message}") from None


# ----------------------------------------------------------------------------- job selection


def _job_identity(job: Job) -> tuple:
    """What makes two jobs the same computation (labels aside; an accuracy task makes it another)."""
    return (job.spec.generator, job.spec.name, job.platform.name, parameters_key(job.parameters),
            clock_period_for(job.spec, job.platform), accuracy.label(job.spec.accuracy),
            job.platform.core_utilization_pct, job.platform.placement_density)


def select_jobs(
    config: Config,
    *,
    pdks: list[str],
    designs: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    include_matrix: bool = True,
    sweeps: list[str] | None = None,
) -> list[Job]:
    """Jobs for the matrix (``include_matrix``) and the named sweeps (None = none), restricted to
    ``pdks`` and ``designs``; ``overrides`` replace parameters everywhere except on swept axes.

    A sweep point that repeats an earlier job (same design, parameters, clock period, PDK) is
    dropped; matrix entries are never dropped.
    """
    overrides = dict(overrides or {})
    for pdk in pdks:
        if pdk not in config.platforms:
            known_pdks = ", ".join(sorted(config.platforms)) or "none"
            raise ConfigError(f"unknown PDK '{pdk}' (platforms available: {known_pdks})"
                              + did_you_mean(pdk, config.platforms))
    known = [spec.name for spec in config.designs] + [s.design for s in config.sweeps]
    for name in designs or []:
        if name not in known:
            raise ConfigError(f"unknown design '{name}' (config.yaml has: {', '.join(dict.fromkeys(known))})"
                              + did_you_mean(name, known))
    by_name = {s.name: s for s in config.sweeps}
    for name in sweeps or []:
        if name not in by_name:
            have = ", ".join(by_name) or "none"
            raise ConfigError(f"--sweep: unknown sweep '{name}' (config.yaml has: {have})")

    def wanted(design: str) -> bool:
        return not designs or design in designs

    jobs: list[Job] = []
    if include_matrix:
        for spec in config.designs:
            if not wanted(spec.name):
                continue
            if overrides:
                spec = spec.model_copy(update={"parameters": {**spec.parameters, **overrides}})
            if spec.accuracy is not None:
                spec = spec.model_copy(update={"accuracy": accuracy.normalise(spec.generator, spec.accuracy)})
            parameters = _validated(spec.generator, spec.name, spec.parameters, "--param")
            jobs.extend(Job(spec=spec, platform=platform_for(spec, config.platform(pdk)), parameters=parameters)
                        for pdk in pdks)

    seen = {_job_identity(job) for job in jobs}
    for name in sweeps or []:
        sweep = by_name[name]
        if not wanted(sweep.design):
            continue
        clash = sorted(set(overrides) & {axis for point in parameter_points(sweep) for axis in point})
        if clash:
            raise ConfigError(f"--param: '{clash[0]}' is swept by sweep '{sweep.name}'")
        if overrides:
            sweep = sweep.model_copy(update={"parameters": {**sweep.parameters, **overrides}})
        for point in expand_sweep(sweep, config.pdks):
            if point.pdk not in pdks:
                continue
            spec = point_spec(sweep, point)
            parameters = _validated(spec.generator, spec.name, spec.parameters, f"sweep '{sweep.name}'")
            job = Job(spec=spec, platform=config.platform(point.pdk), parameters=parameters)
            identity = _job_identity(job)
            if identity not in seen:
                seen.add(identity)
                jobs.append(job)
    return jobs


def _validated(generator: str, design: str, parameters: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return validate_parameters(generator, design, parameters)
    except OrchestratorError as exc:
        raise ConfigError(f"{what}: {exc}") from None


# ----------------------------------------------------------------------------- validation


def load_project(path: str | os.PathLike[str] = "config.yaml") -> Config:
    """``config.load_config`` plus what only the generators can say: every design entry's and
    every sweep point's parameters (and accuracy task) are valid. What a run loads."""
    config = load_config(path)
    validate_project(config, Path(path).resolve())
    return config


def validate_project(config: Config, config_path: Path) -> None:
    """Raise ConfigError naming ``config_path``, the key and the value for the first design entry
    or sweep its generator refuses."""
    for index, spec in enumerate(config.designs):
        _validate_design(config_path, index, spec)
    seen: set[str] = set()
    for index, sweep in enumerate(config.sweeps):
        if sweep.name in seen:
            raise ConfigError(f"{config_path}: key 'sweeps[{index}].name': listed twice (value: {clip(sweep.name)})")
        seen.add(sweep.name)
        try:
            validate_sweep(sweep, default_pdks=config.pdks, known_pdks=config.platforms,
                           max_points=config.flow.max_sweep_points)
        except SweepError as exc:
            raise ConfigError(f"{config_path}: key 'sweeps[{index}]{exc.key}': {exc.message}") from None
        _check_sweep_labels(config_path, index, sweep, config.pdks)


def _validate_design(config_path: Path, index: int, spec: DesignSpec) -> None:
    try:
        parameters = validate_parameters(spec.generator, spec.name, spec.parameters)
    except DesignError as exc:
        raise ConfigError(f"{config_path}: key 'designs[{index}]': {exc}") from None
    if spec.accuracy is not None:
        try:
            accuracy.check_point(spec.generator, parameters, accuracy.normalise(spec.generator, spec.accuracy))
        except accuracy.AccuracyError as exc:
            raise ConfigError(f"{config_path}: key 'designs[{index}].accuracy{exc.key}': {exc.message}") from None


def _check_sweep_labels(config_path: Path, index: int, sweep: Sweep, default_pdks: list[str]) -> None:
    """Each sweep point's label names a build directory: it must be a safe name too."""
    for point in expand_sweep(sweep, default_pdks):
        try:
            check_name(point.label, "sweep point label")
        except UnsafeNameError as exc:
            raise ConfigError(f"{config_path}: key 'sweeps[{index}]': {exc}") from None
