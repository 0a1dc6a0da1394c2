"""The CLI end to end: one clear line and the right exit code for each kind of failure,
no history record unless a job finished, and a real synthesis run through the pyosys bridge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import history
from tests.conftest import FIXTURES


def run_cli(config: Path, *args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "orchestrator", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=environ, cwd=config.parent)


def history_files(config: Path) -> list[Path]:
    return list((config.parent / "reports" / "history").rglob("*.json"))


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def test_bad_config_is_one_line_exit_2_and_no_history(toy_project):
    config = toy_project(extra="flow: {jobs: -3}\n")
    proc = run_cli(config, "run", "--pdk", "nangate45")
    assert proc.returncode == 2
    assert error_lines(proc) == [
        f"error: {config}: key 'flow.jobs': Input should be greater than or equal to 1 (value: -3)"]
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert history_files(config) == []


@pytest.mark.parametrize("args, expected", [
    (["run", "--pdk", "sky999"], "unknown PDK 'sky999' (platforms available: asap7, nangate45)"),
    (["run", "--design", "adder"], "unknown design 'adder' (config.yaml has: counter)"),
    (["run", "--param", "WIDTH=0"], "parameter 'WIDTH': must be a positive int (value: 0)"),
    (["run", "--param", "WIDTH"], "--param: expected KEY=VALUE"),
])
def test_bad_selection_is_one_line_exit_2(toy_project, args, expected):
    config = toy_project()
    proc = run_cli(config, *args)
    assert proc.returncode == 2, proc.stderr
    assert len(error_lines(proc)) == 1 and expected in error_lines(proc)[0]
    assert history_files(config) == []


def test_missing_pdk_data_fails_the_job_without_a_record(toy_project, tmp_path):
    config = toy_project(data_root=tmp_path / "no-pdk-here", pdks="[nangate45]")
    proc = run_cli(config, "run")
    assert proc.returncode == 2  # bad setup, found before the first job starts (issue 10; was 1)
    lines = error_lines(proc)
    assert len(lines) == 1 and "PDK data for 'nangate45' (nangate45) not found in data root" in lines[0]
    assert history_files(config) == []


def test_require_all_stages_refuses_to_run_without_openroad(toy_project, hide_tools):
    config = toy_project()
    proc = run_cli(config, "run", "--require-all-stages", env=hide_tools())
    assert proc.returncode == 3
    assert "openroad" in error_lines(proc)[0]
    assert history_files(config) == []


def test_doctor_lists_every_tool(toy_project):
    proc = run_cli(toy_project(), "doctor")
    assert proc.returncode == 0, proc.stderr
    for tool in ("yosys", "pyslang", "openroad", "sta", "klayout", "iverilog", "verilator"):
        assert f" {tool} " in proc.stdout
    assert "asap7: runs elaborate" in proc.stdout


@pytest.mark.slow
def test_failing_tool_marks_job_failed_with_log_path(toy_project, pdk_data_root):
    config = toy_project(data_root=pdk_data_root, pdks="[nangate45]")
    config.write_text(config.read_text().replace("name: counter", "name: broken_counter"))
    proc = run_cli(config, "run")
    assert proc.returncode == 1
    (line,) = error_lines(proc)
    assert "step elaborate failed (log: " in line and "elaborate.log" in line
    (record,) = history.load_records(config.parent / "reports" / "history")
    assert record.status == "fail" and record.metrics.area_um2 is None
    assert Path(record.logs["elaborate"]).is_file()


@pytest.mark.slow
def test_run_synthesizes_on_both_pdks_and_records_history(toy_project, pdk_data_root, hide_tools):
    config = toy_project(data_root=pdk_data_root, width=16)
    proc = run_cli(config, "run", "--pdk", "all", "--jobs", "2", env=hide_tools())
    assert proc.returncode == 0, proc.stderr
    assert "P&R/sign-off stages were skipped" in proc.stderr and "openroad not installed" in proc.stderr
    assert "counter  asap7" in proc.stdout and "(syn)" in proc.stdout
    records = {r.pdk: r for r in history.load_records(config.parent / "reports" / "history")}
    assert set(records) == {"asap7", "nangate45"}
    for pdk, ge_area in (("asap7", 0.08748), ("nangate45", 0.798)):
        r = records[pdk]
        assert r.status == "partial" and r.stage_reached == "synthesis" and r.metrics_origin == "synthesis"
        assert r.metrics.stdcell_count > 0
        assert r.metrics.register_count == 16  # a 16-bit counter: 16 flops, nothing else
        assert r.metrics.ge == pytest.approx(r.metrics.area_um2 / ge_area)
        assert r.tool_versions["yosys"].startswith("0.")
        assert any(s.step == "floorplan.init" for s in r.skipped_stages)
    hist = run_cli(config, "history", "--pdk", "asap7", env=hide_tools())
    assert hist.returncode == 0 and "counter" in hist.stdout and "nangate45" not in hist.stdout
