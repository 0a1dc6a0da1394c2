"""The history record: one immutable JSON document per flow job.

Every producer (SiliconCompiler runs in ``metrics``, ORFS imports in ``orfs_import``) emits a
``RunRecord``; every consumer (``history``, ``report``, ``check``) reads only this shape.
Units are part of the field names; a metric that no stage produced is absent (``None``), never 0.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1

Status = Literal["pass", "fail", "partial"]
Source = Literal["siliconcompiler", "orfs"]

# Where a figure came from, coarsest first. "synthesis" values are estimates (no P&R).
MetricOrigin = Literal["synthesis", "floorplan", "place", "cts", "route", "finish", "sta"]


class Metrics(BaseModel):
    """Normalised design metrics. ``None`` means "not produced", see ``RunRecord.missing``."""

    model_config = ConfigDict(extra="forbid")

    area_um2: float | None = None  # std-cell (instance) area; synthesis estimate when P&R did not run
    stdcell_count: int | None = None
    register_count: int | None = None  # flip-flops + latches
    ge: float | None = None  # gate equivalents = area_um2 / platform GE reference cell area
    clock_period_ns: float | None = None  # the constraint, not the achieved period
    target_freq_mhz: float | None = None  # 1000 / clock_period_ns ("Freq" of the halutmatmul tables)
    fmax_mhz: float | None = None  # achieved, from STA
    wns_ns: float | None = None  # <= 0 when failing
    tns_ns: float | None = None  # <= 0 when failing
    utilization_pct: float | None = None
    voltage_v: float | None = None
    power_mw: float | None = None
    die_area_um2: float | None = None
    core_area_um2: float | None = None
    # Of the layer the design point runs (a sweep's ``accuracy`` task, see orchestrator.accuracy):
    accuracy_pct: float | None = None  # held-out accuracy with the halut layer
    approx_error: float | None = None  # ||approx - A.B||_F / ||A.B||_F on the test rows


# Human-readable unit per metric, for tables and plot axes.
METRIC_UNITS: dict[str, str] = {
    "area_um2": "µm²",
    "stdcell_count": "cells",
    "register_count": "registers",
    "ge": "GE",
    "clock_period_ns": "ns",
    "target_freq_mhz": "MHz",
    "fmax_mhz": "MHz",
    "wns_ns": "ns",
    "tns_ns": "ns",
    "utilization_pct": "%",
    "voltage_v": "V",
    "power_mw": "mW",
    "die_area_um2": "µm²",
    "core_area_um2": "µm²",
    "accuracy_pct": "%",
    "approx_error": "rel. Frobenius",
}

METRIC_NAMES: tuple[str, ...] = tuple(Metrics.model_fields)


def format_kge(ge: float) -> str:
    """GE the way the halutmatmul tables print it, in thousands: '110.238 kGE'."""
    return f"{ge / 1000.0:.3f} kGE"


class SkippedStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str  # SC step name, e.g. "floorplan.init" (or an ORFS stage name for imports)
    reason: str  # e.g. "openroad not installed (install OpenROAD >= 2.0 ...)"


class StepInfo(BaseModel):
    """One flow step (SC ``step/index`` or an ORFS stage) as it ran."""

    model_config = ConfigDict(extra="forbid")

    step: str
    status: Literal["success", "error", "skipped", "pending"] = "success"
    tool: str | None = None
    runtime_s: float | None = None  # wall time of the tool ("exetime") or of the stage
    log: str | None = None  # path, relative to the record's build_dir when possible


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
    steps: list[StepInfo] = Field(default_factory=list)
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
    images: dict[str, str] = Field(default_factory=dict)  # "placement"/"routing"/"cts"/... -> png path
    source_path: str | None = None  # for imports: where the run came from

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

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


def make_run_id(design: str, pdk: str, parameters: dict[str, Any], timestamp: datetime, salt: str = "") -> str:
    """Run id: sortable by time, unique per (design, pdk, parameters, time, salt)."""
    stamp = timestamp.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(
        f"{design}|{pdk}|{parameters_key(parameters)}|{stamp}|{salt}".encode()
    ).hexdigest()[:8]
    return f"{stamp}-{_UNSAFE.sub('_', design)}-{_UNSAFE.sub('_', pdk)}-{digest}"
