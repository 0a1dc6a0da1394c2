"""The step, tool and view tables against SiliconCompiler 0.38.11 and the docs: every SC step and
tool of the flow is declared (an unknown one is an error, not a silent default), minimum versions
are SC's and the docs say the same, and adding a step, a tool or a visible metric is one table
entry that the rest of the orchestrator follows (docs/extending.md lists the files)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator import metrics, orfs_import, steps, tools
from orchestrator.record import METRIC_SPECS, PNR_STAGES, VIEWS
from orchestrator.steps import STEP_SPECS, TOOL_SPECS, StepSpec, ToolSpec, UnknownStepError

ROOT = Path(__file__).resolve().parents[1]
SC_ROOT = Path(__import__("siliconcompiler").__file__).parent


def asic_flow():
    from siliconcompiler.flows.asicflow import ASICFlow

    return ASICFlow()


def test_step_table_is_scs_asic_flow_in_execution_order():
    flow = asic_flow()
    level = {step: n for n, nodes in enumerate(flow.get_execution_order()) for step, _ in nodes}
    declared = [spec.step for spec in STEP_SPECS]
    assert sorted(declared) == sorted(level)
    assert [level[step] for step in declared] == sorted(level[step] for step in declared)
    assert {spec.step: spec.sc_tool for spec in STEP_SPECS} == {
        step: flow.get_graph_node(step, index).get_tool() for step, index in flow.get_nodes()
    }


def test_every_sc_tool_of_the_flow_is_declared_and_an_unknown_one_is_an_error():
    sc_tools = {spec.sc_tool for spec in STEP_SPECS}
    assert all(steps.tool_for_sc_tool(tool) is not None for tool in sc_tools)
    assert steps.tool_for_sc_tool("builtin") is None
    with pytest.raises(UnknownStepError, match="TOOL_SPECS"):
        tools.Toolchain().for_sc_tool("magic")
    # Before, an unknown tool counted as "magic not installed" and its steps were skipped silently.


def test_an_unknown_step_is_an_error_and_a_new_step_of_a_known_stage_takes_its_facts():
    with pytest.raises(UnknownStepError, match="STEP_SPECS"):
        steps.step_origin("signoff.lvs")
    assert steps.step_origin("route.new_repair") == "route"
    with pytest.raises(UnknownStepError, match="ORFS_STAGE_SPECS"):
        orfs_import.stage_origin("6_report_extra")


def test_derived_step_and_tool_tables_follow_the_declarations():
    assert PNR_STAGES == ("floorplan", "place", "cts", "route", "finish")
    assert tools.FLOW_TOOLS == ("pyslang", "yosys", "sta", "openroad", "klayout")
    assert steps.steps_producing("gds") == ("write.gds", "write.views")
    assert steps.steps_of_tool("klayout") == ("write.gds",)
    assert orfs_import.STEP_LOG_STAGE["5_2_TritonRoute"] == "detailedroute"
    assert orfs_import._FIGURE_STAGES[:2] == ("finish", "detailedroute")
    assert "6_1_merge" not in orfs_import._STEP_LOG_SEQUENCE and "2_1_floorplan" in orfs_import._STEP_LOG_SEQUENCE
    assert {spec.name for spec in TOOL_SPECS if not spec.sc_tools} == {"iverilog", "verilator"}
    assert all(spec.purpose for spec in TOOL_SPECS if not spec.sc_tools)


@pytest.mark.parametrize("spec", [s for s in TOOL_SPECS if s.minimum], ids=lambda s: s.name)
def test_minimum_versions_are_scs_and_are_in_the_hints(spec):
    source = SC_ROOT / "tools" / spec.sc_tools[0] / "__init__.py"
    (declared,) = re.findall(r'self\.add_version\(">=([^"]+)"\)', source.read_text())
    assert spec.minimum == declared
    assert f">= {spec.minimum}" in tools._hint(spec.name)


# What the prose calls each tool, and where it states a minimum version ("Yosys ≥ 0.48", "OpenSTA < 2.6.2").
PROSE_NAMES = {"Yosys": "yosys", "OpenROAD": "openroad", "OpenSTA": "sta", "KLayout": "klayout"}
VERSION_CLAIM = re.compile(r"\b(Yosys|OpenROAD|OpenSTA|KLayout) ?(?:>=|≥|<) ?(\d[\w.-]*\w)", re.IGNORECASE)


def test_docs_state_the_declared_minimum_versions():
    minimum = {spec.name: spec.minimum for spec in TOOL_SPECS}
    claims = []
    for path in [*sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "orchestrator").rglob("*.py"))]:
        for match in VERSION_CLAIM.finditer(path.read_text(encoding="utf-8")):
            name = next(v for k, v in PROSE_NAMES.items() if k.lower() == match.group(1).lower())
            claims.append((path.name, name, match.group(2)))
    assert {name for _, name, _ in claims} == set(PROSE_NAMES.values())  # the check sees every tool
    assert [c for c in claims if c[2] != minimum[c[1]]] == []


def test_a_new_step_flows_through_from_its_table_entry(tmp_path, monkeypatch):
    """Adding a step: one ``StepSpec``. Here SC would gain a KLayout render after write.gds."""
    new = StepSpec("write.render", "finish", "klayout", produces=("layout_png",))
    table = (*[replace(s, produces=()) if s.step == "write.gds" else s for s in STEP_SPECS], new)
    monkeypatch.setattr(steps, "STEP_SPECS", table)
    monkeypatch.setattr(steps, "STEP_SPEC", {s.step: s for s in table})
    job = tmp_path / "top" / "job0"
    for step in ("write.render", "route.detailed", "write.views"):
        (job / step / "0" / "reports" / "images").mkdir(parents=True)
        (job / step / "0" / "reports" / "images" / "top.routing.png").write_bytes(b"png")
    (job / "write.render" / "0" / "outputs").mkdir()
    (job / "write.render" / "0" / "outputs" / "top.png").write_bytes(b"png")
    images = metrics.find_images(job, "top")
    assert images["layout"] == str(job / "write.render/0/outputs/top.png")
    assert images["routing"] == str(job / "write.render/0/reports/images/top.routing.png")  # the latest step
    assert steps.step_origin("write.render") == "finish"
    assert tools.Toolchain().for_sc_tool(steps.step_spec("write.render").sc_tool).name == "klayout"


def test_a_new_tool_flows_through_from_its_table_entry(tmp_path, monkeypatch):
    """Adding a tool: one ``ToolSpec``; detection, the version gate and the flow's skip reason follow."""
    exe = tmp_path / "lvs"
    exe.write_text("#!/bin/sh\necho 'lvs 1.2.0'\n")
    exe.chmod(0o755)
    spec = ToolSpec("lvs", "lvs", "install lvs >= {minimum}", sc_tools=("netgen",), version_args=("--version",),
                    minimum="1.3")
    monkeypatch.setattr(steps, "TOOL_SPECS", (spec,))
    monkeypatch.setattr(steps, "TOOL_SPEC", {"lvs": spec})
    monkeypatch.setattr(steps, "SC_TOOL", {"netgen": spec})
    monkeypatch.setenv("PATH", str(tmp_path))
    toolchain = tools.detect_all()
    status = toolchain.for_sc_tool("netgen")
    assert (status.name, status.found, status.version) == ("lvs", False, "1.2.0")
    assert status.missing_reason == "lvs 1.2.0 too old for SiliconCompiler (needs >= 1.3)"
    assert status.install_hint == "install lvs >= 1.3"
    exe.write_text("#!/bin/sh\necho 'lvs 1.3.1'\n")
    assert tools.detect_all().for_sc_tool("netgen").found


def test_a_new_visible_metric_flows_through_from_its_registry_line(tmp_path):
    """Adding a visible metric: one ``MetricSpec`` line and its ``VIEWS`` columns in record.py, and
    nothing else (docs/metrics.md is generated). The edit is made to a copy of the package."""
    package = tmp_path / "orchestrator"
    shutil.copytree(ROOT / "orchestrator", package, ignore=shutil.ignore_patterns("__pycache__"))
    record_py = package / "record.py"
    text = record_py.read_text(encoding="utf-8")
    anchor = '    MetricSpec("approx_error",'
    line = ('    MetricSpec("buffer_count", int, "buffers", "lower", "buffer instances", title="Buffers",\n'
            '               fmt="count", stage="synthesis", estimate=True, sc=ScSource("buffers"),\n'
            '               gate=Tolerance(rel_tol_pct=2.0)),\n')
    signoff = '        Column("flop_count", "Flops [#]"),'
    run_table = '        Column("drc_count", "DRC", priority=12),'
    assert text.count(anchor) == text.count(signoff) == text.count(run_table) == 1
    text = text.replace(anchor, line + anchor).replace(signoff, signoff + ' Column("buffer_count", "Buffers [#]"),')
    record_py.write_text(text.replace(run_table, run_table + ' Column("buffer_count", "bufs", priority=16),'),
                         encoding="utf-8")
    script = textwrap.dedent("""
        from datetime import datetime, UTC
        from pathlib import Path
        from orchestrator import check, docgen, history, metrics, progress
        from orchestrator.record import Metrics, RunRecord
        from orchestrator.report import view

        class Manifest:  # what SC recorded at one node
            def get(self, *key, step, index):
                return 42.0 if key == ("metric", "buffers") and step == "synthesis" else None

        found, steps = {}, {}
        metrics._take_metrics(Manifest(), "synthesis", "0", Path("."), found, steps)
        assert found == {"buffer_count": 42} and steps == {"buffer_count": "synthesis"}, found
        assert check.DEFAULT_RULES["buffer_count"].model_dump(exclude_defaults=True) == {
            "better": "lower", "rel_tol_pct": 2.0}
        assert "buffer_count" in check.CHECKABLE_METRICS
        assert history.implausible_metric("buffer_count", -1.0) == "negative"
        assert ("buffer_count", "Buffers [#]") in [(r.metric, r.label) for r in view.SIGNOFF_ROWS]
        assert view.format_metric("buffer_count", 1234) == "1,234"
        record = RunRecord(run_id="r", design="d", pdk="p", timestamp=datetime.now(UTC), status="pass",
                           metrics=Metrics(buffer_count=7777))
        table = progress.format_metrics_table([record])
        assert "bufs" in table and "7777" in table, table
        assert "| `buffer_count` | int | buffers | lower | synthesis | yes |" in docgen.metrics_page()
        print("flows through")
    """)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}{':'}{ROOT / 'designs'}", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "flows through"


def test_views_name_registry_metrics_once_each():
    names = {spec.name for spec in METRIC_SPECS}
    for view, columns in VIEWS.items():
        metrics_of = [c.metric for c in columns]
        assert set(metrics_of) <= names, view
        assert len(metrics_of) == len(set(metrics_of)), view
