"""Parallel jobs: at most --jobs processes at once, each job's step in the progress, Ctrl-C stops
running jobs with their tools, keeps what finished and records nothing for the rest.

Most tests replace the job process (``run_jobs(child_command=...)``) with a small script that
prints SC-style step lines and sleeps, so they test the scheduling, not SiliconCompiler; the last
one interrupts a real synthesis run through the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator import history, runner
from orchestrator.jobs import load_project, select_jobs
from orchestrator.tools import Toolchain
from tests.conftest import FIXTURES, as_foreground_job, write_project
from tests.test_cli import history_files

FAKE_JOB = textwrap.dedent('''\
    """Stands in for `python -m orchestrator.job_process`: SC-like step lines, a 'tool', a result file."""
    import json, os, subprocess, sys, time
    from datetime import datetime, timezone
    from orchestrator.record import RunRecord

    if sys.argv[-1] == "--stdin":  # started ahead of its job: the request path comes on stdin
        request = json.load(open(sys.stdin.readline().strip()))
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
    else:
        request = json.load(open(sys.argv[-1]))
    label = request["spec"]["label"]
    events = os.environ["FAKE_EVENTS"]
    fast = label in os.environ.get("FAKE_FAST", "").split(",")
    def event(what):
        with open(events, "a") as f:
            f.write(json.dumps([label, what, time.time()]) + "\\n")
    event("start")
    if label in os.environ.get("FAKE_CRASH", "").split(","):
        print("ERROR: fake crash", flush=True)
        sys.exit(1)
    for step in ("elaborate", "synthesis"):
        print(f"| INFO     | job0 | {step} | 0 | running", flush=True)
        if step == "synthesis" and not fast and os.environ.get("FAKE_TOOL"):
            tool = subprocess.Popen(["sleep", "120"])
            event(f"tool {tool.pid}")
        time.sleep(0.05 if fast or step == "elaborate" else float(os.environ.get("FAKE_STEP_S", "0.4")))
    record = RunRecord(run_id=f"run-{label}-{time.time_ns()}", design=request["spec"]["name"], pdk=request["pdk"],
                       parameters={"label": label}, timestamp=datetime.now(timezone.utc), status="pass",
                       job_key=request["job_key"])
    with open(request["result"], "w") as f:
        json.dump({"record": record.to_json_dict(), "error": None, "timings": {"tool": 0.1}}, f)
    event("end")
''')


@pytest.fixture
def fake_jobs(tmp_path, monkeypatch):
    """Factory: (config, jobs, child command, events file) for toy jobs labelled ``labels`` on nangate45."""
    script = tmp_path / "fake_job.py"
    script.write_text(FAKE_JOB)
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("FAKE_EVENTS", str(events))
    monkeypatch.delenv("HALUT_PDK_ROOT", raising=False)

    def make(*labels: str):
        entries = "".join(f"  - {{name: counter, generator: toygen, label: {label}}}\n" for label in labels)
        config_path = write_project(tmp_path / "project", f"pdks: [nangate45]\ndesigns:\n{entries}")
        config = load_project(config_path)
        jobs = select_jobs(config, pdks=["nangate45"])
        return config, jobs, [sys.executable, str(script)], events

    return make


def read_events(path: Path) -> list[tuple[str, str, float]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []


def max_overlap(events) -> int:
    level, peak = 0, 0
    for _, what, _ in sorted((e for e in events if e[1] in ("start", "end")), key=lambda e: (e[2], e[1] == "start")):
        level += 1 if what == "start" else -1
        peak = max(peak, level)
    return peak


def run(config, jobs, command, **kwargs):
    return runner.run_jobs(config, jobs, Toolchain({}), child_command=command,
                           refresh_s=0.05, **kwargs)


def test_no_more_than_max_parallel_jobs_run_at_once(fake_jobs):
    config, jobs, command, events = fake_jobs("a", "b", "c", "d")
    outcomes = run(config, jobs, command, max_parallel=2)
    assert [o.record.parameters["label"] for o in outcomes] == ["a", "b", "c", "d"]  # caller's order
    assert all(o.started and not o.cached for o in outcomes)
    assert max_overlap(read_events(events)) == 2


@pytest.mark.parametrize("prestart", [True, False])
def test_one_job_at_a_time_when_max_parallel_is_one(fake_jobs, prestart):
    config, jobs, command, events = fake_jobs("a", "b", "c")
    outcomes = run(config, jobs, command, max_parallel=1, prestart=prestart)
    assert max_overlap(read_events(events)) == 1
    assert all(o.record is not None for o in outcomes)
    assert all("synthesis" in o.log_path.read_text() for o in outcomes)  # each job's output in its log


def test_progress_shows_each_running_jobs_current_step(fake_jobs):
    config, jobs, command, _ = fake_jobs("a", "b")
    seen: set[tuple[str, str]] = set()

    def on_progress(progress):
        seen.update((name, step) for name, (step, elapsed) in progress.running.items())

    run(config, jobs, command, max_parallel=2, on_progress=on_progress)
    assert {("counter-a-nangate45", "synthesis"), ("counter-b-nangate45", "synthesis")} <= seen
    assert ("counter-a-nangate45", "elaborate") in seen


def test_job_process_dying_without_a_result_is_an_error_naming_its_log(fake_jobs, monkeypatch):
    config, jobs, command, _ = fake_jobs("a", "b")
    monkeypatch.setenv("FAKE_CRASH", "a")
    first, second = run(config, jobs, command, max_parallel=2)
    assert first.record is None and "job process exited with code 1" in first.error
    assert str(first.log_path) in first.error and "fake crash" in first.error
    assert second.record is not None


def test_unchanged_jobs_reuse_their_record_without_starting_a_process(fake_jobs):
    config, jobs, command, events = fake_jobs("a", "b")
    for outcome in run(config, jobs, command, max_parallel=2):
        history.write_record(config.path("history_dir"), outcome.record)
    starts = len(read_events(events))
    again = run(config, jobs, command, max_parallel=2)
    assert len(read_events(events)) == starts  # no job process ran
    assert all(o.cached and o.record.cached and not o.started for o in again)
    forced = run(config, jobs, command, max_parallel=2, force=True)
    assert not any(o.cached for o in forced) and all(o.rerun_reason == "--force" for o in forced)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def test_ctrl_c_stops_running_jobs_and_their_tools_and_keeps_finished_ones(fake_jobs, monkeypatch):
    config, jobs, command, events = fake_jobs("fast", "slow", "next", "waiting")
    monkeypatch.setenv("FAKE_FAST", "fast")
    monkeypatch.setenv("FAKE_TOOL", "1")
    monkeypatch.setenv("FAKE_STEP_S", "120")

    def on_progress(progress):
        tools = [e for e in read_events(events) if e[1].startswith("tool")]
        if len(progress.done) == 1 and tools:
            raise KeyboardInterrupt

    began = time.monotonic()
    with pytest.raises(runner.Interrupted) as info:
        run(config, jobs, command, max_parallel=2, on_progress=on_progress)
    assert time.monotonic() - began < 30
    fast, slow, following, waiting = info.value.outcomes  # "next" took the slot "fast" freed
    assert fast.record is not None and not fast.interrupted
    assert slow.interrupted and slow.started and slow.record is None and slow.step == "synthesis"
    assert following.interrupted and following.started and following.record is None
    assert waiting.interrupted and not waiting.started
    tool_pids = [int(e[1].split()[1]) for e in read_events(events) if e[1].startswith("tool")]
    assert tool_pids and not any(alive(pid) for pid in tool_pids)


def test_default_parallel_jobs_is_the_cores_this_process_may_use():
    assert runner.default_parallel_jobs() == len(os.sched_getaffinity(0))


@pytest.mark.slow
def test_ctrl_c_on_a_real_run_exits_130_with_a_summary_and_no_record(tmp_path, pdk_data_root):
    config = write_project(tmp_path, textwrap.dedent(f"""\
        pdk_data_root: {pdk_data_root}
        pdks: [asap7]
        designs:
          - {{name: counter, generator: toygen, parameters: {{WIDTH: 64}}}}
        """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "--config", str(config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            preexec_fn=as_foreground_job)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "counter-asap7: synthesis" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(lines) + rest
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "stopped, no record:    counter-asap7 (in synthesis" in stderr
    assert history_files(config) == []
    assert processes_running_in(tmp_path) == []


def processes_running_in(directory: Path) -> list[int]:
    """Live processes whose working directory is ``directory`` (job processes run in the project)."""
    found = []
    for proc_dir in Path("/proc").iterdir():
        try:
            if proc_dir.name.isdigit() and os.readlink(proc_dir / "cwd") == str(directory):
                found.append(int(proc_dir.name))
        except OSError:
            continue
    return [pid for pid in found if alive(pid)]
