"""The SC project each job gets, and where the flow is cut when tools are missing.

These run SiliconCompiler's schema and flowgraph for real but no EDA tool, so they also cover
the P&R half of the flow on machines without OpenROAD.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator import flow, metrics
from orchestrator.designs import render_design
from orchestrator.jobs import Job, load_project
from orchestrator.tools import Toolchain, ToolStatus

ALL_TOOLS = ("yosys", "pyslang", "openroad", "sta", "klayout")


def toolchain(*present: str, bridge_dir: str | None = None) -> Toolchain:
    tools = {}
    for name in ALL_TOOLS:
        found = name in present
        tools[name] = ToolStatus(name, found, "1.0" if found else None, f"/opt/{name}" if found else None,
                                 install_hint=f"install {name}",
                                 sc_path_dir=bridge_dir if name == "yosys" else None)
    return Toolchain(tools)


@pytest.fixture
def project_factory(toy_project, tmp_path):
    def make(pdk: str = "nangate45", tools: Toolchain | None = None, data_root: Path | None = None):
        config = load_project(toy_project(data_root=data_root))
        spec = config.designs[0]
        platform = config.platform(pdk)
        job = Job(spec=spec, platform=platform, parameters=dict(spec.parameters))
        rendered = render_design(config, spec, platform, tmp_path / "inputs")
        project = flow.build_project(config, job, rendered, tools or toolchain(*ALL_TOOLS), tmp_path / "sc")
        return config, project

    return make


def test_without_openroad_flow_stops_after_synthesis(project_factory):
    _, project = project_factory(tools=toolchain("yosys", "pyslang"))
    plan = flow.plan_steps(project, toolchain("yosys", "pyslang"))
    assert plan.to_steps == ["synthesis"]
    assert [s for s, _ in plan.run_nodes] == ["elaborate", "synthesis"]
    reasons = {s.step: s.reason for s in plan.skipped}
    assert "openroad not installed" in reasons["floorplan.init"]
    assert "sta not installed" in reasons["synthesis.timing"]
    assert "klayout not installed" in reasons["write.gds"]
    assert "route.detailed" in reasons


def test_full_toolchain_runs_through_write_views_and_gds(project_factory):
    _, project = project_factory()
    plan = flow.plan_steps(project, toolchain(*ALL_TOOLS))
    steps = [s for s, _ in plan.run_nodes]
    assert plan.skipped == []
    for step in ("elaborate", "synthesis", "floorplan.init", "place.global", "cts.clock_tree_synthesis",
                 "route.detailed", "write.gds", "write.views"):
        assert step in steps
    assert steps.index("synthesis") < steps.index("floorplan.init") < steps.index("route.detailed")
    assert set(plan.to_steps) >= {"write.gds", "write.views"}


def test_missing_klayout_only_skips_gds_export(project_factory):
    _, project = project_factory()
    plan = flow.plan_steps(project, toolchain("yosys", "pyslang", "openroad", "sta"))
    assert [s.step for s in plan.skipped] == ["write.gds"]
    assert "write.views" in plan.to_steps


def test_to_step_restricts_to_its_ancestors(project_factory):
    _, project = project_factory()
    plan = flow.plan_steps(project, toolchain(*ALL_TOOLS), to="floorplan.init")
    assert plan.to_steps == ["floorplan.init"]
    assert "place.global" in plan.not_requested and plan.skipped == []


def test_applied_plan_leaves_sc_only_the_nodes_and_tools_that_run(project_factory):
    _, project = project_factory(tools=toolchain("yosys", "pyslang"))
    full_nodes = len(flow.flow_nodes(project))
    plan = flow.plan_steps(project, toolchain("yosys", "pyslang"))
    flow.apply_plan(project, plan)
    assert [(s, i) for s, i, _ in flow.flow_nodes(project)] == plan.run_nodes
    assert len(plan.run_nodes) + len(plan.skipped) == full_nodes
    assert set(project.getkeys("tool")) == {"slang", "yosys"}
    assert list(project.getkeys("flowgraph")) == [project.get_flow().name]
    assert project.check_manifest()


def test_applied_plan_with_every_tool_keeps_the_whole_flow(project_factory):
    _, project = project_factory()
    before = flow.flow_nodes(project)
    flow.apply_plan(project, flow.plan_steps(project, toolchain(*ALL_TOOLS)))
    assert flow.flow_nodes(project) == before
    assert {"openroad", "opensta", "klayout", "yosys", "slang"} <= set(project.getkeys("tool"))


def test_applied_to_step_cuts_its_descendants(project_factory):
    _, project = project_factory()
    inputs = project.get_flow().get_graph_node("floorplan.init", "0").get_input()
    plan = flow.plan_steps(project, toolchain(*ALL_TOOLS), to="floorplan.init")
    flow.apply_plan(project, plan)
    assert [s for s, _, _ in flow.flow_nodes(project)][-1] == "floorplan.init"
    assert [(s, i) for s, i, _ in flow.flow_nodes(project)] == plan.run_nodes
    assert project.get_flow().get_graph_node("floorplan.init", "0").get_input() == inputs


def test_unknown_to_step_is_an_error(project_factory):
    _, project = project_factory()
    with pytest.raises(Exception, match="unknown step 'placement'"):
        flow.plan_steps(project, toolchain(*ALL_TOOLS), to="placement")


@pytest.mark.parametrize("pdk, lib, density", [("asap7", "asap7sc7p5t_rvt", 40), ("nangate45", "nangate45", 45)])
def test_project_uses_platform_library_and_floorplan(project_factory, pdk, lib, density):
    _, project = project_factory(pdk=pdk)
    assert project.get("asic", "mainlib") == lib
    assert project.get("asic", "asiclib") == [lib]  # no extra Vt flavours
    assert project.constraint.area.get_density() == density
    assert project.get_library(lib).get("tool", "openroad", "place_density") == pytest.approx(0.6)


def test_platform_synthesis_strategy_is_unset_by_default(project_factory):
    _, project = project_factory()
    assert not project.get("tool", "yosys", "task", "syn_asic", "var", "strategy")  # SC's own ABC script


def test_platform_synthesis_strategy_becomes_the_yosys_task_variable(toy_project, tmp_path):
    config_path = toy_project()
    platform_file = config_path.parent / "platforms" / "nangate45.yaml"
    platform_file.write_text(platform_file.read_text() + "synthesis_strategy: AREA3\n")
    config = load_project(config_path)
    spec, platform = config.designs[0], config.platform("nangate45")
    job = Job(spec=spec, platform=platform, parameters=dict(spec.parameters))
    rendered = render_design(config, spec, platform, tmp_path / "inputs")
    project = flow.build_project(config, job, rendered, toolchain(*ALL_TOOLS), tmp_path / "sc")
    assert project.get("tool", "yosys", "task", "syn_asic", "var", "strategy") == "AREA3"


def test_data_root_is_registered_on_pdk_and_libraries(project_factory, tmp_path):
    root = tmp_path / "pdkroot"
    _, project = project_factory(pdk="asap7", data_root=root)
    touched = [name for name in project.getkeys("library")
               if "lambdapdk" in project.get_library(name).getkeys("dataroot")]
    assert {"asap7", "asap7sc7p5t_rvt"} <= set(touched)
    for name in touched:
        assert project.get_library(name).get("dataroot", "lambdapdk", "path") == str(root.resolve())


def test_bridge_directory_goes_on_yosys_tool_path(project_factory):
    tools = toolchain(*ALL_TOOLS, bridge_dir="/opt/bridge/bin")
    _, project = project_factory(tools=tools)
    assert project.get("tool", "yosys", "task", "syn_asic", "path") == "/opt/bridge/bin"


def test_missing_pdk_data_is_one_clear_error(project_factory, tmp_path):
    config, project = project_factory(pdk="nangate45", data_root=tmp_path / "empty")
    with pytest.raises(flow.PdkDataError) as info:
        flow.check_pdk_data(project, config.platform("nangate45"), tmp_path / "empty")
    assert "PDK data for 'nangate45'" in str(info.value) and "\n" not in str(info.value)


def test_voltage_comes_from_liberty_nom_voltage(pdk_data_root, project_factory):
    config, project = project_factory(pdk="asap7", data_root=pdk_data_root)
    platform = config.platform("asap7")
    libs = flow.check_pdk_data(project, platform, pdk_data_root)
    # ASAP7's setup sign-off corner is slow (SS), so the record's voltage is SS's, not TT's 0.7 V.
    assert flow.liberty_nom_voltage(libs[0]) == pytest.approx(0.63)
    voltages = flow.scenario_voltages(project, platform)
    assert voltages == {"slow": pytest.approx(0.63), "typical": pytest.approx(0.7), "fast": pytest.approx(0.77)}


def test_platform_scenarios_replace_the_targets(project_factory):
    _, project = project_factory(pdk="asap7")
    timing = project.constraint.timing
    checks = {name: timing.get_scenario(name).get_check() for name in timing.getkeys("scenario")}
    assert checks == {"slow": ["setup"], "typical": ["power"], "fast": ["hold"]}


def _fake_pnr_run(project, build: Path, top: str, values: dict[tuple[str, str], dict],
                  status: dict[tuple[str, str], str] | None = None, no_dir: tuple[tuple[str, str], ...] = ()) -> None:
    """Write per-node manifests as SC would after a full P&R run (no OpenROAD needed).

    ``status``: SC's node status where it is not "success" (SC marks nodes it decides to skip
    "skipped"); ``no_dir``: nodes SC skipped without creating their directory."""
    status = status or {}
    for (step, index), node_metrics in values.items():
        project.set("record", "status", status.get((step, index), "success"), step=step, index=index)
        for name, value in node_metrics.items():
            project.set("metric", name, value, step=step, index=index)
    for step, index in values:
        if (step, index) in no_dir:
            continue
        out = build / top / flow.SC_JOBNAME / step / index / "outputs"
        out.mkdir(parents=True, exist_ok=True)
        (out.parent / f"{step}.log").write_text("log\n")
        project.write_manifest(str(out / f"{top}.pkg.json"))
    # SC writes the job manifest last, with every node's status (also of nodes without a directory).
    project.write_manifest(str(build / top / flow.SC_JOBNAME / f"{top}.pkg.json"))


# Figures SC 0.38.11 recorded per node for a real NanGate45 run of halut_decoder (C=4 K=4 M=2 DU=1)
# with OpenROAD 26Q3 and OpenSTA 3.1.0 (subset), and what OpenROAD wrote into reports/metrics.json.
REAL_NODES = {
    ("elaborate", "0"): {"tasktime": 0.07},
    ("synthesis", "0"): {"cellarea": 1405.012, "cells": 760, "registers": 84, "tasktime": 1.81},
    ("synthesis.timing", "0"): {"cellarea": 1405.012, "cells": 760, "setupslack": 0.0, "setuptns": 0.0,
                                "holdslack": 0.04, "holdtns": 0.0, "fmax": 712940000.0, "peakpower": 0.805,
                                "leakagepower": 0.027, "tasktime": 1.01},
    ("floorplan.init", "0"): {"cellarea": 1377.08, "totalarea": 3681.46, "utilization": 40.9962, "cells": 725,
                              "registers": 228, "tasktime": 0.80},
    ("floorplan.macro_placement", "0"): {"tasktime": 0.04},
    ("route.global", "0"): {"cellarea": 1507.42, "cells": 1806, "wirelength": 11744.0, "tasktime": 1.36},
    ("route.repair_timing", "0"): {},
    ("route.detailed", "0"): {"drcs": 0, "drvs": 0, "cellarea": 1507.42, "totalarea": 3681.46,
                              "utilization": 44.8765, "setupslack": 0.0, "setupwns": 0.0, "setuptns": 0.0,
                              "holdslack": 0.0152026, "holdwns": 0.0, "holdtns": 0.0, "fmax": 582369000.0,
                              "peakpower": 1.03468, "leakagepower": 0.0293673, "cells": 1806, "registers": 228,
                              "wirelength": 7328.0, "tasktime": 33.67},
    ("dfm.metal_fill", "0"): {},
    ("write.gds", "0"): {"totalarea": 3681.4556250000005, "tasktime": 6.15},
    ("write.views", "0"): {"drvs": 0, "cellarea": 1507.42, "totalarea": 3681.46, "utilization": 44.8765,
                           "peakpower": 0.993364, "leakagepower": 0.0293673, "holdslack": 0.0157372,
                           "holdwns": 0.0, "holdtns": 0.0, "setupslack": 0.0, "setupwns": 0.0, "setuptns": 0.0,
                           "fmax": 613672000.0, "cells": 1806, "registers": 228, "tasktime": 1.79},
}
REAL_OPENROAD_METRICS = {  # write.views/0/reports/metrics.json (subset)
    "sc__metric__design__die__area": 3681.46,
    "sc__metric__design__core__area": 3359.05,
    "sc__metric__design__instance__count": 1806,
    "sc__metric__design__instance__count__stdcell": 890,
    "sc__cellarea__design__instance__count__class:fill_cell": 916,
}
# Two sequential cells of NanGate45 as its Liberty defines them, and netlist lines as OpenROAD writes them.
LIBERTY = """library (mini) {
  cell (DFFR_X1) {
    ff ("IQ" , "IQN") { next_state : "D" ; }
  }
  cell (DLH_X1) {
    latch ("IQ" , "IQN") { data_in : "D" ; }
  }
  cell (CLKGATETST_X1) {
    clock_gating_integrated_cell : latch_posedge_precontrol;
    statetable ("CK E SE","IQ") { }
  }
  cell (NAND2_X1) { area : 0.798; }
}
"""
NETLIST = """module halut_decoder (clk_i);
 DFFR_X1 \\valid_q$_DFF_PN0_  (.D(net1), .RN(rst_ni), .CK(clk_i), .Q(valid_o));
 DLH_X1 \\i_lut/gen_word[0].gen_used.q[0]\\DLH_X1  (.D(\\i_lut/wdata_q[0] ),
    .G(gclk), .Q(q0));
 DLH_X1 \\i_lut/gen_word[0].gen_used.q[1]\\DLH_X1  (.D(d1), .G(gclk), .Q(q1));
 CLKGATETST_X1 clkgate_1 (.CK(clk_i), .E(en), .SE(1'b0), .GCK(gclk));
 NAND2_X1 _0755_ (.A1(a), .A2(b), .ZN(c));
endmodule
"""


def test_pnr_metrics_are_scraped_from_the_last_step_that_has_them(project_factory, tmp_path):
    config, project = project_factory(pdk="nangate45")
    platform = config.platform("nangate45")
    build = tmp_path / "sc"
    skipped_by_sc = {("floorplan.macro_placement", "0"): "skipped", ("route.repair_timing", "0"): "skipped",
                     ("dfm.metal_fill", "0"): "skipped"}
    _fake_pnr_run(project, build, "halut_decoder", REAL_NODES, status=skipped_by_sc,
                  no_dir=(("route.repair_timing", "0"), ("dfm.metal_fill", "0")))
    job = build / "halut_decoder" / flow.SC_JOBNAME
    (job / "write.views/0/reports").mkdir(parents=True)
    (job / "write.views/0/reports/metrics.json").write_text(json.dumps(REAL_OPENROAD_METRICS))
    (job / "write.views/0/outputs/halut_decoder.vg").write_text(NETLIST)
    (job / "write.gds/0/outputs/halut_decoder.png").write_bytes(b"\x89PNG\r\n")
    liberty = tmp_path / "mini.lib"
    liberty.write_text(LIBERTY)
    from orchestrator import netlist
    from orchestrator.record import TimingScenario

    record = metrics.build_record(
        design="halut_decoder", top="halut_decoder", label=None, platform=platform, parameters={"C": 4},
        clock_period=3.0, started=datetime(2026, 1, 2, tzinfo=UTC), build_dir=build,
        jobname=flow.SC_JOBNAME, run_nodes=list(REAL_NODES), skipped=[], voltage_v=1.1, error=None,
        tool_versions={}, commit="abc",
        timing_scenarios={"typical": TimingScenario(libcorner="typical", checks=["setup", "hold", "power"],
                                                    voltage_v=1.1)},
        sequential_cells=netlist.liberty_sequential_cells(liberty),
    )
    m = record.metrics
    # SC's "skipped" nodes (no macros, nothing to repair, no fill) neither fail nor wait.
    assert record.status == "pass" and record.reason is None and record.stage_reached == "write.views"
    assert {s.step: s.status for s in record.steps if s.status != "success"} == {
        "floorplan.macro_placement": "skipped", "route.repair_timing": "skipped", "dfm.metal_fill": "skipped"}
    assert m.area_um2 == 1507.42 and record.metric_steps["area_um2"] == "write.views"
    assert record.metrics_origin == "finish" and not record.post_synthesis
    assert m.ge == pytest.approx(1507.42 / 0.798)
    assert m.stdcell_count == 890  # OpenROAD's count without the 916 fillers, not SC's "cells" (1806)
    assert (m.flop_count, m.latch_count, m.register_count) == (1, 2, 3)  # the clock gate is neither
    assert (m.wns_ns, m.tns_ns, m.setup_slack_ns, m.fmax_mhz) == (0.0, 0.0, 0.0, pytest.approx(613.672))
    assert (m.hold_wns_ns, m.hold_tns_ns, m.hold_slack_ns) == (0.0, 0.0, 0.0157372)
    assert (m.power_mw, m.leakage_power_mw) == (0.993364, 0.0293673)
    assert (m.drc_count, record.metric_steps["drc_count"], m.drv_count) == (0, "route.detailed", 0)
    assert m.utilization_pct == 44.8765 and m.die_area_um2 == 3681.46 and m.core_area_um2 == 3359.05
    assert m.wirelength_um == 7328.0 and m.voltage_v == 1.1
    assert m.target_freq_mhz == pytest.approx(333.333, abs=1e-3)
    assert record.metric_scenarios["wns_ns"] == record.metric_scenarios["power_mw"] == "typical"
    assert record.images == {"layout": str(job / "write.gds/0/outputs/halut_decoder.png")}
    assert [s.runtime_s for s in record.steps][:3] == [0.07, 1.81, 1.01]


def test_sta_slack_gives_wns_and_keeps_synthesis_label(project_factory, tmp_path):
    """OpenSTA's task records setupslack, not setupwns: WNS is min(0, slack), and the area after
    synthesis.timing is still the synthesized netlist's (an estimate, not a P&R figure)."""
    config, project = project_factory(pdk="asap7")
    nodes = {key: REAL_NODES[key] for key in (("elaborate", "0"), ("synthesis", "0"), ("synthesis.timing", "0"))}
    nodes[("synthesis.timing", "0")] = {**nodes[("synthesis.timing", "0")], "setupslack": -0.140,
                                        "holdslack": -0.01}
    _fake_pnr_run(project, tmp_path / "sc", "halut_decoder", nodes)
    from orchestrator.record import SkippedStage, TimingScenario

    record = metrics.build_record(
        design="halut_decoder", top="halut_decoder", label=None, platform=config.platform("asap7"), parameters={},
        clock_period=1500, started=datetime.now(UTC), build_dir=tmp_path / "sc", jobname=flow.SC_JOBNAME,
        run_nodes=list(nodes), skipped=[SkippedStage(step="floorplan.init", reason="openroad not installed (x)")],
        voltage_v=0.63, error=None, tool_versions={}, commit=None,
        timing_scenarios={"slow": TimingScenario(libcorner="slow", checks=["setup"], voltage_v=0.63),
                          "fast": TimingScenario(libcorner="fast", checks=["hold"], voltage_v=0.77),
                          "typical": TimingScenario(libcorner="typical", checks=["power"], voltage_v=0.7)},
    )
    m = record.metrics
    assert (m.wns_ns, m.setup_slack_ns, m.hold_wns_ns) == (-0.140, -0.140, -0.01)
    assert record.metric_steps["wns_ns"] == "synthesis.timing"
    assert record.metrics_origin == "synthesis" and record.post_synthesis
    assert record.metric_scenarios["wns_ns"] == "slow" and record.metric_scenarios["voltage_v"] == "slow"
    assert record.metric_scenarios["hold_wns_ns"] == "fast" and record.metric_scenarios["power_mw"] == "typical"
    assert m.utilization_pct is None and m.die_area_um2 is None


def test_synthesis_only_run_is_partial_and_labelled(project_factory, tmp_path):
    config, project = project_factory(pdk="asap7")
    platform = config.platform("asap7")
    build = tmp_path / "sc"
    nodes = {("elaborate", "0"): {}, ("synthesis", "0"): {"cellarea": 8.748, "cells": 30, "registers": 8}}
    _fake_pnr_run(project, build, "counter", nodes)
    from orchestrator.record import SkippedStage

    record = metrics.build_record(
        design="counter", top="counter", label=None, platform=platform, parameters={"WIDTH": 8},
        clock_period=1500, started=datetime.now(UTC), build_dir=build, jobname=flow.SC_JOBNAME,
        run_nodes=list(nodes), skipped=[SkippedStage(step="floorplan.init", reason="openroad not installed (x)")],
        voltage_v=0.7, error=None, tool_versions={}, commit=None,
    )
    assert record.status == "partial" and "openroad not installed" in record.reason
    assert record.metrics_origin == "synthesis"
    assert record.metrics.ge == pytest.approx(100.0)
    assert record.metrics.clock_period_ns == pytest.approx(1.5)
    assert record.metrics.utilization_pct is None and record.metrics.tns_ns is None


def test_failed_step_makes_a_failed_record_with_log_path(project_factory, tmp_path):
    config, project = project_factory(pdk="nangate45")
    build = tmp_path / "sc"
    _fake_pnr_run(project, build, "counter", {("elaborate", "0"): {}})
    node = build / "counter" / flow.SC_JOBNAME / "synthesis" / "0"
    node.mkdir(parents=True)
    (node / "synthesis.log").write_text("ERROR: boom\n")
    record = metrics.build_record(
        design="counter", top="counter", label=None, platform=config.platform("nangate45"),
        parameters={}, clock_period=3.0, started=datetime.now(UTC), build_dir=build,
        jobname=flow.SC_JOBNAME, run_nodes=[("elaborate", "0"), ("synthesis", "0")], skipped=[],
        voltage_v=None, error="Run failed: synthesis/0 failed", tool_versions={}, commit=None,
    )
    assert record.status == "fail"
    assert "step synthesis failed" in record.reason and str(node / "synthesis.log") in record.reason
    assert record.metrics.area_um2 is None  # a failure is not a zero


def test_openroad_tasks_skip_the_configured_reports(project_factory):
    _, project = project_factory(tools=toolchain(*ALL_TOOLS))
    from siliconcompiler.tools.openroad._apr import APRTask

    tasks = APRTask.find_task(project)
    assert len(tasks) > 10  # every P&R step of the asicflow
    assert all(task.get("var", "skip_reports") == ["logicdepth"] for task in tasks)


@pytest.mark.parametrize("end_iteration", [None, 12])
def test_detailed_route_end_iteration_reaches_sc_detailed_route_task(project_factory, end_iteration):
    from siliconcompiler.tools.openroad.detailed_route import DetailedRouteTask

    config, project = project_factory()
    options = config.flow.model_copy(update={"detailed_route_end_iteration": end_iteration})
    flow.apply_detailed_route_settings(project, options)
    tasks = flow.flow_tasks(project, DetailedRouteTask)
    assert tasks  # the asicflow has a route.detailed step
    # The var SC's procs.tcl turns into detailed_route -droute_end_iter.
    assert all(task.get("var", "drt_end_iteration") == end_iteration for task in tasks)


@pytest.mark.parametrize("pdk, pattern", [("asap7", "DHLx*_ASAP7_75t_R"), ("nangate45", "DLH_X*")])
def test_latch_cells_are_held_out_of_openroads_resizer_not_out_of_synthesis(project_factory, pdk, pattern):
    config, project = project_factory(pdk=pdk)
    lib = project.get_library(config.platform(pdk).stdcell_lib)
    assert pattern in lib.get("asic", "cells", "clklogic")
    assert pattern not in (lib.get("asic", "cells", "dontuse") or [])  # Yosys's dfflibmap reads this one
