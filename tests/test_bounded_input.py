"""Bounded input, with real processes: a YAML alias bomb, a huge value, a huge sweep or a
non-decimal number is refused in one line, exit 2, before any job starts, in bounded time and
memory; and an interrupted run's summary stays short however many jobs it had.

Each command runs as a child of a small wrapper that reports the child's wall time and peak RSS
(``getrusage(RUSAGE_CHILDREN)``) and caps its address space, so code that expands a bomb fails
here with a MemoryError instead of taking the machine's memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.jobs import Job
from orchestrator.progress import format_run_summary
from orchestrator.runner import JobOutcome
from tests.conftest import FIXTURES, REPO_ROOT, write_project

# The refusals below measure 0.5-1.5 s and 60-90 MiB; the limits leave room for a busy machine.
MAX_SECONDS = 20.0
MAX_PEAK_MIB = 400.0
ADDRESS_SPACE_CAP = 3 * 1024**3  # the old code reached 1-3 GB on these inputs before it hung

MEASURE = textwrap.dedent('''\
    import json, resource, subprocess, sys, time
    cap = int(sys.argv[1])
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    began = time.monotonic()
    try:
        proc = subprocess.run(sys.argv[2:], capture_output=True, text=True, preexec_fn=limit, timeout=120)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = "timeout", "", str(exc)
    seconds = time.monotonic() - began
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rc": rc, "stdout": out, "stderr": err, "seconds": seconds, "peak_mib": peak_mib}))
''')

# "Billion laughs": 9 levels of ten aliases each, 10^9 strings once expanded, 1 kB as text.
BOMB = "\n".join(['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'] + [
    f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]" for level in range(1, 9)])
BOMB_FLOW = "[" + ", ".join(f"*a{level}" for level in [8] * 10) + "]"  # the last level, as a flow value


def measured_cli(config: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "designs"), str(FIXTURES),
                                                        os.environ.get("PYTHONPATH", "")])}
    env.pop("HALUT_PDK_ROOT", None)
    wrapper = config.parent / "measure.py"
    wrapper.write_text(MEASURE)
    proc = subprocess.run([sys.executable, str(wrapper), str(ADDRESS_SPACE_CAP), sys.executable, "-m",
                           "orchestrator", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=config.parent, timeout=300)
    result = json.loads(proc.stdout)
    print(f"{' '.join(args[:1])}: {result['seconds']:.2f} s, peak {result['peak_mib']:.0f} MiB")
    return result


def error_lines(result: dict) -> list[str]:
    return [line for line in result["stderr"].splitlines() if line.startswith("error:")]


def assert_refused(result: dict, *expected: str) -> str:
    """Exit 2 with one error line holding ``expected``, no traceback, in bounded time and memory."""
    assert result["rc"] == 2, result["stderr"][-2000:]
    lines = error_lines(result)
    assert len(lines) == 1 and "Traceback" not in result["stderr"], result["stderr"][-2000:]
    for text in expected:
        assert text in lines[0], lines[0]
    assert len(lines[0]) < 1200, f"an unbounded message: {len(lines[0])} characters"
    assert result["seconds"] < MAX_SECONDS and result["peak_mib"] < MAX_PEAK_MIB, result
    return lines[0]


def toy_config(tmp_path: Path, extra: str = "", entry: str = "{name: counter, generator: toygen}") -> Path:
    return write_project(tmp_path, f"pdks: [asap7]\ndesigns: [{entry}]\n{extra}")


def no_job_started(root: Path) -> bool:
    return not list(root.rglob("orchestrator-request.json")) and not (root / "reports" / "history").exists()


# ------------------------------------------------------------------------------ YAML alias bombs


def test_an_alias_bomb_in_a_config_value_is_refused_in_one_line_before_any_job(tmp_path):
    config = toy_config(tmp_path, f"{BOMB}\nflow: {{to: *a8}}\n")
    result = measured_cli(config, "run", "--to", "synthesis")
    assert_refused(result, f"{config}: invalid YAML", "alias bomb")
    assert no_job_started(tmp_path)


def test_an_alias_bomb_in_a_platform_file_is_refused_naming_it(tmp_path):
    config = toy_config(tmp_path)
    platform = tmp_path / "platforms" / "asap7.yaml"
    platform.write_text(f"{BOMB}\n" + platform.read_text(encoding="utf-8").replace(
        "description:", "description: *a8\nx_description:", 1), encoding="utf-8")
    result = measured_cli(config, "run", "--to", "synthesis")
    assert_refused(result, f"{platform}: invalid YAML", "alias bomb")
    assert no_job_started(tmp_path)


@pytest.mark.parametrize("where", ["schema_version: *a8", "rules: {area_um2: {rel_tol_pct: *a8}}"])
def test_an_alias_bomb_in_the_baseline_is_refused_naming_it(tmp_path, where):
    config = toy_config(tmp_path)
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(f"{BOMB}\n{where}\nbaseline: {{}}\n", encoding="utf-8")
    result = measured_cli(config, "check", "--baseline", str(baseline))
    assert_refused(result, f"{baseline}: invalid YAML", "alias bomb")


def test_an_alias_bomb_in_a_param_value_is_refused_naming_the_key(tmp_path):
    config = toy_config(tmp_path, entry="{name: halut_encoder}")
    bomb = "{" + BOMB.replace("\n", ", ") + f", x: {BOMB_FLOW}" + "}"
    result = measured_cli(config, "run", "--to", "synthesis", "--param", f"C={bomb}")
    assert_refused(result, "--param C: invalid YAML value", "alias bomb")
    assert no_job_started(tmp_path)


def test_a_recursive_alias_and_absurd_nesting_are_refused_in_one_line(tmp_path):
    config = toy_config(tmp_path, "flow: {to: &loop [*loop]}\n")
    assert_refused(measured_cli(config, "run"), "recursive")
    config.write_text(config.read_text().replace("flow: {to: &loop [*loop]}", "deep: " + "[" * 50_000 + "]" * 50_000))
    assert_refused(measured_cli(config, "run"), "nested deeper than")


# ------------------------------------------------------------------------------ huge values


def test_a_huge_invalid_config_value_is_cut_in_the_message(tmp_path):
    config = toy_config(tmp_path, "flow: {jobs: " + "9" * 1000 + "x" * 200_000 + "}\n")
    line = assert_refused(measured_cli(config, "run"), f"{config}: key 'flow.jobs'", "characters)")
    assert "9" * 50 in line  # enough of the value to recognise it


def test_a_huge_halut_parameter_value_is_cut_in_the_message(tmp_path):
    config = toy_config(tmp_path, entry="{name: halut_encoder, parameters: {C: [" + ", ".join(["32"] * 50_000) + "]}}")
    assert_refused(measured_cli(config, "run"), "parameter 'C': must be an integer (value: [32, 32,")


def test_a_huge_unknown_metric_name_in_the_baseline_is_cut_in_the_message(tmp_path):
    config = toy_config(tmp_path)
    baseline = tmp_path / "baseline.yaml"
    # A plain key is at most 1024 characters in YAML; a "? " key is not.
    baseline.write_text("schema_version: 1\nrules:\n  ? " + "m" * 100_000 + "\n  : {rel_tol_pct: 1}\nbaseline: {}\n")
    assert_refused(measured_cli(config, "check", "--baseline", str(baseline)), "unknown metric", "characters)")


def test_clip_bounds_the_work_as_well_as_the_text():
    from orchestrator.errors import CLIP_CHARS, clip

    shared = ["lol"] * 10
    for _ in range(8):
        shared = [shared] * 10  # 10^9 strings if walked: repr() would never return
    assert len(clip(shared)) < CLIP_CHARS + 20
    assert clip("x" * 10_000).endswith("(10000 characters)") and clip("asap7") == "'asap7'"


# ------------------------------------------------------------------------------ --param numbers


@pytest.mark.parametrize("value", ["0x10", "010", "0b10000", "1:20", "1_6", ".inf"])
def test_a_non_decimal_number_in_param_is_refused_naming_key_and_value(tmp_path, value):
    config = toy_config(tmp_path, entry="{name: halut_encoder}")
    result = measured_cli(config, "run", "--param", f"C={value}")
    assert error_lines(result) == [f"error: --param C: {value} is not a decimal number (value: '{value}')"]
    assert result["rc"] == 2 and no_job_started(tmp_path)


def test_decimal_numbers_in_param_still_parse():
    from orchestrator.cli import _parse_param

    assert [_parse_param(text) for text in ("C=16", "T=-0.5", "X=1.5e+3", "D=int8")] == [
        ("C", 16), ("T", -0.5), ("X", 1500.0), ("D", "int8")]


# ------------------------------------------------------------------------------ sweeps


def test_a_sweep_beyond_the_point_limit_is_refused_with_its_count_before_any_job(tmp_path):
    # 786 432 x 1 000 points (12 x 16^4 x 10^3) from 106 values: expanding it died of MemoryError.
    axes = {"A": 12, "B": 16, "C": 16, "D": 16, "E": 16, "F": 10, "G": 10, "H": 10}
    grid = ", ".join(f"{name}: [{', '.join(str(v) for v in range(count))}]" for name, count in axes.items())
    sweep = f"{{name: huge, design: counter, generator: toygen, grid: {{{grid}}}}}"
    config = toy_config(tmp_path, f"sweeps:\n  - {sweep}\n")
    line = assert_refused(measured_cli(config, "run"), "key 'sweeps[0]'", "sweep 'huge' expands to 786432000 jobs",
                          "flow.max_sweep_points (1000)")
    assert line.startswith(f"error: {config}:") and no_job_started(tmp_path)


def test_the_sweep_point_limit_is_a_setting_and_counts_periods_and_pdks(tmp_path):
    config = write_project(tmp_path, """\
        pdks: [asap7, nangate45]
        designs: [{name: counter, generator: toygen}]
        flow: {max_sweep_points: 11}
        sweeps:
          - {name: s, design: counter, generator: toygen, grid: {WIDTH: [4, 8, 16]},
             clock_period: {asap7: [1000, 1500, 2000]}}
        """)
    # 3 points x (3 asap7 periods + 1 nangate45 default period) = 12 jobs
    assert_refused(measured_cli(config, "run"), "sweep 's' expands to 12 jobs, more than flow.max_sweep_points (11)")
    config.write_text(config.read_text().replace("max_sweep_points: 11", "max_sweep_points: 12"))
    from orchestrator.jobs import load_project, select_jobs

    project = load_project(config)
    assert len(select_jobs(project, pdks=["asap7", "nangate45"], include_matrix=False, sweeps=["s"])) == 12


# ------------------------------------------------------------------------------ interrupted summary


def test_an_interrupted_summary_names_a_few_jobs_and_counts_the_rest():
    from orchestrator.config import DesignSpec, load_platform
    from orchestrator.progress import SUMMARY_NAMES

    platform = load_platform(REPO_ROOT / "platforms" / "asap7.yaml")

    outcomes = [JobOutcome(Job(spec=DesignSpec(name="counter", label=f"sweep.W={i}"), platform=platform,
                               parameters={}), interrupted=True, error="not started (interrupted)")
                for i in range(10_000)]
    summary = format_run_summary(outcomes, 1.0, interrupted=True)
    line = next(line for line in summary.splitlines() if "not started:" in line)
    assert line.endswith(f"and {10_000 - SUMMARY_NAMES} more") and len(line) < 600
    assert "counter-sweep.W=0-asap7" in line and "W=9999" not in line


def test_the_summary_counts_what_reached_the_history_not_what_the_jobs_found():
    # Probed for real with the history on a full tmpfs: both jobs passed, neither record was
    # written, and the summary said "2 ran, ... 0 without a record".
    from orchestrator.config import DesignSpec, load_platform
    from orchestrator.record import RunRecord

    platform = load_platform(REPO_ROOT / "platforms" / "nangate45.yaml")

    def outcome(label: str, **fields) -> JobOutcome:
        job = Job(spec=DesignSpec(name="counter", label=label), platform=platform, parameters={})
        record = RunRecord(run_id=f"20260101T000000000000Z-counter-{label}-nangate45-00000000", design="counter",
                           pdk="nangate45", timestamp=datetime(2026, 1, 1, tzinfo=UTC), status="pass")
        return JobOutcome(job, record=record, started=True, **fields)

    outcomes = [outcome("a", history_error="[Errno 28] No space left on device"),
                outcome("b", cached=True, history_error="[Errno 28] No space left on device"),
                outcome("c"), outcome("d", cached=True)]
    summary = format_run_summary(outcomes, 1.0)
    assert summary.startswith("run finished after 1.0 s: 1 ran, 1 cached (reused record), 2 without a record")
