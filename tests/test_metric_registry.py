"""The metric registry against SiliconCompiler 0.38.11: every name we read exists in SC's ASIC
metric schema, every record field is declared once, and derived tables follow the declaration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator import check, metrics, tools
from orchestrator.record import METRIC_BETTER, METRIC_SPECS, METRIC_UNITS, Metrics, POST_SYNTHESIS_ESTIMATES


def sc_metric_names() -> set[str]:
    from siliconcompiler.metrics.asic import ASICMetricsSchema

    return set(ASICMetricsSchema().getkeys())


def test_every_sc_metric_we_read_is_in_scs_schema():
    unknown = [spec.sc_name for spec in metrics.SC_METRICS if spec.sc_name not in sc_metric_names()]
    assert unknown == []


def test_a_misspelt_sc_name_would_be_caught():
    # The check above is not vacuous: SC's schema knows averagepower but not e.g. "totalpower".
    assert "averagepower" in sc_metric_names() and "totalpower" not in sc_metric_names()


def test_every_sc_metric_maps_to_a_declared_record_field():
    declared = {spec.name for spec in METRIC_SPECS}
    assert {spec.field for spec in metrics.SC_METRICS} <= declared
    assert set(metrics.OPENROAD_METRICS.values()) <= declared
    assert set(metrics.WNS_FROM_SLACK) | set(metrics.WNS_FROM_SLACK.values()) <= declared


def test_record_model_units_and_directions_come_from_the_registry():
    names = [spec.name for spec in METRIC_SPECS]
    assert len(names) == len(set(names))
    assert list(Metrics.model_fields) == names
    assert set(METRIC_UNITS) == set(names) and set(METRIC_BETTER) == set(names)
    assert {m: d for m, d in check.METRIC_BETTER.items() if m in names} == METRIC_BETTER
    assert POST_SYNTHESIS_ESTIMATES <= set(names) and "drc_count" not in POST_SYNTHESIS_ESTIMATES


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
