"""Metrics stage: a finished SC job (its manifest on disk) -> one ``RunRecord``.

We read the job manifest SC writes into the build directory, never the live project object:
``Project.run()`` resets every non-global parameter when it returns, and a failed run may not
return at all. Each metric is taken from the last successful step that produced it, and the
record says which step that was. Units are normalised to the record's field names.
"""

from __future__ import annotations

import json
import math
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import __version__, netlist, steps
from orchestrator.config import Platform
from orchestrator.netlist import Sequential
from orchestrator.record import (
    INT_METRICS,
    METRIC_SPECS,
    Metrics,
    MetricSpec,
    RunRecord,
    SkippedStage,
    StepInfo,
    TimingScenario,
    make_run_id,
    run_name,
)
from orchestrator.sc_manifest import Manifest
from orchestrator.steps import step_origin, steps_producing

# The registry entries read from SC's ``[metric,...]`` (``MetricSpec.sc``), in declaration order.
SC_METRICS: tuple[MetricSpec, ...] = tuple(spec for spec in METRIC_SPECS if spec.sc is not None)

# OpenROAD's own metrics (``reports/metrics.json`` of each OpenROAD node) -> record field, for
# figures SC does not carry into its schema (``MetricSpec.openroad``).
OPENROAD_METRICS: dict[str, str] = {spec.openroad: spec.name for spec in METRIC_SPECS if spec.openroad}

# Slacks of a check -> its worst negative slack, when the tool records only the slack.
WNS_FROM_SLACK = {"setup_slack_ns": "wns_ns", "hold_slack_ns": "hold_wns_ns"}

def job_dir(build_dir: Path, top: str, jobname: str) -> Path:
    return Path(build_dir) / top / jobname


def load_job_manifest(build_dir: Path, top: str, jobname: str) -> Manifest | None:
    """The job's manifest as SC wrote it, or None when the run died before writing one."""
    return Manifest.load(job_dir(build_dir, top, jobname) / f"{top}.pkg.json")


def node_manifest(build_dir: Path, top: str, jobname: str, step: str, index: str) -> Manifest | None:
    """Per-node output manifest: has the node's metrics even when the job-level one is stale."""
    return Manifest.load(job_dir(build_dir, top, jobname) / step / index / "outputs" / f"{top}.pkg.json")


_PACKAGE_DIR = Path(__file__).resolve().parent


def git_commit(repo_dir: Path = _PACKAGE_DIR) -> str | None:
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


MIB = 1024.0 * 1024.0  # SC records [metric,memory] in bytes


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
    timing_scenarios: dict[str, TimingScenario] | None = None,
    sequential_cells: dict[str, Sequential] | None = None,
) -> RunRecord:
    """Assemble the record for one job from what SC left in ``build_dir``. ``manifest``: the job
    manifest when the caller has read it already (None: read it here). ``timing_scenarios``: the
    sign-off scenarios the flow analysed (which corner each timing/power figure comes from);
    ``sequential_cells``: the Liberty classification for the flop/latch census (None: no census)."""
    period_ns = platform.to_ns(clock_period)
    metrics: dict[str, Any] = {
        "clock_period_ns": period_ns,
        "target_freq_mhz": 1000.0 / period_ns,
    }
    metric_steps: dict[str, str] = {"clock_period_ns": "sdc", "target_freq_mhz": "sdc"}
    scenarios = dict(timing_scenarios or {})
    if voltage_v is not None:
        metrics["voltage_v"] = voltage_v
        metric_steps["voltage_v"] = "platform" if platform.voltage_v is not None else "liberty"

    jobpath = job_dir(build_dir, top, jobname)
    if manifest is None:
        manifest = load_job_manifest(build_dir, top, jobname)
    steps: list[StepInfo] = []
    logs: dict[str, str] = {}
    reports: list[str] = []
    versions = dict(tool_versions)
    last_ok: str | None = None
    failed_step: str | None = None
    netlist_steps: list[str] = []  # successful steps that wrote a gate-level netlist, in flow order
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
        memory = source.get("metric", "memory", step=step, index=index) if source else None
        peak_mib = float(memory) / MIB if memory is not None else None
        version = source.get("record", "toolversion", step=step, index=index) if source else None
        if tool and version:
            versions[tool] = str(version)
        log = node_dir / f"{step}.log"
        if log.is_file():
            logs[step] = str(log)
        report_dir = node_dir / "reports"
        if report_dir.is_dir():
            reports.extend(str(p) for p in sorted(report_dir.rglob("*")) if p.is_file())
        note = None
        if status == "success":
            step_status = "success"
        elif status == "skipped":
            # SC decided the node has nothing to do (no macros to place, no timing to repair,
            # no fill rules): not a failure, and not waiting to run either.
            step_status = "skipped"
            note = "skipped by SiliconCompiler: nothing to do in this design"
        elif not node_dir.is_dir():
            step_status = "pending"
        else:
            step_status = "error"
        steps.append(StepInfo(step=step, status=step_status, tool=tool, runtime_s=runtime,
                              peak_memory_mib=peak_mib, log=logs.get(step), note=note))
        if step_status == "success":
            last_ok = step
            _take_metrics(source, step, index, node_dir, metrics, metric_steps)
            if netlist.step_netlist(node_dir, top) is not None:
                netlist_steps.append(step)
        elif failed_step is None and step_status == "error":
            failed_step = step
    for skip in skipped:
        steps.append(StepInfo(step=skip.step, status="skipped", note=skip.reason))

    # Flops and latches from the netlist the area figure describes (or the newest one before it).
    area_step = metric_steps.get("area_um2")
    if sequential_cells and netlist_steps and area_step is not None:
        order = [s for s, _ in run_nodes]
        candidates = [s for s in netlist_steps if order.index(s) <= order.index(area_step)] or netlist_steps[:1]
        census_step = candidates[-1]
        counted = netlist.census(netlist.step_netlist(jobpath / census_step / "0", top), sequential_cells)
        for name, value in (("flop_count", counted.flops), ("latch_count", counted.latches),
                            ("register_count", counted.registers)):
            metrics[name] = value
            metric_steps[name] = census_step

    area = metrics.get("area_um2")
    if area is not None:
        metrics["ge"] = area / platform.ge_reference_area_um2
        metric_steps["ge"] = metric_steps["area_um2"]
    origin = step_origin(metric_steps["area_um2"]) if "area_um2" in metric_steps else None

    metric_scenarios: dict[str, str] = {}
    for spec in SC_METRICS:
        if spec.sc.check is None:
            continue
        names = [name for name, scenario in scenarios.items() if spec.sc.check in scenario.checks]
        if names:
            for field_name in (spec.name, WNS_FROM_SLACK.get(spec.name)):
                if field_name and field_name in metrics:
                    metric_scenarios[field_name] = ",".join(names)
    if "voltage_v" in metrics and "wns_ns" in metric_scenarios and platform.voltage_v is None:
        metric_scenarios["voltage_v"] = metric_scenarios["wns_ns"]

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
        tools = list(dict.fromkeys(s.reason.split(" (")[0] for s in skipped if s.blocked_by is None))
        reason = f"stopped after {last_ok}: " + "; ".join(tools)
    else:
        status = "pass"
        reason = None

    return RunRecord(
        run_id=make_run_id(run_name(design, label), platform.name, parameters, started),
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
        metric_scenarios=metric_scenarios,
        timing_scenarios=scenarios,
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
        images=find_images(jobpath, top),
        defs=find_defs(jobpath, top, [step for step, _ in run_nodes]),
    )


def _take_metrics(source: Manifest | None, step: str, index: str, node_dir: Path,
                  metrics: dict[str, Any], metric_steps: dict[str, str]) -> None:
    """Fold one successful node's figures into the record: later steps override earlier ones."""
    if source is None:
        return
    pre_pnr = step_origin(step) == "synthesis"
    taken: dict[str, float] = {}
    for spec in SC_METRICS:
        value = source.get("metric", spec.sc.name, step=step, index=index)
        if value is None or (spec.pnr_only and pre_pnr):
            continue
        taken[spec.name] = float(value) * spec.sc_scale
    for slack, wns in WNS_FROM_SLACK.items():
        # WNS is min(0, worst slack) by definition; OpenSTA's task records only the slack.
        if slack in taken and wns not in taken:
            taken[wns] = min(0.0, taken[slack])
    if not pre_pnr:
        taken.update(_openroad_metrics(node_dir))
    for field_name, value in taken.items():
        metrics[field_name] = int(round(value)) if field_name in INT_METRICS else value
        metric_steps[field_name] = step


def _openroad_metrics(node_dir: Path) -> dict[str, float]:
    """The ``OPENROAD_METRICS`` an OpenROAD node wrote into ``reports/metrics.json``."""
    path = node_dir / "reports" / "metrics.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found: dict[str, float] = {}
    for key, field_name in OPENROAD_METRICS.items():
        value = data.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            found[field_name] = float(value)
    return found


def _find_output(jobpath: Path, top: str, suffixes: tuple[str, ...]) -> str | None:
    """The final GDS, from the first step (``steps.STEP_SPECS`` "gds") that produced one."""
    for step in steps_producing("gds"):
        out = jobpath / step / "0" / "outputs"
        for suffix in suffixes:
            candidate = out / f"{top}{suffix}"
            if candidate.is_file():
                return str(candidate)
    return None


# Record image name -> the file SC 0.38 writes for it: KLayout renders the GDS in write.gds
# (``outputs/<top>.png``, ``steps.STEP_SPECS`` "layout_png"); OpenROAD's report script writes
# ``reports/images/<top>.<view>.png`` in the nodes that reach that view, and only when OpenROAD was
# built with its GUI module. The record's name is OpenROAD's view name.
OPENROAD_IMAGES = ("placement", "clocks", "routing")


def find_images(jobpath: Path, top: str) -> dict[str, str]:
    images: dict[str, str] = {}
    for step in steps_producing("layout_png"):
        layout = jobpath / step / "0" / "outputs" / f"{top}.png"
        if layout.is_file():
            images["layout"] = str(layout)
            break
    for view in OPENROAD_IMAGES:
        found = sorted(jobpath.glob(f"*/*/reports/images/{top}.{view}.png"), key=_flow_position)
        if found:
            images[view] = str(found[-1])
    return images


def find_defs(jobpath: Path, top: str, steps: list[str]) -> dict[str, str]:
    """step -> the DEF the step's node 0 wrote (SC 0.38's OpenROAD tasks write
    ``outputs/<top>.def.gz``; an uncompressed ``<top>.def`` is taken too), in ``steps`` order."""
    found: dict[str, str] = {}
    for step in steps:
        for name in (f"{top}.def.gz", f"{top}.def"):
            candidate = jobpath / step / "0" / "outputs" / name
            if candidate.is_file():
                found[step] = str(candidate)
                break
    return found


def _flow_position(path: Path) -> tuple[int, str]:
    """Where a node's file stands in SC's flow order (``steps.STEP_SPECS``; -1: no flow step)."""
    step = path.parts[-5]  # <step>/<index>/reports/images/<file>
    spec = steps.STEP_SPEC.get(step)
    return (steps.STEP_SPECS.index(spec) if spec else -1, step)
