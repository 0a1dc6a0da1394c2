"""The metric registry against SiliconCompiler 0.38.11: every name we read exists in SC's ASIC
metric schema and is recorded by the SC task at the stage the registry claims, every record field
is declared once, and derived tables follow the declaration."""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import get_args

import pytest

from orchestrator import accuracy, check, metrics, tools
from orchestrator.orfs_import import mapping as orfs_import  # where ORFS keys become record fields
from orchestrator.record import (
    INT_METRICS,
    METRIC_BETTER,
    METRIC_SPECS,
    METRIC_UNITS,
    PNR_ONLY,
    PNR_STAGES,
    POST_SYNTHESIS_ESTIMATES,
    Format,
    Metrics,
)
from orchestrator.report import orfs_compare, site, view
from tests.orfs_reference import find_reference

REGISTRY = {spec.name for spec in METRIC_SPECS}


def sc_metric_names() -> set[str]:
    from siliconcompiler.metrics.asic import ASICMetricsSchema

    return set(ASICMetricsSchema().getkeys())


# --------------------------------------------------------------------------------------------
# Which SC metric names a task really records: the string literals, loop tables and guarded
# names its code hands to ``record_metric`` (read from SC's source, through the task's classes).


def _bound_names(path: list[ast.AST], var: str) -> set[str] | None:
    """The constants ``var`` can hold where the call at the end of ``path`` runs: from the nearest
    enclosing ``for var[, ...] in [<literal table>]`` or ``if var in (...)`` / ``if var == "..."``
    whose body holds the call. None when nothing binds it to literals (e.g. an f-string)."""
    for parent, child in zip(reversed(path[:-1]), reversed(path[1:]), strict=True):
        if isinstance(parent, ast.For) and isinstance(parent.iter, (ast.List, ast.Tuple)):
            target = parent.target
            if isinstance(target, ast.Name) and target.id == var:
                return {e.value for e in parent.iter.elts if isinstance(e, ast.Constant)}
            if isinstance(target, ast.Tuple):
                slots = [i for i, t in enumerate(target.elts) if isinstance(t, ast.Name) and t.id == var]
                if slots:
                    return {row.elts[slots[0]].value for row in parent.iter.elts
                            if isinstance(row, ast.Tuple) and isinstance(row.elts[slots[0]], ast.Constant)}
        if isinstance(parent, ast.If) and child in parent.body:
            test = parent.test
            if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == var
                    and len(test.ops) == 1):
                (other,) = test.comparators
                if isinstance(test.ops[0], ast.In) and isinstance(other, (ast.Tuple, ast.List, ast.Set)):
                    return {e.value for e in other.elts if isinstance(e, ast.Constant)}
                if isinstance(test.ops[0], ast.Eq) and isinstance(other, ast.Constant):
                    return {other.value}
    return None


def names_passed_to(tree: ast.AST, method: str) -> set[str]:
    """Every string the code in ``tree`` can pass as the first argument of ``<obj>.<method>(...)``."""
    found: set[str] = set()

    def walk(node: ast.AST, path: list[ast.AST]) -> None:
        path = [*path, node]
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
                and node.args):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
            elif isinstance(first, ast.Name):
                found.update(_bound_names(path, first.id) or ())
        for child in ast.iter_child_nodes(node):
            walk(child, path)

    walk(tree, [])
    return found


@cache
def task_records(task_cls: type) -> frozenset[str]:
    """The SC metrics a task class records, from the code of every SC tool class it inherits."""
    names: set[str] = set()
    for cls in inspect.getmro(task_cls):
        if cls.__module__.startswith("siliconcompiler.tools."):
            names |= names_passed_to(ast.parse(textwrap.dedent(inspect.getsource(cls))), "record_metric")
    return frozenset(names)


def flow_records(flow) -> dict[str, frozenset[str]]:
    """SC step name -> the metrics its task records, for every node of an SC flowgraph."""
    return {step: task_records(flow.get_task_module(step, index)) for step, index in flow.get_nodes()}


@cache
def asic_flow() -> dict[str, frozenset[str]]:
    from siliconcompiler.flows.asicflow import ASICFlow

    return flow_records(ASICFlow())


@cache
def synthesis_flow() -> dict[str, frozenset[str]]:
    """A run without OpenROAD stops after SC's synthesis flow: Yosys, then OpenSTA (synthesis.timing)."""
    from siliconcompiler.flows.synflow import SynthesisFlow

    return flow_records(SynthesisFlow())


def test_task_code_reading_finds_what_real_runs_record():
    # tests/test_flow.py REAL_NODES: what SC 0.38.11 recorded at these nodes of a real NanGate45 run.
    flow = asic_flow()
    assert {"cellarea", "cells", "registers"} <= flow["synthesis"]
    assert {"cellarea", "cells", "setupslack", "setuptns", "holdslack", "holdtns", "fmax", "peakpower",
            "leakagepower"} <= flow["synthesis.timing"]
    assert {"drcs", "drvs", "setupwns", "holdwns", "wirelength", "utilization", "totalarea"} <= flow["route.detailed"]
    assert "totalarea" in flow["write.gds"]  # KLayout


def test_sta_records_no_wns_and_no_task_records_averagepower():
    # The two wrong names of the past: both are in SC's schema, neither is recorded where we read it.
    assert {"setupwns", "holdwns"} & synthesis_flow()["timing"] == set()
    assert not any("averagepower" in names for names in asic_flow().values())
    assert {"setupwns", "averagepower"} <= sc_metric_names()


def test_each_sc_metric_is_recorded_at_the_stage_the_registry_names():
    """A synthesis-stage figure must come from SC's synthesis flow (the run without OpenROAD has only
    that), directly or as a WNS derived from a slack it records; a P&R figure from a node of that stage."""
    synthesis = set().union(*synthesis_flow().values())
    sc_name = {spec.name: spec.sc.name for spec in metrics.SC_METRICS}
    wrong = []
    for spec in metrics.SC_METRICS:
        if spec.stage == "synthesis":
            derived_from = [slack for slack, wns in metrics.WNS_FROM_SLACK.items() if wns == spec.name]
            ok = spec.sc.name in synthesis or any(sc_name.get(slack) in synthesis for slack in derived_from)
        else:
            ok = any(spec.sc.name in names for step, names in asic_flow().items()
                     if metrics.step_origin(step) == spec.stage)
        if not ok:
            wrong.append(f"{spec.name}: {spec.sc.name} at {spec.stage}")
    assert wrong == []


def test_every_sc_metric_we_read_is_in_scs_schema():
    unknown = [spec.sc.name for spec in metrics.SC_METRICS if spec.sc.name not in sc_metric_names()]
    assert unknown == []


def test_a_misspelt_sc_name_would_be_caught():
    # The check above is not vacuous: SC's schema knows averagepower but not e.g. "totalpower".
    assert "averagepower" in sc_metric_names() and "totalpower" not in sc_metric_names()


def test_every_sc_metric_maps_to_a_declared_record_field():
    declared = {spec.name for spec in METRIC_SPECS}
    assert {spec.name for spec in metrics.SC_METRICS} <= declared
    assert set(metrics.OPENROAD_METRICS.values()) <= declared
    assert set(metrics.WNS_FROM_SLACK) | set(metrics.WNS_FROM_SLACK.values()) <= declared


def test_record_model_units_and_directions_come_from_the_registry():
    names = [spec.name for spec in METRIC_SPECS]
    assert len(names) == len(set(names))
    assert list(Metrics.model_fields) == names
    assert set(METRIC_UNITS) == set(names) and set(METRIC_BETTER) == set(names)
    assert {m: d for m, d in check.METRIC_BETTER.items() if m in names} == METRIC_BETTER
    assert POST_SYNTHESIS_ESTIMATES <= set(names) and "drc_count" not in POST_SYNTHESIS_ESTIMATES


def test_derived_tables_hold_exactly_the_registry_metrics():
    assert set(METRIC_UNITS) == set(METRIC_BETTER) == set(view._FORMATTERS) == REGISTRY
    assert set(check.METRIC_BETTER) == set(check.CHECKABLE_METRICS) == REGISTRY | {"total_runtime_s"}
    assert {m: view._FORMATTERS[m] for m in REGISTRY} == {s.name: view.FORMATS[s.fmt] for s in METRIC_SPECS}
    assert set(view.FORMATS) == set(get_args(Format))
    assert [s.name for s in metrics.SC_METRICS] == [s.name for s in METRIC_SPECS if s.sc is not None]
    assert metrics.OPENROAD_METRICS == {s.openroad: s.name for s in METRIC_SPECS if s.openroad}
    assert POST_SYNTHESIS_ESTIMATES == {s.name for s in METRIC_SPECS if s.estimate}
    assert PNR_ONLY == {s.name for s in METRIC_SPECS if s.stage in PNR_STAGES}
    assert INT_METRICS == {s.name for s in METRIC_SPECS if s.kind is int}
    assert set(accuracy.ACCURACY_METRICS) == {s.name for s in METRIC_SPECS if s.stage == "accuracy"}


def test_an_estimate_is_a_synthesis_figure_and_pnr_figures_are_not_read_before_floorplan():
    assert all(spec.stage == "synthesis" for spec in METRIC_SPECS if spec.estimate)
    assert {"utilization_pct", "die_area_um2", "drc_count", "drv_count", "wirelength_um"} <= PNR_ONLY
    assert not PNR_ONLY & POST_SYNTHESIS_ESTIMATES


def test_formats_print_as_before():
    assert view.format_metric("area_um2", 1507.4213) == "1,507.42"
    assert view.format_metric("ge", 110238.0) == "110.238 kGE"
    assert view.format_metric("stdcell_count", 890) == "890"
    assert view.format_metric("clock_period_ns", 3) == "3.000"
    assert view.format_metric("leakage_power_mw", 0.0293673) == "0.0294"
    assert view.format_metric("wirelength_um", 7328.0) == "7,328.0"
    assert view.format_metric("accuracy_pct", 93.25) == "93.250"
    assert view.format_metric("not_a_metric", 7) == "7"


def test_page_and_rule_choices_name_registry_metrics():
    rows = [row.metric for row in (*view.INDEX_ROWS, *view.SIGNOFF_ROWS)]
    chosen = {*rows, *site.COMPARISON_METRICS, *site.CROSS_DESIGN_TREND_METRICS, *orfs_compare.COMPARED_METRICS,
              *check.SIGNOFF_LIMITS}
    assert chosen <= REGISTRY
    assert set(check.DEFAULT_RULES) <= set(check.CHECKABLE_METRICS)


def test_orfs_import_maps_orfs_keys_onto_registry_fields():
    tree = ast.parse(Path(orfs_import.__file__).read_text(encoding="utf-8"))
    fields = names_passed_to(tree, "put")
    assert {"area_um2", "stdcell_count", "utilization_pct", "core_area_um2", "power_mw", "wns_ns"} <= fields
    assert fields - REGISTRY == set()


def _orfs_metric_files() -> list[Path]:
    root = find_reference(Path(__file__).resolve().parents[1])
    if root is None:
        pytest.skip("the ORFS report archive is not present ($HALUT_ORFS_REFERENCE or ../shared/reference)")
    return sorted(root.rglob("metadata.json"))[:5] + sorted(root.rglob("metrics.json"))[:5]


def test_openroad_metric_keys_are_the_ones_openroad_writes():
    # SC writes OpenROAD's metrics under "sc__metric__"; ORFS writes the same names under "<stage>__".
    keys: set[str] = set()
    for path in _orfs_metric_files():
        data = json.loads(path.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else [data]:
            keys.update(item)
    names = {re.sub(r"^sc__metric__", "", key) for key in metrics.OPENROAD_METRICS}
    assert {name for name in names if any(key.endswith(f"__{name}") for key in keys)} == names


def test_flow_tools_are_the_tools_of_scs_asic_flow():
    from siliconcompiler.flows.asicflow import ASICFlow

    flow = ASICFlow()
    sc_tools = {flow.get_graph_node(step, index).get_tool() for step, index in flow.get_nodes()}
    assert set(tools.FLOW_TOOLS) == {tools.SC_TOOL_REQUIREMENT[tool] for tool in sc_tools} - {None}


def test_signoff_limits_fail_any_drc_violation_without_a_baseline():
    rule = check.Baseline().rule_for("drc_count", None)
    assert check.compare_metric("drc_count", None, 3, rule)[0] == "out of bounds"
    assert check.compare_metric("drc_count", None, 0, rule)[0] == "new"


SC_ROOT = Path(__import__("siliconcompiler").__file__).parent


@pytest.mark.parametrize("tool, source", [
    ("yosys", "tools/yosys/__init__.py"),
    ("openroad", "tools/openroad/__init__.py"),
    ("sta", "tools/opensta/__init__.py"),
    ("klayout", "tools/klayout/__init__.py"),
])
def test_minimum_versions_are_the_ones_sc_checks(tool, source):
    (declared,) = re.findall(r'self\.add_version\(">=([^"]+)"\)', (SC_ROOT / source).read_text())
    assert tools.SC_MIN_VERSIONS[tool] == declared


@pytest.mark.parametrize("tool, version, ok", [
    ("openroad", "26Q3-1551-g5c9e487120", True),
    ("openroad", "24Q3-2011", True),
    ("openroad", "24Q3-2010-gabcdef0", False),
    ("openroad", "v2.0-17198-g8396d0866", False),  # 24Q3-1611 in SC's numbering
    ("sta", "3.1.0", True),
    ("sta", "2.6.1", False),
    ("klayout", "0.28.5", True),
    ("klayout", "0.27.13", False),
    ("yosys", "0.23", False),  # Debian 12's
    ("yosys", "0.52", True),  # Debian 13's
])
def test_tool_versions_are_judged_like_sc(tool, version, ok):
    assert tools.sc_version_ok(tool, version) is ok


def test_too_old_tool_counts_as_missing(tmp_path, monkeypatch):
    fake = tmp_path / "sta"
    fake.write_text("#!/bin/sh\necho 2.5.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    status = tools._detect_exe("sta", "sta", ["-version"], r"(\S+)")
    assert not status.found and status.version == "2.5.0" and "needs >= 2.6.2" in status.note
    assert status.missing_reason == "sta 2.5.0 too old for SiliconCompiler (needs >= 2.6.2)"


def test_sc_units_are_the_ones_scs_schema_declares():
    from siliconcompiler.metrics.asic import ASICMetricsSchema

    schema = ASICMetricsSchema()
    declared = {spec.name: spec.sc.unit for spec in metrics.SC_METRICS}
    assert declared == {s.name: schema.get(s.sc.name, field=None).get(field="unit") for s in metrics.SC_METRICS}


def test_scale_factors_follow_from_the_declared_units():
    spec = {s.name: s for s in METRIC_SPECS}
    assert spec["fmax_mhz"].sc_scale == 1e-6  # SC records Hz
    assert {s.sc_scale for s in metrics.SC_METRICS if s.name != "fmax_mhz"} == {1.0}
    assert (spec["utilization_pct"].orfs_scale, spec["power_mw"].orfs_scale) == (100.0, 1000.0)  # a fraction; W
    assert spec["area_um2"].orfs_scale == spec["drc_count"].orfs_scale == 1.0


def test_every_metric_with_an_orfs_key_is_imported():
    tree = ast.parse(Path(orfs_import.__file__).read_text(encoding="utf-8"))
    assert {s.name for s in METRIC_SPECS if s.orfs} <= names_passed_to(tree, "put")


def test_check_rules_and_plausibility_limits_come_from_the_registry():
    from orchestrator import history

    assert {m: r.better for m, r in check.DEFAULT_RULES.items()} == {
        **{s.name: s.better for s in METRIC_SPECS if s.gate}, "total_runtime_s": "lower"}
    assert set(check.SIGNOFF_LIMITS) == {s.name for s in METRIC_SPECS if s.signoff_max is not None}
    assert history.PLAUSIBLE_LIMIT == {s.name: s.plausible_max for s in METRIC_SPECS}
