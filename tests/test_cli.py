"""The CLI end to end: one clear line and the right exit code for each kind of failure,
no history record unless a job finished, and a real synthesis run through the pyosys bridge."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator import history
from orchestrator.record import Metrics, RunRecord, SkippedStage, StepInfo, make_run_id
from tests.conftest import FIXTURES


def run_cli(config: Path, *args: str, env: dict | None = None, timeout: float = 600,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "orchestrator", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=environ, cwd=cwd or config.parent)


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
    (["run", "--design", "countr"], "unknown design 'countr' (config.yaml has: counter) (did you mean 'counter'?)"),
    (["run", "--pdk", "nangate"], "(did you mean 'nangate45'?)"),
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


# ------------------------------------------------------------------ a terminal that fits (issue 20)


def max_width(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def partial_record(pdk: str, *, day: int = 0, design: str = "counter", key: str | None = None,
                   cached: bool = False, parameters: dict | None = None) -> RunRecord:
    """A synthesis-only record as a machine without OpenROAD writes it."""
    stamp = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)
    parameters = parameters if parameters is not None else {"WIDTH": 8}
    return RunRecord(
        run_id=make_run_id(design, pdk, parameters, stamp, salt="cached" if cached else ""), design=design,
        pdk=pdk, parameters=parameters, timestamp=stamp, status="partial", job_key=key, cached=cached,
        reason="stopped after synthesis: openroad not installed", stage_reached="synthesis",
        metrics_origin="synthesis",
        metrics=Metrics(area_um2=1286.908 + day, ge=1612.67, stdcell_count=676, register_count=220,
                        target_freq_mhz=333.333, wns_ns=-0.12, tns_ns=-11.3405, utilization_pct=44.37,
                        fmax_mhz=312.5, power_mw=1.25, voltage_v=1.1),
        steps=[StepInfo(step="synthesis", runtime_s=2.65)],
        skipped_stages=[SkippedStage(step="floorplan.init", reason="openroad not installed")])


def write_history(config: Path, records: list[RunRecord]) -> None:
    for record in records:
        history.write_record(config.parent / "reports" / "history", record)


def test_config_is_accepted_after_the_command(toy_project, tmp_path):
    config = toy_project()
    write_history(config, [partial_record("asap7")])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # no config.yaml here: only --config can find the project
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    for args in (["history", "--config", str(config)], ["--config", str(config), "history"]):
        proc = subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True,
                              cwd=elsewhere, timeout=120, env=environ)
        assert proc.returncode == 0, proc.stderr
        assert "counter" in proc.stdout


def test_every_command_and_option_has_help_text():
    from orchestrator.cli import build_parser

    parser = build_parser()
    assert "A first session:" in parser.description and "exit codes:" in parser.epilog
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {choice.dest: choice.help for choice in commands._choices_actions}
    assert set(helped) == set(commands.choices) and all(helped.values())
    for name, sub in commands.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, f"{name} {action.option_strings or action.dest}"
            assert any("--config" in a.option_strings for a in sub._actions), name


def test_top_level_help_reads_as_user_documentation():
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    for text in ("python -m orchestrator run --pdk nangate45 --to synthesis", "exit codes:", "import-orfs",
                 "--config FILE"):
        assert text in proc.stdout


def test_history_fits_100_columns_with_units_and_run_ids(toy_project):
    config = toy_project()
    records = [partial_record(pdk, day=day) for pdk in ("asap7", "nangate45") for day in range(3)]
    records.append(partial_record("nangate45", design="counter", parameters={"WIDTH": 8, "label": "a_long_label"}))
    write_history(config, records)
    proc = run_cli(config, "history", env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert max_width(proc.stdout) <= 100, proc.stdout
    for record in records:
        assert record.run_id in proc.stdout
    assert "nangate45 / counter: WIDTH=8" in proc.stdout  # the parameters head each group
    assert "[µm²]" in proc.stdout and "[kGE]" in proc.stdout and "1,286.91" in proc.stdout
    assert "NaN" not in proc.stdout and ".000000" not in proc.stdout
    wide = run_cli(config, "history", "--wide", env={"COLUMNS": "100"})
    assert wide.returncode == 0 and max_width(wide.stdout) > 100 and "hold_wns_ns" in wide.stdout
    assert run_cli(config, "history", "--all-columns").stdout == wide.stdout  # the old name still works


def test_history_marks_a_cache_hit_as_reused_not_as_a_new_run(toy_project):
    config = toy_project()
    ran = partial_record("asap7", key="k1")
    hit = partial_record("asap7", day=1, key="k1", cached=True)
    write_history(config, [ran, hit, partial_record("asap7", day=2, key="k2")])
    proc = run_cli(config, "history", env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if hit.run_id in line]
    assert f"reused: cache hit of …{ran.run_id[-8:]}" in line
    assert "1,287.91" not in proc.stdout  # the hit repeats the run's figures; it shows none of its own
    assert "1 record marked 'reused'" in proc.stdout


@pytest.mark.parametrize("args, expected", [
    (["--design", "countr"], "--design 'countr': not a known design of the history or the config (known: counter) "
                             "(did you mean 'counter'?)"),
    (["--pdk", "nangate"], "(did you mean 'nangate45'?)"),
])
def test_history_filter_that_matches_nothing_known_is_exit_2_with_a_suggestion(toy_project, args, expected):
    config = toy_project()
    write_history(config, [partial_record("asap7")])
    proc = run_cli(config, "history", *args)
    assert proc.returncode == 2
    assert len(error_lines(proc)) == 1 and expected in error_lines(proc)[0]


def test_history_of_a_known_design_without_runs_says_so(toy_project):
    config = toy_project()
    proc = run_cli(config, "history", "--pdk", "nangate45", "--design", "counter")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "no runs of counter on nangate45 in the history yet"


def seed_cache_hits(config: Path, path: str, monkeypatch) -> list[RunRecord]:
    """A history record for every job of the project under the key `run` will compute with this
    PATH, so that `run` reuses them all (a real run that starts no job process, nor Yosys)."""
    monkeypatch.setenv("PATH", path)  # the same tools found here as in the run
    from orchestrator import cache, tools
    from orchestrator.designs import render_design
    from orchestrator.jobs import load_project, select_jobs

    project = load_project(config)
    toolchain = tools.detect_all()
    seeded = []
    for day, job in enumerate(select_jobs(project, pdks=list(project.pdks))):
        rendered = render_design(project, job.spec, job.platform, job.build_dir(project) / "inputs")
        key = cache.job_key(cache.key_components(project, job, rendered, toolchain, None))
        seeded.append(partial_record(job.platform.name, day=day, key=key, parameters=job.record_parameters))
    write_history(config, seeded)
    return seeded


def test_run_table_fits_the_terminal_with_run_ids_and_ends_with_the_next_command(toy_project, hide_tools,
                                                                                 monkeypatch):
    config = toy_project()
    env = hide_tools()
    seed_cache_hits(config, env["PATH"], monkeypatch)
    proc = run_cli(config, "run", env={**env, "COLUMNS": "100"})
    assert "0 ran, 2 cached" in proc.stderr  # else the keys differ and jobs ran: the test is broken
    assert proc.returncode == 0, proc.stderr
    assert max_width(proc.stdout) <= 100, proc.stdout
    # The warnings too: the skipped tools' install hints are wrapped, one tool per item.
    assert max_width(proc.stderr) <= 100, proc.stderr
    assert "   - openroad not installed (install OpenROAD" in proc.stderr
    assert "[µm²]" in proc.stdout and "1,286.91 (syn)" in proc.stdout
    reused = [r for r in history.load_records(config.parent / "reports" / "history") if r.cached]
    assert len(reused) == 2 and all(f"  {r.run_id} (cached)" in proc.stdout for r in reused)
    assert "not shown for the terminal's width:" in proc.stdout and "--wide" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "next: python -m orchestrator report"  # run from the project
    elsewhere = run_cli(config, "run", env={**env, "COLUMNS": "100"}, cwd=config.parent.parent)
    assert elsewhere.stdout.rstrip().splitlines()[-1] == (f"next: python -m orchestrator --config "
                                                          f"{config.parent.name}/config.yaml report")
    wide = run_cli(config, "run", "--wide", env={**env, "COLUMNS": "100"})
    assert wide.returncode == 0 and "hold WNS" in wide.stdout and "not shown" not in wide.stdout


def test_reports_summary_fits_the_terminal(toy_project):
    config = toy_project()
    proc = run_cli(config, "report", env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    # The paths are the user's (a temporary folder here can be longer than 100 characters alone).
    counts = [line for line in proc.stdout.splitlines() if not line.startswith(("site: ", "tables: "))]
    assert counts and "pages" in counts[0] and max(map(len, counts)) <= 100, proc.stdout
