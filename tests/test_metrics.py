"""metrics: the parts of ``build_record`` one at a time (node walk, flop/latch census, scenarios,
status) and the record assembly the ORFS import shares.

Manifests are written in SC 0.38's serialisation (``tests/test_sc_manifest.py``) with figures SC
recorded for a real NanGate45 halut_decoder run (``tests/test_flow.py``'s ``REAL_NODES``); the
netlist and Liberty lines are NanGate45's as OpenROAD and the library write them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator import metrics, netlist
from orchestrator.config import load_platforms
from orchestrator.metrics import Artifacts, Figures
from orchestrator.record import SkippedStage, StepInfo, TimingScenario
from orchestrator.sc_manifest import Manifest
from tests.test_flow import LIBERTY, NETLIST, REAL_NODES

REPO_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = load_platforms(REPO_ROOT / "platforms")
NANGATE45, ASAP7 = PLATFORMS["nangate45"], PLATFORMS["asap7"]

# The reasons flow.plan_steps gives a stage it cannot run: its own tool's, or the upstream stage's.
NO_OPENROAD = "openroad not installed (install OpenROAD >= 24Q3-2011: see docs/flow.md)"
NO_KLAYOUT = "klayout not installed (install klayout >= 0.28.0: see docs/flow.md)"
SKIPPED_PNR = [
    SkippedStage(step="floorplan.init", reason=NO_OPENROAD),
    SkippedStage(step="place.global", reason=f"needs floorplan.init: {NO_OPENROAD}", blocked_by="floorplan.init"),
    SkippedStage(step="write.gds", reason=NO_KLAYOUT),
]


def node_value(value) -> dict:
    """One parameter as SC 0.38 serialises it: ``node`` maps step -> index -> value."""
    return {"node": {"default": {"default": {"value": value}}}}


def sc_manifest(nodes: dict[tuple[str, str], dict]) -> dict:
    """A job manifest: per node its ``status``, ``tool``, ``toolversion`` and ``metric`` values."""
    data: dict = {"option": {"flow": node_value("asicflow")}, "record": {"status": {"node": {}},
                                                                       "toolversion": {"node": {}}},
                  "metric": {}, "flowgraph": {"asicflow": {}}}
    for (step, index), node in nodes.items():
        if "status" in node:
            data["record"]["status"]["node"].setdefault(step, {})[index] = {"value": node["status"]}
        if "toolversion" in node:
            data["record"]["toolversion"]["node"].setdefault(step, {})[index] = {"value": node["toolversion"]}
        for name, value in node.get("metric", {}).items():
            data["metric"].setdefault(name, {"node": {}})["node"].setdefault(step, {})[index] = {"value": value}
        data["flowgraph"]["asicflow"].setdefault(step, {})[index] = {"tool": node_value(node.get("tool"))}
    return data


# -- the status decision ------------------------------------------------------------------------


def test_a_job_with_no_error_no_failed_step_and_nothing_skipped_passes():
    assert metrics.run_status(error=None, failed_step=None, logs={}, skipped=[], last_ok="write.views") == (
        "pass", None)


def test_a_failed_step_fails_the_job_with_its_log_and_scs_error():
    logs = {"synthesis": "/b/sc/counter/job0/synthesis/0/synthesis.log"}
    status, reason = metrics.run_status(error="Run failed: synthesis/0 failed", failed_step="synthesis", logs=logs,
                                        skipped=SKIPPED_PNR, last_ok="elaborate")
    assert status == "fail"  # a failure wins over the stages that were never going to run
    assert reason == ("step synthesis failed (log: /b/sc/counter/job0/synthesis/0/synthesis.log): "
                      "Run failed: synthesis/0 failed")


def test_a_failed_step_without_a_log_or_error_says_only_which_step():
    assert metrics.run_status(error=None, failed_step="route.detailed", logs={}, skipped=[],
                              last_ok="route.global") == ("fail", "step route.detailed failed")


def test_an_error_no_step_owns_is_the_reason():
    assert metrics.run_status(error="Run failed: timed out", failed_step=None, logs={}, skipped=[],
                              last_ok="synthesis") == ("fail", "Run failed: timed out")


def test_skipped_stages_make_a_partial_run_naming_each_missing_tool_once():
    status, reason = metrics.run_status(error=None, failed_step=None, logs={}, skipped=SKIPPED_PNR,
                                        last_ok="synthesis.timing")
    # place.global is skipped only because floorplan.init is: its reason is not repeated.
    assert (status, reason) == ("partial", "stopped after synthesis.timing: openroad not installed; "
                                           "klayout not installed")


# -- the flop / latch census ---------------------------------------------------------------------

SYNTH_NETLIST = """module halut_decoder (clk_i);
 DFFR_X1 \\valid_q$_DFF_PN0_  (.D(net1), .RN(rst_ni), .CK(clk_i), .Q(valid_o));
 DFFR_X1 \\addr_q$_DFF_PN0_  (.D(net2), .RN(rst_ni), .CK(clk_i), .Q(addr_o));
 DLH_X1 \\i_lut/gen_word[0].gen_used.q[0]\\DLH_X1  (.D(d0), .G(gclk), .Q(q0));
endmodule
"""


@pytest.fixture
def job(tmp_path):
    """A job folder where synthesis and write.views wrote a netlist (2 flops + 1 latch, 1 + 2)."""
    jobpath = tmp_path / "halut_decoder" / "job0"
    for step, text in (("synthesis", SYNTH_NETLIST), ("write.views", NETLIST)):
        (jobpath / step / "0" / "outputs").mkdir(parents=True)
        (jobpath / step / "0" / "outputs" / "halut_decoder.vg").write_text(text)
    (tmp_path / "mini.lib").write_text(LIBERTY)
    return jobpath, netlist.liberty_sequential_cells(tmp_path / "mini.lib")


FLOW_ORDER = ["elaborate", "synthesis", "synthesis.timing", "floorplan.init", "route.detailed", "write.views"]


def census(figures: Figures, job, netlist_steps=("synthesis", "write.views"), cells=True) -> Figures:
    jobpath, sequential = job
    metrics.add_sequential_census(figures, list(netlist_steps), FLOW_ORDER, jobpath, "halut_decoder",
                                  sequential if cells else None)
    return figures


def counts(figures: Figures) -> tuple:
    return tuple(figures.metrics.get(n) for n in ("flop_count", "latch_count", "register_count"))


def test_the_census_counts_flops_and_latches_of_the_netlist_the_area_describes(job):
    figures = Figures()
    figures.put("area_um2", 1507.42, "write.views")
    census(figures, job)
    assert counts(figures) == (1, 2, 3)  # the clock gate and the NAND2 are neither
    assert {figures.metric_steps[n] for n in ("flop_count", "latch_count", "register_count")} == {"write.views"}


def test_a_post_synthesis_area_takes_the_newest_netlist_before_it(job):
    figures = Figures()
    figures.put("area_um2", 1405.012, "synthesis.timing")  # STA writes no netlist of its own
    census(figures, job)
    assert counts(figures) == (2, 1, 3) and figures.metric_steps["flop_count"] == "synthesis"


def test_an_area_before_any_netlist_takes_the_first_netlist(job):
    figures = Figures()
    figures.put("area_um2", 1377.08, "elaborate")
    census(figures, job, netlist_steps=("write.views",))
    assert counts(figures) == (1, 2, 3) and figures.metric_steps["flop_count"] == "write.views"


@pytest.mark.parametrize("area, netlist_steps, cells", [
    (None, ("synthesis", "write.views"), True),  # no area: no netlist it describes
    (1507.42, (), True),  # no step wrote a netlist
    (1507.42, ("synthesis", "write.views"), False),  # no Liberty classification
])
def test_no_census_without_an_area_a_netlist_or_the_liberty_classes(job, area, netlist_steps, cells):
    figures = Figures()
    figures.put("area_um2", area, "write.views")
    census(figures, job, netlist_steps=netlist_steps, cells=cells)
    assert counts(figures) == (None, None, None) and "flop_count" not in figures.metric_steps


# -- the node walk -------------------------------------------------------------------------------


def test_the_node_walk_reads_each_nodes_status_time_memory_tool_and_figures(tmp_path):
    nodes = {
        ("elaborate", "0"): {"status": "success", "tool": "slang", "metric": REAL_NODES[("elaborate", "0")]},
        ("synthesis", "0"): {"status": "success", "tool": "yosys", "toolversion": "0.52",
                             "metric": {**REAL_NODES[("synthesis", "0")], "memory": 268435456}},
        ("floorplan.macro_placement", "0"): {"status": "skipped", "tool": "openroad", "metric": {"exetime": 0.04}},
        ("floorplan.init", "0"): {"status": "error", "tool": "openroad", "toolversion": "26Q3-1551-g5c9e487120"},
        ("place.global", "0"): {"status": "error", "tool": "openroad"},
        ("route.detailed", "0"): {"tool": "openroad"},  # never started: no status, no folder
    }
    jobpath = tmp_path / "counter" / "job0"
    for step, index in list(nodes)[:5]:
        (jobpath / step / index).mkdir(parents=True)
        (jobpath / step / index / f"{step}.log").write_text("log\n")
    (jobpath / "synthesis/0/reports").mkdir()
    (jobpath / "synthesis/0/reports/stat.json").write_text("{}")
    (jobpath / "synthesis/0/outputs").mkdir()
    (jobpath / "synthesis/0/outputs/counter.vg").write_text("module counter (); endmodule\n")
    figures = Figures()

    walk = metrics.walk_nodes(tmp_path, "counter", "job0", list(nodes), Manifest(sc_manifest(nodes)),
                              {"yosys": "0.23", "klayout": "0.28.5"}, figures)

    assert [(s.step, s.status, s.tool) for s in walk.steps] == [
        ("elaborate", "success", "slang"), ("synthesis", "success", "yosys"),
        ("floorplan.macro_placement", "skipped", "openroad"), ("floorplan.init", "error", "openroad"),
        ("place.global", "error", "openroad"), ("route.detailed", "pending", "openroad")]
    by_step = {s.step: s for s in walk.steps}
    assert by_step["synthesis"].runtime_s == 1.81 and by_step["synthesis"].peak_memory_mib == 256.0
    assert by_step["floorplan.macro_placement"].runtime_s == 0.04  # exetime when SC has no tasktime
    assert by_step["floorplan.macro_placement"].note == "skipped by SiliconCompiler: nothing to do in this design"
    assert by_step["synthesis"].log == str(jobpath / "synthesis/0/synthesis.log")
    assert by_step["route.detailed"].log is None
    assert (walk.last_ok, walk.failed_step, walk.netlist_steps) == ("synthesis", "floorplan.init", ["synthesis"])
    assert walk.tool_versions == {"yosys": "0.52", "klayout": "0.28.5", "openroad": "26Q3-1551-g5c9e487120"}
    assert walk.reports == [str(jobpath / "synthesis/0/reports/stat.json")]
    assert figures.metrics == {"area_um2": 1405.012, "stdcell_count": 760}  # cells of the synthesized netlist
    assert figures.metric_steps == {"area_um2": "synthesis", "stdcell_count": "synthesis"}


def test_a_node_the_job_manifest_never_heard_of_is_read_from_its_own_manifest(tmp_path):
    """After a crash the job manifest may predate a node; the node's outputs manifest has it."""
    nodes = {("synthesis", "0"): {"status": "success", "tool": "yosys", "metric": REAL_NODES[("synthesis", "0")]}}
    outputs = tmp_path / "counter" / "job0" / "synthesis" / "0" / "outputs"
    outputs.mkdir(parents=True)
    (outputs / "counter.pkg.json").write_text(json.dumps(sc_manifest(nodes)))

    walk = metrics.walk_nodes(tmp_path, "counter", "job0", list(nodes), Manifest(sc_manifest({})), {}, Figures())
    assert [(s.step, s.status, s.runtime_s) for s in walk.steps] == [("synthesis", "success", 1.81)]


# -- targets, gate equivalents, scenarios --------------------------------------------------------


def test_the_clock_target_is_in_ns_and_the_voltage_says_where_it_comes_from():
    figures = metrics.target_figures(ASAP7, 1500, 0.63)  # asap7 periods are in ps
    assert figures.metrics == {"clock_period_ns": 1.5, "target_freq_mhz": pytest.approx(666.667, abs=1e-3),
                               "voltage_v": 0.63}
    assert figures.metric_steps == {"clock_period_ns": "sdc", "target_freq_mhz": "sdc", "voltage_v": "liberty"}
    fixed = metrics.target_figures(NANGATE45.model_copy(update={"voltage_v": 1.1}), 3.0, 1.1)
    assert fixed.metric_steps["voltage_v"] == "platform"
    assert "voltage_v" not in metrics.target_figures(NANGATE45, 3.0, None).metrics


@pytest.mark.parametrize("step, origin", [("write.views", "finish"), ("synthesis.timing", "synthesis")])
def test_gate_equivalents_are_the_area_over_the_reference_cell_from_the_same_step(step, origin):
    figures = Figures()
    figures.put("area_um2", 1507.42, step)
    metrics.add_gate_equivalents(figures, NANGATE45)
    assert figures.metrics["ge"] == pytest.approx(1507.42 / 0.798) and figures.metric_steps["ge"] == step
    assert figures.origin == origin


def test_no_area_no_gate_equivalents_and_no_origin():
    figures = Figures()
    metrics.add_gate_equivalents(figures, NANGATE45)
    assert figures.metrics == {} and figures.origin is None


def test_each_timing_and_power_metric_names_the_scenario_of_its_check():
    scenarios = {"slow": TimingScenario(libcorner="slow", checks=["setup"], voltage_v=0.63),
                 "fast": TimingScenario(libcorner="fast", checks=["hold"], voltage_v=0.77),
                 "typical": TimingScenario(libcorner="typical", checks=["power"], voltage_v=0.7)}
    found = {"area_um2": 8.748, "setup_slack_ns": -0.14, "wns_ns": -0.14, "hold_slack_ns": -0.01,
             "hold_wns_ns": -0.01, "power_mw": 0.805, "voltage_v": 0.63}
    assert metrics.metric_scenarios(found, scenarios, ASAP7) == {
        "wns_ns": "slow", "setup_slack_ns": "slow", "hold_slack_ns": "fast", "hold_wns_ns": "fast",
        "power_mw": "typical", "voltage_v": "slow"}  # the voltage is the setup corner's Liberty's
    fixed = ASAP7.model_copy(update={"voltage_v": 0.7})
    assert "voltage_v" not in metrics.metric_scenarios(found, scenarios, fixed)
    assert metrics.metric_scenarios(found, {}, ASAP7) == {}


# -- the shared assembly -------------------------------------------------------------------------


def test_figures_take_the_latest_value_and_ignore_none():
    figures = Figures()
    figures.put("area_um2", 1405.012, "synthesis")
    figures.put("area_um2", 1507.42, "write.views")
    figures.put("wns_ns", None, "write.views")
    assert figures.metrics == {"area_um2": 1507.42} and figures.metric_steps == {"area_um2": "write.views"}


def test_assemble_record_fills_the_platforms_fields_and_passes_the_rest():
    figures = Figures()
    figures.put("area_um2", 1507.42, "finish")
    figures.origin = "finish"
    record = metrics.assemble_record(
        run_id="r1", source="orfs", design="halut_decoder", top="halut_decoder__2864165611389228789",
        pdk="nangate45", platform=NANGATE45, parameters={"orfs_design": "halut_decoder"},
        timestamp=datetime(2023, 5, 1, 12, 0, tzinfo=UTC), status="pass", reason=None, stage_reached="finish",
        figures=figures, steps=[StepInfo(step="finish", status="success", tool="openroad")],
        tool_versions={"openroad": "v2.0-7070"}, artifacts=Artifacts(gds="/a/6_final.gds"),
        source_path="/a/nangate45/halut_decoder")
    assert (record.stdcell_lib, record.ge_reference_cell, record.ge_reference_area_um2) == (
        NANGATE45.stdcell_lib, "NAND2_X1", 0.798)
    assert record.metrics.area_um2 == 1507.42 and record.metric_steps == {"area_um2": "finish"}
    assert record.metrics_origin == "finish" and record.gds == "/a/6_final.gds" and record.logs == {}
    assert record.source_path == "/a/nangate45/halut_decoder" and record.metric_scenarios == {}
