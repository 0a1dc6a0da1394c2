"""Flow stage: one SiliconCompiler ``ASIC`` project per (design, PDK, parameter set).

The project gets the rendered RTL and SDC as filesets, the platform's lambdapdk target (PDK,
std-cell library, ASIC flow, timing scenarios), the platform's floorplan settings, and its own
build directory. ``plan_steps`` cuts the flowgraph where the installed toolchain ends, so a
machine without OpenROAD still runs elaboration + synthesis and records why P&R was skipped.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import Config, FlowOptions, Platform
from orchestrator.designs import RenderedDesign
from orchestrator.errors import OrchestratorError, ToolError, first_line
from orchestrator.fsutil import open_maybe_gzip, read_tail
from orchestrator.jobs import Job
from orchestrator.record import SkippedStage
from orchestrator.tools import Toolchain

SC_JOBNAME = "job0"


class PdkDataError(OrchestratorError):
    """The PDK data (Liberty, LEF, ...) cannot be found."""


@dataclass
class StepPlan:
    """Which SC steps will run, and which are skipped and why."""

    to_steps: list[str]  # value for [option,to]
    run_nodes: list[tuple[str, str]]
    skipped: list[SkippedStage] = field(default_factory=list)
    not_requested: list[str] = field(default_factory=list)  # cut by --to, not by a missing tool


def _import_object(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise OrchestratorError(f"cannot import '{spec}': {exc}") from None


def _library_objects(project) -> Iterable[Any]:
    for name in project.getkeys("library"):
        yield project.get_library(name)


def register_pdk_data_root(project, data_root: Path | None) -> None:
    """Point every lambdapdk-backed library (PDK and std-cell libraries) at an offline data root."""
    if data_root is None:
        return
    for lib in _library_objects(project):
        if lib.valid("dataroot") and "lambdapdk" in lib.getkeys("dataroot"):
            lib.set_dataroot("lambdapdk", str(data_root), clobber=True)


def liberty_files(library, corner: str) -> list[str]:
    """Liberty files of ``library`` for ``corner`` (NLDM), resolved through its data roots."""
    files: list[str] = []
    if corner not in library.getkeys("asic", "libcornerfileset"):
        known = ", ".join(library.getkeys("asic", "libcornerfileset"))
        raise PdkDataError(f"library '{library.name}' has no corner '{corner}' (corners: {known})")
    for model in library.getkeys("asic", "libcornerfileset", corner):
        for fileset in library.get("asic", "libcornerfileset", corner, model):
            files.extend(library.find_files("fileset", fileset, "file", "liberty"))
    return files


_NOM_VOLTAGE = re.compile(rb"^\s*nom_voltage\s*:\s*([0-9.eE+-]+)\s*;", re.MULTILINE)


def liberty_nom_voltage(path: str) -> float | None:
    """The library-level ``nom_voltage`` (V) from a Liberty file; it sits in the header."""
    with open_maybe_gzip(path) as handle:
        head = handle.read(64 * 1024)
    match = _NOM_VOLTAGE.search(head)
    return float(match.group(1)) if match else None


def check_pdk_data(project, platform: Platform, data_root: Path | None) -> list[str]:
    """Fail early, in one line, when the std-cell library data is not where SC will look."""
    lib = project.get_library(platform.stdcell_lib)
    where = f"data root {data_root}" if data_root else "lambdapdk's download cache (HALUT_PDK_ROOT unset)"
    try:
        files = liberty_files(lib, platform.analysis_corner)
    except PdkDataError:
        raise
    except Exception as exc:  # SC raises FileNotFoundError / ValueError, lambdapdk download errors
        first = first_line(exc)
        raise PdkDataError(
            f"PDK data for '{platform.name}' ({platform.stdcell_lib}) not found in {where}: {first}"
        ) from None
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        raise PdkDataError(
            f"PDK data for '{platform.name}' ({platform.stdcell_lib}) not found in {where}: "
            f"missing {missing[0] if missing else 'Liberty files'}"
        )
    return files


def build_project(
    config: Config,
    job: Job,
    rendered: RenderedDesign,
    toolchain: Toolchain,
    build_dir: Path,
):
    """Create the SC ASIC project for one job (nothing runs yet)."""
    from siliconcompiler import ASIC, Design

    platform = job.platform
    design = Design(rendered.top)
    design.set_dataroot("rendered", str(rendered.out_dir))
    with design.active_dataroot("rendered"), design.active_fileset("rtl"):
        design.set_topmodule(rendered.top)
        for path in rendered.rtl_files:
            design.add_file(str(path.relative_to(rendered.out_dir)))
    with design.active_dataroot("rendered"), design.active_fileset("sdc"):
        design.add_file(str(rendered.sdc_file.relative_to(rendered.out_dir)))

    project = ASIC(design)
    project.add_fileset("rtl")
    project.add_fileset("sdc")

    target = _import_object(platform.sc_target)
    target(project, syn_np=config.flow.syn_np)
    apply_synthesis_settings(project, platform)

    # The platform names one std-cell library; the demo targets add extra Vt flavours we do not use.
    mainlib_cls = _import_object(platform.stdcell_lib_class)
    mainlib = mainlib_cls()
    if mainlib.name != platform.stdcell_lib:
        raise OrchestratorError(
            f"platform '{platform.name}': stdcell_lib_class '{platform.stdcell_lib_class}' "
            f"is library '{mainlib.name}', not '{platform.stdcell_lib}'"
        )
    project.set_mainlib(mainlib)
    project.set("asic", "asiclib", [platform.stdcell_lib])
    mainlib = project.get_library(platform.stdcell_lib)
    if platform.resizer_dont_use:
        # SC holds the "clklogic" group out of every OpenROAD repair step (sc_set_dont_use; only
        # CTS, which inserts buffers alone, lifts it) and out of ABC, which maps no latches;
        # Yosys's dfflibmap reads only "dontuse", so synthesis still maps the RTL's latches.
        mainlib.add_asic_celllist("clklogic", list(platform.resizer_dont_use))
    if hasattr(mainlib, "set_openroad_placement_density"):
        mainlib.set_openroad_placement_density(platform.placement_density)
    project.constraint.area.set_density(platform.core_utilization_pct)
    apply_routing_settings(project, platform)
    apply_placement_settings(project, platform)
    apply_timing_scenarios(project, platform)
    skip_openroad_reports(project, config.flow.openroad_skip_reports)
    apply_detailed_route_settings(project, config.flow)

    register_pdk_data_root(project, config.resolved_pdk_data_root())

    yosys = toolchain.tools.get("yosys")
    if yosys is not None and yosys.found and yosys.sc_path_dir:
        # Our bridge goes first on SC's tool path only when no native Tcl-capable yosys exists.
        from orchestrator.yosys_bridge import configure_project

        configure_project(project, Path(yosys.sc_path_dir))

    project.option.set_builddir(str(build_dir))
    project.option.set_jobname(SC_JOBNAME)
    project.option.set_nodashboard(True)
    project.option.set_quiet(True)
    apply_scheduler(project, config.flow)
    apply_step_timeouts(project, config.flow)
    return project


def apply_step_timeouts(project, options: FlowOptions) -> None:
    """The wall-time limits as SC's ``[option,timeout]`` (per step where one is given).

    SC enforces it itself, on this machine and on a Slurm node alike: it polls each tool process
    and, past the limit, terminates its whole process tree (SIGTERM, SIGKILL after 5 s), logs
    "Task timed out after ..." in the node's SC log and fails the node. It covers tools run as
    executables, which all of ours are (Yosys, our pyosys shim, OpenROAD, OpenSTA, KLayout);
    pyslang's elaboration runs inside SC and has no limit."""
    if options.step_timeout_s is not None:
        project.option.set_timeout(options.step_timeout_s)
    for step, seconds in options.step_timeouts_s.items():
        project.option.set_timeout(seconds, step=step)


# What SC 0.38 logs in a node's sc_<step>_<index>.log when it ends a tool for [option,timeout].
_SC_TIMEOUT_LINE = re.compile(r"Task timed out after [0-9.]+ seconds")


def step_timeout(options: FlowOptions, step: str) -> float | None:
    return options.step_timeouts_s.get(step, options.step_timeout_s)


def timed_out_step(job_dir: Path, nodes: Iterable[tuple[str, str]]) -> str | None:
    """The first of ``nodes`` (step, index) that SC ended for its wall-time limit, or None."""
    for step, index in nodes:
        log = job_dir / step / index / f"sc_{step}_{index}.log"
        if _SC_TIMEOUT_LINE.search(read_tail(log, 64 * 1024)):  # SC logs it near the end
            return step
    return None


def apply_routing_settings(project, platform: Platform) -> None:
    """The platform's routing layer range and global-routing capacity adjustments.

    SC's OpenROAD scripts read the layer range from ``[asic,minlayer/maxlayer]`` (falling back to
    the PDK's) and the per-layer adjustment from the PDK's ``globalroutingderating``, which
    lists every layer: an override replaces that layer's entry and keeps the others.
    """
    project.set_asic_routinglayers(min=platform.min_routing_layer, max=platform.max_routing_layer)
    if not platform.global_routing_adjustment:
        return
    pdk = project.get_library(project.get("asic", "pdk"))
    current = dict(pdk.get("tool", "openroad", "globalroutingderating") or [])
    unknown = sorted(set(platform.global_routing_adjustment) - set(current))
    if unknown:
        raise OrchestratorError(
            f"platform '{platform.name}': global_routing_adjustment names layer '{unknown[0]}', which PDK "
            f"'{pdk.name}' does not route (layers: {', '.join(current)})"
        )
    current.update(platform.global_routing_adjustment)
    pdk.set("tool", "openroad", "globalroutingderating", list(current.items()))


def apply_placement_settings(project, platform: Platform) -> None:
    """The platform's global placement switches as SC OpenROAD task variables (unset = SC's)."""
    from siliconcompiler.tools.openroad.global_placement import GlobalPlacementTask

    for task in flow_tasks(project, GlobalPlacementTask):
        if platform.gpl_timing_driven is not None:
            task.set_openroad_gpltimingdriven(platform.gpl_timing_driven)
        if platform.gpl_routability_driven is not None:
            task.set_openroad_gplroutabilitydriven(platform.gpl_routability_driven)
        if platform.gpl_cell_padding_sites is not None:
            task.set_openroad_padglobalplace(platform.gpl_cell_padding_sites)


def apply_detailed_route_settings(project, options: FlowOptions) -> None:
    """The detailed router's last pass (SC ``var,drt_end_iteration``; unset = OpenROAD's)."""
    if options.detailed_route_end_iteration is None:
        return
    from siliconcompiler.tools.openroad.detailed_route import DetailedRouteTask

    for task in flow_tasks(project, DetailedRouteTask):
        task.set_openroad_drtenditeration(options.detailed_route_end_iteration)


def apply_timing_scenarios(project, platform: Platform) -> None:
    """The platform's sign-off scenarios replace the ones the SC target made."""
    timing = project.constraint.timing
    for name in list(timing.getkeys("scenario")):
        timing.remove_scenario(name)
    for name, spec in platform.timing_scenarios.items():
        scenario = timing.make_scenario(name)
        scenario.add_libcorner(list(spec.libcorners))
        scenario.set_pexcorner(spec.pexcorner)
        scenario.add_check(list(spec.checks))


def scenario_voltages(project, platform: Platform) -> dict[str, float | None]:
    """Liberty ``nom_voltage`` of each scenario's first library corner (the main library's)."""
    lib = project.get_library(platform.stdcell_lib)
    voltages: dict[str, float | None] = {}
    for name, spec in platform.timing_scenarios.items():
        files = liberty_files(lib, spec.libcorners[0])
        voltages[name] = next((v for v in map(liberty_nom_voltage, files) if v is not None), None)
    return voltages


def flow_tasks(project, task_class) -> list:
    """The project's task objects of ``task_class``: SC's ``find_task`` returns one object, a set,
    or raises ValueError when the flow has none."""
    try:
        found = task_class.find_task(project)
    except ValueError:
        return []
    return list(found) if isinstance(found, (set, list, tuple)) else [found]


def skip_openroad_reports(project, reports: list[str]) -> None:
    """Tell every OpenROAD P&R task of the flow to skip these reports (SC ``var,skip_reports``)."""
    if not reports:
        return
    from siliconcompiler.tools.openroad._apr import APRTask

    for task in flow_tasks(project, APRTask):
        task.add_openroad_skipreport(list(reports), clobber=True)


def apply_synthesis_settings(project, platform: Platform) -> None:
    """The platform's synthesis recipe as SC Yosys ``syn_asic`` task variables (unset = SC's)."""
    if platform.synthesis_strategy is None:
        return
    from siliconcompiler.tools.yosys.syn_asic import ASICSynthesis

    for task in flow_tasks(project, ASICSynthesis):
        task.set_yosys_strategy(platform.synthesis_strategy)


def apply_scheduler(project, options: FlowOptions) -> None:
    """Hand node execution to SC's own scheduler (Slurm, Docker); unset = this machine."""
    if options.scheduler is None:
        return
    project.option.scheduler.set_name(options.scheduler)
    if options.scheduler_queue:
        project.option.scheduler.set_queue(options.scheduler_queue)
    if options.scheduler_options:
        project.option.scheduler.add_options(list(options.scheduler_options), clobber=True)


def flow_nodes(project) -> list[tuple[str, str, str]]:
    """(step, index, sc_tool) for every node of the project's flow, in execution order."""
    flowgraph = project.get_flow()
    ordered: list[tuple[str, str, str]] = []
    for level in flowgraph.get_execution_order():
        for step, index in level:
            node = flowgraph.get_graph_node(step, index)
            ordered.append((step, str(index), node.get_tool()))
    return ordered


def plan_steps(project, toolchain: Toolchain, to: str | None = None) -> StepPlan:
    """Cut the flow where the toolchain ends (and at ``to``, if given)."""
    flowgraph = project.get_flow()
    nodes = flow_nodes(project)
    known_steps = {step for step, _, _ in nodes}
    if to is not None and to not in known_steps:
        raise OrchestratorError(f"unknown step '{to}' for --to (steps: {', '.join(s for s, _, _ in nodes)})")

    def inputs(step: str, index: str) -> list[tuple[str, str]]:
        return [(s, str(i)) for s, i in flowgraph.get_graph_node(step, index).get_input()]

    # Restrict to the ancestors of --to (inclusive).
    wanted: set[tuple[str, str]] = set()
    if to is None:
        wanted = {(s, i) for s, i, _ in nodes}
    else:
        stack = [(s, i) for s, i, _ in nodes if s == to]
        while stack:
            node = stack.pop()
            if node not in wanted:
                wanted.add(node)
                stack.extend(inputs(*node))

    runnable: set[tuple[str, str]] = set()
    skipped: list[SkippedStage] = []
    blocked_by: dict[tuple[str, str], str] = {}
    for step, index, sc_tool in nodes:
        if (step, index) not in wanted:
            continue
        status = toolchain.for_sc_tool(sc_tool)
        upstream = [n for n in inputs(step, index) if n not in runnable]
        if status is not None and not status.found:
            reason = status.missing_reason
            if status.install_hint:
                reason = f"{reason} ({status.install_hint})"
            blocked_by[(step, index)] = reason
            skipped.append(SkippedStage(step=step, reason=reason))
        elif upstream:
            reason = f"needs {upstream[0][0]}: {blocked_by.get(upstream[0], 'upstream skipped')}"
            blocked_by[(step, index)] = blocked_by.get(upstream[0], reason)
            skipped.append(SkippedStage(step=step, reason=reason, blocked_by=upstream[0][0]))
        else:
            runnable.add((step, index))

    has_runnable_child = {src for s, i, _ in nodes if (s, i) in runnable for src in inputs(s, i)}
    exits = [(s, i) for s, i, _ in nodes if (s, i) in runnable and (s, i) not in has_runnable_child]
    to_steps = sorted({s for s, _ in exits})
    not_requested = [s for s, i, _ in nodes if (s, i) not in wanted]
    if not runnable:
        raise ToolError(
            "no flow step can run: " + (skipped[0].reason if skipped else "empty flow")
        )
    ordered_runnable = [(s, i) for s, i, _ in nodes if (s, i) in runnable]
    return StepPlan(to_steps=to_steps, run_nodes=ordered_runnable, skipped=skipped, not_requested=not_requested)


def apply_plan(project, plan: StepPlan) -> None:
    """Give SC only the nodes that run.

    The nodes cut by the plan (a missing tool, ``--to``) are removed from the flowgraph, and with
    them the flows and tool sections nothing left uses: SC sets up every node of its flowgraph
    and writes the whole schema into about ten manifests per job, so a synthesis-only job on a
    machine without OpenROAD would otherwise carry 23 unused nodes (~0.8 s per job, manifests of
    7 MB instead of 3 MB). What was cut and why stays in the plan (and the record).
    """
    flowgraph = project.get_flow()
    run = set(plan.run_nodes)
    # Cut nodes are closed under descendants (a skipped node's children are skipped; the nodes
    # outside ``--to``'s ancestors likewise), so removing them leaves-first never rewires a kept node.
    for level in reversed(flowgraph.get_execution_order()):
        for step, index in level:
            if (step, str(index)) not in run:
                flowgraph.remove_node(step, index)
    for name in project.getkeys("flowgraph"):
        if name != flowgraph.name:
            project.remove("flowgraph", name)
    used_tools = {flowgraph.get_graph_node(step, index).get_tool() for step, index in plan.run_nodes}
    for tool in project.getkeys("tool"):
        if tool != "default" and tool not in used_tools:
            project.remove("tool", tool)
    for step in plan.to_steps:
        project.option.add_to(step)
