"""The SC project each job gets, and where the flow is cut when tools are missing.

These run SiliconCompiler's schema and flowgraph for real but no EDA tool, so they also cover
the P&R half of the flow on machines without OpenROAD.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from orchestrator import flow, metrics
from orchestrator.config import load_config
from orchestrator.designs import render_design
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
        config = load_config(toy_project(data_root=data_root))
        spec = config.designs[0]
        platform = config.platform(pdk)
        job = flow.Job(spec=spec, platform=platform, parameters=dict(spec.parameters))
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


@pytest.mark.parametrize("pdk, lib, density", [("asap7", "asap7sc7p5t_rvt", 40), ("nangate45", "nangate45", 40)])
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
    config = load_config(config_path)
    spec, platform = config.designs[0], config.platform("nangate45")
    job = flow.Job(spec=spec, platform=platform, parameters=dict(spec.parameters))
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
    libs = flow.check_pdk_data(project, config.platform("asap7"), pdk_data_root)
    assert flow.liberty_nom_voltage(libs[0]) == pytest.approx(0.7)


def _fake_pnr_run(project, build: Path, top: str, values: dict[tuple[str, str], dict]) -> None:
    """Write per-node manifests as SC would after a full P&R run (no OpenROAD needed)."""
    for (step, index), node_metrics in values.items():
        project.set("record", "status", "success", step=step, index=index)
        for name, value in node_metrics.items():
            project.set("metric", name, value, step=step, index=index)
    for step, index in values:
        out = build / top / flow.SC_JOBNAME / step / index / "outputs"
        out.mkdir(parents=True, exist_ok=True)
        (out.parent / f"{step}.log").write_text("log\n")
        project.write_manifest(str(out / f"{top}.pkg.json"))


def test_pnr_metrics_are_scraped_from_the_last_step_that_has_them(project_factory, tmp_path):
    config, project = project_factory(pdk="nangate45")
    platform = config.platform("nangate45")
    build = tmp_path / "sc"
    nodes = {
        ("elaborate", "0"): {"tasktime": 0.5},
        ("synthesis", "0"): {"cellarea": 100.0, "cells": 40, "registers": 8, "utilization": 99.0, "tasktime": 2.0},
        ("floorplan.init", "0"): {"cellarea": 110.0, "utilization": 38.0, "tasktime": 1.0},
        ("route.detailed", "0"): {"cellarea": 120.0, "cells": 55, "setupwns": -0.05, "setuptns": -0.4,
                                  "fmax": 320e6, "utilization": 41.5, "tasktime": 5.0},
        ("write.views", "0"): {"averagepower": 1.25, "tasktime": 0.25},
    }
    _fake_pnr_run(project, build, "counter", nodes)
    record = metrics.build_record(
        design="counter", top="counter", label=None, platform=platform, parameters={"WIDTH": 8},
        clock_period=3.0, started=datetime(2026, 1, 2, tzinfo=timezone.utc), build_dir=build,
        jobname=flow.SC_JOBNAME, run_nodes=list(nodes), skipped=[], voltage_v=1.1, error=None,
        tool_versions={}, commit="abc",
    )
    m = record.metrics
    assert record.status == "pass" and record.stage_reached == "write.views"
    assert m.area_um2 == 120.0 and record.metric_steps["area_um2"] == "route.detailed"
    assert record.metrics_origin == "route"
    assert m.ge == pytest.approx(120.0 / 0.798)
    assert (m.stdcell_count, m.register_count) == (55, 8)
    assert (m.wns_ns, m.tns_ns, m.fmax_mhz) == (-0.05, -0.4, pytest.approx(320.0))
    assert m.utilization_pct == 41.5  # never the synthesis "utilization"
    assert m.power_mw == 1.25 and m.voltage_v == 1.1
    assert m.target_freq_mhz == pytest.approx(333.333, abs=1e-3)
    assert [s.runtime_s for s in record.steps] == [0.5, 2.0, 1.0, 5.0, 0.25]


def test_synthesis_only_run_is_partial_and_labelled(project_factory, tmp_path):
    config, project = project_factory(pdk="asap7")
    platform = config.platform("asap7")
    build = tmp_path / "sc"
    nodes = {("elaborate", "0"): {}, ("synthesis", "0"): {"cellarea": 8.748, "cells": 30, "registers": 8}}
    _fake_pnr_run(project, build, "counter", nodes)
    from orchestrator.record import SkippedStage

    record = metrics.build_record(
        design="counter", top="counter", label=None, platform=platform, parameters={"WIDTH": 8},
        clock_period=1500, started=datetime.now(timezone.utc), build_dir=build, jobname=flow.SC_JOBNAME,
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
        parameters={}, clock_period=3.0, started=datetime.now(timezone.utc), build_dir=build,
        jobname=flow.SC_JOBNAME, run_nodes=[("elaborate", "0"), ("synthesis", "0")], skipped=[],
        voltage_v=None, error="Run failed: synthesis/0 failed", tool_versions={}, commit=None,
    )
    assert record.status == "fail"
    assert "step synthesis failed" in record.reason and str(node / "synthesis.log") in record.reason
    assert record.metrics.area_um2 is None  # a failure is not a zero
