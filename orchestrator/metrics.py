"""Metrics stage: a finished SC job (its manifest on disk) -> one ``RunRecord``.

We read the job manifest SC writes into the build directory, never the live project object:
``Project.run()`` resets every non-global parameter when it returns, and a failed run may not
return at all. Each metric is taken from the last successful step that produced it, and the
record says which step that was. Units are normalised to the record's field names.

``build_record`` is its parts in order: ``target_figures`` (the clock and voltage targets),
``walk_nodes`` (each node's step, log, reports and figures), ``add_sequential_census`` (flops and
latches), ``add_gate_equivalents``, ``metric_scenarios`` and ``run_status``; ``assemble_record``
is the ``RunRecord`` both producers (this module and ``orfs_import``) build from ``Figures``.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import __version__, netlist, steps
from orchestrator.config import Platform
from orchestrator.netlist import Sequential
from orchestrator.record import (
    INT_METRICS,
    METRIC_SPECS,
    MetricOrigin,
    Metrics,
    MetricSpec,
    RunRecord,
    SkippedStage,
    Source,
    Status,
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


@dataclass
class Figures:
    """A record's metrics as they are gathered: each value, and the step (an ORFS stage, "sdc",
    "platform", ...) it came from. Both producers (SC jobs here, ``orfs_import``) fill one."""

    metrics: dict[str, Any] = field(default_factory=dict)
    metric_steps: dict[str, str] = field(default_factory=dict)
    origin: MetricOrigin | None = None  # the stage the area / cell figures come from

    def put(self, name: str, value: float | int | None, step: str) -> None:
        """Take ``value`` for metric ``name`` from ``step`` (a later put overrides); None: nothing."""
        if value is not None:
            self.metrics[name] = value
            self.metric_steps[name] = step


@dataclass
class Artifacts:
    """The files a record points at."""

    logs: dict[str, str] = field(default_factory=dict)  # step -> log path
    reports: list[str] = field(default_factory=list)
    gds: str | None = None
    images: dict[str, str] = field(default_factory=dict)


def assemble_record(
    *,
    run_id: str,
    source: Source,
    design: str,
    top: str,
    pdk: str,
    platform: Platform,
    parameters: dict[str, Any],
    timestamp: datetime,
    status: Status,
    reason: str | None,
    stage_reached: str | None,
    figures: Figures,
    steps: list[StepInfo],
    tool_versions: dict[str, str],
    artifacts: Artifacts,
    **extra: Any,
) -> RunRecord:
    """The ``RunRecord`` every producer builds the same way: its platform's library and GE
    reference, its figures, steps and files. ``extra``: the fields only one producer fills."""
    return RunRecord(
        run_id=run_id,
        source=source,
        design=design,
        top=top,
        pdk=pdk,
        stdcell_lib=platform.stdcell_lib,
        parameters=parameters,
        timestamp=timestamp,
        status=status,
        reason=reason,
        stage_reached=stage_reached,
        metrics_origin=figures.origin,
        metrics=Metrics(**figures.metrics),
        metric_steps=figures.metric_steps,
        steps=steps,
        tool_versions=tool_versions,
        ge_reference_cell=platform.ge_reference_cell,
        ge_reference_area_um2=platform.ge_reference_area_um2,
        logs=artifacts.logs,
        reports=artifacts.reports,
        gds=artifacts.gds,
        images=artifacts.images,
        **extra,
    )


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
    figures = target_figures(platform, clock_period, voltage_v)
    scenarios = dict(timing_scenarios or {})
    jobpath = job_dir(build_dir, top, jobname)
    if manifest is None:
        manifest = load_job_manifest(build_dir, top, jobname)
    walk = walk_nodes(build_dir, top, jobname, run_nodes, manifest, tool_versions, figures)
    flow_order = [step for step, _ in run_nodes]
    add_sequential_census(figures, walk.netlist_steps, flow_order, jobpath, top, sequential_cells)
    add_gate_equivalents(figures, platform)
    status, reason = run_status(error=error, failed_step=walk.failed_step, logs=walk.logs, skipped=skipped,
                                last_ok=walk.last_ok)
    return assemble_record(
        run_id=make_run_id(run_name(design, label), platform.name, parameters, started),
        source="siliconcompiler", design=design, top=top, pdk=platform.name, platform=platform,
        parameters={**parameters, **({"label": label} if label else {})}, timestamp=started,
        status=status, reason=reason, stage_reached=walk.last_ok, figures=figures,
        steps=[*walk.steps, *(StepInfo(step=skip.step, status="skipped", note=skip.reason) for skip in skipped)],
        tool_versions=walk.tool_versions,
        artifacts=Artifacts(logs=walk.logs, reports=walk.reports, gds=_find_output(jobpath, top, (".gds", ".gds.gz")),
                            images=find_images(jobpath, top)),
        metric_scenarios=metric_scenarios(figures.metrics, scenarios, platform),
        timing_scenarios=scenarios,
        skipped_stages=skipped,
        orchestrator_version=__version__,
        orchestrator_commit=commit,
        job_key=job_key,
        build_dir=str(build_dir),
        defs=find_defs(jobpath, top, flow_order),
    )


def target_figures(platform: Platform, clock_period: float, voltage_v: float | None) -> Figures:
    """The figures a job has before any step runs: its clock target (the SDC's) and its voltage
    (the platform's, else its Liberty's nominal one)."""
    figures = Figures()
    period_ns = platform.to_ns(clock_period)
    figures.put("clock_period_ns", period_ns, "sdc")
    figures.put("target_freq_mhz", 1000.0 / period_ns, "sdc")
    figures.put("voltage_v", voltage_v, "platform" if platform.voltage_v is not None else "liberty")
    return figures


@dataclass
class NodeWalk:
    """What a job's flowgraph nodes left in its build directory, in flow order."""

    tool_versions: dict[str, str]  # the caller's, updated with the version each node recorded
    steps: list[StepInfo] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)  # step -> its log
    reports: list[str] = field(default_factory=list)
    last_ok: str | None = None  # the last step that succeeded
    failed_step: str | None = None  # the first step that failed
    netlist_steps: list[str] = field(default_factory=list)  # successful steps that wrote a netlist


def walk_nodes(build_dir: Path, top: str, jobname: str, run_nodes: list[tuple[str, str]],
               manifest: Manifest | None, tool_versions: dict[str, str], figures: Figures) -> NodeWalk:
    """Each node's step, log, reports and tool version; the figures of each successful node are
    put into ``figures`` (a later step overrides an earlier one)."""
    jobpath = job_dir(build_dir, top, jobname)
    walk = NodeWalk(tool_versions=dict(tool_versions))
    for step, index in run_nodes:
        node_dir = jobpath / step / index
        source = _node_source(manifest, build_dir, top, jobname, step, index)
        version = source.get("record", "toolversion", step=step, index=index) if source else None
        log = node_dir / f"{step}.log"
        if log.is_file():
            walk.logs[step] = str(log)
        report_dir = node_dir / "reports"
        if report_dir.is_dir():
            walk.reports.extend(str(p) for p in sorted(report_dir.rglob("*")) if p.is_file())
        info = node_step(source, step, index, node_dir, walk.logs.get(step))
        if info.tool and version:
            walk.tool_versions[info.tool] = str(version)
        walk.steps.append(info)
        if info.status == "success":
            walk.last_ok = step
            _take_metrics(source, step, index, node_dir, figures.metrics, figures.metric_steps)
            if netlist.step_netlist(node_dir, top) is not None:
                walk.netlist_steps.append(step)
        elif walk.failed_step is None and info.status == "error":
            walk.failed_step = step
    return walk


def _node_source(manifest: Manifest | None, build_dir: Path, top: str, jobname: str, step: str,
                 index: str) -> Manifest | None:
    """The manifest to read a node from: the job manifest holds every node SC finished; a node's
    own manifest is only read when the job manifest never heard of it, e.g. after a crash."""
    if manifest is None or manifest.get("record", "status", step=step, index=index) is None:
        return node_manifest(build_dir, top, jobname, step, index) or manifest
    return manifest


def node_step(source: Manifest | None, step: str, index: str, node_dir: Path, log: str | None) -> StepInfo:
    """One node as a record step: its status, tool, wall time and peak memory as SC recorded them."""
    status = source.get("record", "status", step=step, index=index) if source else None
    tool = source.node_tool(step, index) if source else None
    # tasktime: the node's wall time (tool + SC's own setup); exetime is the tool alone.
    runtime = source.get("metric", "tasktime", step=step, index=index) if source else None
    if runtime is None and source is not None:
        runtime = source.get("metric", "exetime", step=step, index=index)
    memory = source.get("metric", "memory", step=step, index=index) if source else None
    peak_mib = float(memory) / MIB if memory is not None else None
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
    return StepInfo(step=step, status=step_status, tool=tool, runtime_s=runtime, peak_memory_mib=peak_mib,
                    log=log, note=note)


def add_sequential_census(figures: Figures, netlist_steps: list[str], flow_order: list[str], jobpath: Path,
                          top: str, sequential_cells: dict[str, Sequential] | None) -> None:
    """Flops and latches of the netlist the area figure describes (or of the newest one before it),
    counted with the Liberty classification ``sequential_cells``; nothing without one."""
    area_step = figures.metric_steps.get("area_um2")
    if not sequential_cells or not netlist_steps or area_step is None:
        return
    candidates = [s for s in netlist_steps if flow_order.index(s) <= flow_order.index(area_step)] or netlist_steps[:1]
    census_step = candidates[-1]
    counted = netlist.census(netlist.step_netlist(jobpath / census_step / "0", top), sequential_cells)
    for name, value in (("flop_count", counted.flops), ("latch_count", counted.latches),
                        ("register_count", counted.registers)):
        figures.put(name, value, census_step)


def add_gate_equivalents(figures: Figures, platform: Platform) -> None:
    """The area in gate equivalents of the platform's reference cell, and where the area comes from."""
    area = figures.metrics.get("area_um2")
    if area is not None:
        figures.put("ge", area / platform.ge_reference_area_um2, figures.metric_steps["area_um2"])
    if "area_um2" in figures.metric_steps:
        figures.origin = step_origin(figures.metric_steps["area_um2"])


def metric_scenarios(metrics: dict[str, Any], scenarios: dict[str, TimingScenario],
                     platform: Platform) -> dict[str, str]:
    """Metric -> the sign-off scenarios (comma-joined) whose check it comes from: setup slack from
    the setup corner, hold slack from the hold corner, power from the power corner. The voltage
    is the setup corner's when the platform does not fix one."""
    found: dict[str, str] = {}
    for spec in SC_METRICS:
        if spec.sc.check is None:
            continue
        names = [name for name, scenario in scenarios.items() if spec.sc.check in scenario.checks]
        if names:
            for field_name in (spec.name, WNS_FROM_SLACK.get(spec.name)):
                if field_name and field_name in metrics:
                    found[field_name] = ",".join(names)
    if "voltage_v" in metrics and "wns_ns" in found and platform.voltage_v is None:
        found["voltage_v"] = found["wns_ns"]
    return found


def run_status(*, error: str | None, failed_step: str | None, logs: dict[str, str],
               skipped: list[SkippedStage], last_ok: str | None) -> tuple[Status, str | None]:
    """(status, reason) of a job: ``fail`` when a step failed or the run raised ``error``;
    ``partial`` when stages were skipped (a tool is missing); else ``pass``."""
    if error is not None or failed_step is not None:
        if failed_step is None:
            return "fail", error
        log = logs.get(failed_step)
        reason = f"step {failed_step} failed" + (f" (log: {log})" if log else "")
        if error and error not in reason:
            reason += f": {error}"
        return "fail", reason
    if skipped:
        # In flow order, so the tool that stopped the flow first (openroad, usually) leads.
        tools = list(dict.fromkeys(s.reason.split(" (")[0] for s in skipped if s.blocked_by is None))
        return "partial", f"stopped after {last_ok}: " + "; ".join(tools)
    return "pass", None


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
