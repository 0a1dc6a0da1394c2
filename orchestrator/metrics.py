"""Metrics stage: a finished SC job (its manifest on disk) -> one ``RunRecord``.

We read the job manifest SC writes into the build directory, never the live project object:
``Project.run()`` resets every non-global parameter when it returns, and a failed run may not
return at all. Each metric is taken from the last successful step that produced it, and the
record says which step that was. Units are normalised to the record's field names.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.config import Platform
from orchestrator.record import Metrics, MetricOrigin, RunRecord, SkippedStage, StepInfo, make_run_id
from orchestrator.sc_manifest import Manifest

# SC metric -> (record field, scale to the record's unit). SC units: um^2, %, ns, Hz, mW.
SC_METRICS: dict[str, tuple[str, float]] = {
    "cellarea": ("area_um2", 1.0),
    "cells": ("stdcell_count", 1.0),
    "registers": ("register_count", 1.0),
    "utilization": ("utilization_pct", 1.0),
    "setupwns": ("wns_ns", 1.0),
    "setuptns": ("tns_ns", 1.0),
    "fmax": ("fmax_mhz", 1e-6),
    "averagepower": ("power_mw", 1.0),
    "totalarea": ("die_area_um2", 1.0),
}
INT_FIELDS = {"stdcell_count", "register_count"}

# Metrics that only mean something after placement; synthesis "utilization" is not a P&R figure.
PNR_ONLY = {"utilization_pct", "die_area_um2"}

# First component of an SC step name -> the stage it belongs to.
STEP_ORIGIN: dict[str, MetricOrigin] = {
    "elaborate": "synthesis",
    "synthesis": "synthesis",
    "cleanup": "synthesis",
    "floorplan": "floorplan",
    "place": "place",
    "cts": "cts",
    "route": "route",
    "dfm": "route",
    "write": "finish",
}


def step_origin(step: str) -> MetricOrigin:
    if step == "synthesis.timing":
        return "sta"
    return STEP_ORIGIN.get(step.split(".", 1)[0], "finish")


def job_dir(build_dir: Path, top: str, jobname: str) -> Path:
    return Path(build_dir) / top / jobname


def load_job_manifest(build_dir: Path, top: str, jobname: str) -> Manifest | None:
    """The job's manifest as SC wrote it, or None when the run died before writing one."""
    return Manifest.load(job_dir(build_dir, top, jobname) / f"{top}.pkg.json")


def node_manifest(build_dir: Path, top: str, jobname: str, step: str, index: str) -> Manifest | None:
    """Per-node output manifest: has the node's metrics even when the job-level one is stale."""
    return Manifest.load(job_dir(build_dir, top, jobname) / step / index / "outputs" / f"{top}.pkg.json")


def git_commit(repo_dir: Path = Path(__file__).resolve().parent) -> str | None:
    """Commit of the orchestrator's own checkout ("-dirty" when it has local changes)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_dir), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(repo_dir), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def build_record(
    *,
    design: str,
    top: str,
    label: str | None,
    platform: Platform,
    parameters: dict[str, Any],
    clock_period: float,
    started: datetime,
    build_dir: Path,
    jobname: str,
    run_nodes: list[tuple[str, str]],
    skipped: list[SkippedStage],
    voltage_v: float | None,
    error: str | None,
    tool_versions: dict[str, str],
    commit: str | None,
    job_key: str | None = None,
    manifest: Manifest | None = None,
) -> RunRecord:
    """Assemble the record for one job from what SC left in ``build_dir``. ``manifest``: the job
    manifest when the caller has read it already (None: read it here)."""
    period_ns = platform.to_ns(clock_period)
    metrics: dict[str, Any] = {
        "clock_period_ns": period_ns,
        "target_freq_mhz": 1000.0 / period_ns,
    }
    metric_steps: dict[str, str] = {"clock_period_ns": "sdc", "target_freq_mhz": "sdc"}
    if voltage_v is not None:
        metrics["voltage_v"] = voltage_v
        metric_steps["voltage_v"] = "platform" if platform.voltage_v is not None else f"liberty:{platform.analysis_corner}"

    jobpath = job_dir(build_dir, top, jobname)
    if manifest is None:
        manifest = load_job_manifest(build_dir, top, jobname)
    steps: list[StepInfo] = []
    logs: dict[str, str] = {}
    reports: list[str] = []
    versions = dict(tool_versions)
    last_ok: str | None = None
    failed_step: str | None = None
    for step, index in run_nodes:
        node_dir = jobpath / step / index
        # The job manifest holds every node SC finished; a node's own manifest is only read
        # when the job manifest never heard of it, e.g. after a crash.
        source = manifest
        if manifest is None or manifest.get("record", "status", step=step, index=index) is None:
            source = node_manifest(build_dir, top, jobname, step, index) or manifest
        status = source.get("record", "status", step=step, index=index) if source else None
        tool = source.node_tool(step, index) if source else None
        # tasktime: the node's wall time (tool + SC's own setup); exetime is the tool alone.
        runtime = source.get("metric", "tasktime", step=step, index=index) if source else None
        if runtime is None and source is not None:
            runtime = source.get("metric", "exetime", step=step, index=index)
        version = source.get("record", "toolversion", step=step, index=index) if source else None
        if tool and version:
            versions[tool] = str(version)
        log = node_dir / f"{step}.log"
        if log.is_file():
            logs[step] = str(log)
        report_dir = node_dir / "reports"
        if report_dir.is_dir():
            reports.extend(str(p) for p in sorted(report_dir.rglob("*")) if p.is_file())
        ok = status == "success"
        if not ok and not node_dir.is_dir():
            step_status = "pending"
        elif ok:
            step_status = "success"
        else:
            step_status = "error"
        steps.append(StepInfo(step=step, status=step_status, tool=tool, runtime_s=runtime, log=logs.get(step)))
        if ok:
            last_ok = step
            for sc_name, (field_name, scale) in SC_METRICS.items():
                value = source.get("metric", sc_name, step=step, index=index)
                if value is None:
                    continue
                if field_name in PNR_ONLY and step_origin(step) in ("synthesis", "sta"):
                    continue
                value = float(value) * scale
                metrics[field_name] = int(round(value)) if field_name in INT_FIELDS else value
                metric_steps[field_name] = step
        elif failed_step is None and step_status == "error":
            failed_step = step
    for skip in skipped:
        steps.append(StepInfo(step=skip.step, status="skipped"))

    area = metrics.get("area_um2")
    if area is not None:
        metrics["ge"] = area / platform.ge_reference_area_um2
        metric_steps["ge"] = metric_steps["area_um2"]
    origin = step_origin(metric_steps["area_um2"]) if "area_um2" in metric_steps else None

    if error is not None or failed_step is not None:
        status = "fail"
        if failed_step is not None:
            log = logs.get(failed_step)
            reason = f"step {failed_step} failed" + (f" (log: {log})" if log else "")
            if error and error not in reason:
                reason += f": {error}"
        else:
            reason = error
    elif skipped:
        status = "partial"
        # In flow order, so the tool that stopped the flow first (openroad, usually) leads.
        tools = list(dict.fromkeys(s.reason.split(" (")[0] for s in skipped if not s.reason.startswith("needs ")))
        reason = f"stopped after {last_ok}: " + "; ".join(tools)
    else:
        status = "pass"
        reason = None

    return RunRecord(
        run_id=make_run_id(design + (f"-{label}" if label else ""), platform.name, parameters, started),
        source="siliconcompiler",
        design=design,
        top=top,
        pdk=platform.name,
        stdcell_lib=platform.stdcell_lib,
        parameters={**parameters, **({"label": label} if label else {})},
        timestamp=started,
        status=status,
        reason=reason,
        stage_reached=last_ok,
        metrics_origin=origin,
        metrics=Metrics(**metrics),
        metric_steps=metric_steps,
        steps=steps,
        skipped_stages=skipped,
        tool_versions=versions,
        orchestrator_version=__version__,
        orchestrator_commit=commit,
        ge_reference_cell=platform.ge_reference_cell,
        ge_reference_area_um2=platform.ge_reference_area_um2,
        job_key=job_key,
        build_dir=str(build_dir),
        logs=logs,
        reports=reports,
        gds=_find_output(jobpath, top, (".gds", ".gds.gz")),
        images=_find_images(jobpath),
    )


def _find_output(jobpath: Path, top: str, suffixes: tuple[str, ...]) -> str | None:
    """The final GDS, from the last write step that produced one."""
    for step in ("write.gds", "write.views"):
        out = jobpath / step / "0" / "outputs"
        for suffix in suffixes:
            candidate = out / f"{top}{suffix}"
            if candidate.is_file():
                return str(candidate)
    return None


def _find_images(jobpath: Path) -> dict[str, str]:
    """Layout screenshots SC's OpenROAD tasks write under reports/images/."""
    images: dict[str, str] = {}
    wanted = {"placement": ("place",), "cts": ("cts",), "routing": ("route", "write")}
    for kind, prefixes in wanted.items():
        for prefix in prefixes:
            found = sorted(jobpath.glob(f"{prefix}*/*/reports/images/**/*.png"))
            if found:
                images[kind] = str(found[-1])
    return images
