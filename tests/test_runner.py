"""The run loop's parts, one at a time, without SiliconCompiler: the order jobs start in, a slot
per job, the bookkeeping of each outcome, reading a job process's result, and what Ctrl-C leaves.
Job processes here are tiny Python or ``sleep`` processes (``tests/test_parallel.py`` runs whole
runs with a stand-in job process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from orchestrator import history, runner
from orchestrator.fsutil import DirectoryLock
from orchestrator.job_process import JobResult
from orchestrator.jobs import load_project, select_jobs
from orchestrator.record import RunRecord
from orchestrator.tools import Toolchain
from tests.conftest import write_project


@pytest.fixture
def make_loop(tmp_path, monkeypatch):
    """Factory: a RunLoop over toy counter jobs labelled ``labels`` on nangate45 (no spare process)."""
    monkeypatch.delenv("HALUT_PDK_ROOT", raising=False)

    def make(*labels: str, **options):
        entries = "".join(f"  - {{name: counter, generator: toygen, label: {label}}}\n" for label in labels)
        config = load_project(write_project(tmp_path / "project", f"pdks: [nangate45]\ndesigns:\n{entries}"))
        jobs = select_jobs(config, pdks=["nangate45"])
        options = {"max_parallel": 2, "prestart": False, "refresh_s": 0.05, **options}
        return runner.RunLoop(config, jobs, Toolchain({}), **options)

    return make


def record_of(label: str) -> RunRecord:
    return RunRecord(run_id=f"run-{label}", design="counter", pdk="nangate45", parameters={"label": label},
                     timestamp=datetime(2026, 12, 7, tzinfo=UTC), status="pass")


def running_item(loop, position: int, argv: list[str], tmp_path) -> runner._Running:
    """A job process of the loop's job at ``position``: ``argv`` in its own process group."""
    job = loop.pending[[p for p, _ in loop.pending].index(position)][1]
    log_path, result_path = tmp_path / f"job{position}.log", tmp_path / f"result{position}.json"
    log_path.write_text("| INFO     | job0 | synthesis | 0 | running\n")
    proc = subprocess.Popen(argv, start_new_session=True)
    now = time.monotonic()
    item = runner._Running(position, job, proc, log_path, result_path, started=now - 2.0, prepare_s=0.5,
                           launched=now - 1.5, rerun_reason="first run")
    loop.running.append(item)
    loop.pending = [entry for entry in loop.pending if entry[0] != position]
    return item


class _Runtimes:
    def __init__(self, runtimes: dict[str, float]):
        self.runtimes = runtimes

    def expected_runtime_s(self, job):
        return self.runtimes.get(job)


def test_jobs_never_run_before_start_first_in_config_order_then_the_longest_known():
    jobs = ["short", "new1", "long", "medium", "new2", "tie"]
    runtimes = _Runtimes({"short": 10.0, "long": 300.0, "medium": 60.0, "tie": 60.0})
    order = [job for _, job in runner._longest_first(jobs, runtimes)]
    assert order == ["new1", "new2", "long", "medium", "tie", "short"]  # equal runtimes: config order
    assert [position for position, _ in runner._longest_first(jobs, runtimes)] == [1, 4, 2, 3, 5, 0]


def test_a_fresh_loop_queues_every_job_with_its_position(make_loop):
    loop = make_loop("a", "b", "c")
    assert [(position, job.name) for position, job in loop.pending] == [
        (0, "counter-a-nangate45"), (1, "counter-b-nangate45"), (2, "counter-c-nangate45")]
    assert loop.progress.queued == 3 and loop.running == [] and loop.outcomes == {}


def test_start_what_fits_fills_the_free_slots_and_puts_blocked_jobs_back_in_front_in_order(make_loop):
    loop = make_loop("a", "b", "c", "d", "e", max_parallel=2)
    tried = []

    def launch(position, job):
        tried.append(position)
        if position in (1, 3):
            return False  # its build directory is locked by another run
        loop.running.append(position)  # stands in for a started job process
        return True

    loop.launch = launch
    blocked = loop.start_what_fits()
    assert tried == [0, 1, 2]  # two slots: stops once two jobs run
    assert [position for position, _ in blocked] == [1]
    assert [position for position, _ in loop.pending] == [1, 3, 4]


def test_done_stores_the_record_in_the_history_at_once_and_keeps_the_outcome_by_position(make_loop):
    loop = make_loop("a", "b")
    second, first = loop.pending[1][1], loop.pending[0][1]
    loop.done(1, runner.JobOutcome(second, record=record_of("b")))
    loop.done(0, runner.JobOutcome(first, error="render failed"))
    stored = history.record_path(loop.history_dir, record_of("b"))
    assert stored.is_file() and loop.outcomes[1].history_path == stored
    assert loop.outcomes[0].history_path is None and loop.outcomes[0].error == "render failed"
    assert loop.progress.done == [loop.outcomes[1], loop.outcomes[0]]  # in the order they ended
    assert [o.job.name for o in loop.ordered()] == ["counter-a-nangate45", "counter-b-nangate45"]  # caller's order


def test_done_keeps_an_outcome_whose_record_cannot_be_stored_and_says_why(make_loop, monkeypatch):
    loop = make_loop("a")

    def refuse(history_dir, record):
        raise OSError("disk full")

    monkeypatch.setattr(runner.history_mod, "write_record", refuse)
    loop.done(0, runner.JobOutcome(loop.pending[0][1], record=record_of("a")))
    outcome = loop.outcomes[0]
    assert outcome.record is not None and outcome.history_error == "disk full" and outcome.history_path is None


def test_a_job_whose_build_directory_another_run_holds_waits_and_is_announced_once(make_loop):
    messages = []
    loop = make_loop("a", on_message=messages.append)
    position, job = loop.pending[0]
    holder = DirectoryLock(job.build_dir(loop.config), owner="pid 4242 (another run)")
    try:
        assert loop.launch(position, job) is False
        assert loop.launch(position, job) is False
    finally:
        holder.release()
    assert position in loop.waited and loop.outcomes == {} and loop.running == []
    assert len(messages) == 1 and "waiting" in messages[0] and "pid 4242 (another run)" in messages[0]


def test_finish_takes_record_error_and_timings_from_the_job_result(make_loop, tmp_path):
    loop = make_loop("a")
    item = running_item(loop, 0, [sys.executable, "-c", "pass"], tmp_path)
    JobResult(record=record_of("a"), timings={"tool": 0.25, "sc_run": 1.0}).write(item.result_path)
    item.proc.wait()
    outcome = loop.finish(item)
    assert loop.running == [] and outcome.started and outcome.error is None
    assert outcome.record == record_of("a") and outcome.rerun_reason == "first run"
    assert outcome.timings["tool"] == 0.25 and outcome.timings["sc_run"] == 1.0
    assert outcome.timings["prepare"] == 0.5 and outcome.timings["process"] >= 1.5
    assert outcome.timings["ended_at"] - outcome.timings["began_at"] == pytest.approx(outcome.elapsed_s)
    assert outcome.elapsed_s >= 2.0


def test_finish_without_a_result_file_is_an_error_naming_the_exit_code_and_the_log(make_loop, tmp_path):
    loop = make_loop("a")
    item = running_item(loop, 0, [sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    item.proc.wait()
    outcome = loop.finish(item)
    assert outcome.record is None
    assert outcome.error.startswith(f"job process exited with code 3 (log: {item.log_path})")


def test_finish_with_a_malformed_result_is_a_one_line_error_not_a_crash(make_loop, tmp_path):
    loop = make_loop("a")
    item = running_item(loop, 0, [sys.executable, "-c", "pass"], tmp_path)
    item.result_path.write_text(json.dumps({"record": None, "error": "x", "timings": {"tool": "fast"}}))
    item.proc.wait()
    outcome = loop.finish(item)
    assert outcome.record is None and "\n" not in outcome.error
    assert f"{item.result_path}: invalid job result: key 'timings.tool'" in outcome.error
    assert "exit code 0" in outcome.error and str(item.log_path) in outcome.error


def test_interruption_stops_running_jobs_keeps_finished_ones_and_lists_every_job(make_loop, tmp_path):
    loop = make_loop("finished", "stopped", "waiting")
    finished = running_item(loop, 0, [sys.executable, "-c", "pass"], tmp_path)
    JobResult(record=record_of("finished")).write(finished.result_path)
    finished.proc.wait()
    stopped = running_item(loop, 1, ["sleep", "60"], tmp_path)
    runner._update_step(stopped)
    began = time.monotonic()
    outcomes = loop.interrupted()
    assert time.monotonic() - began < runner.TERMINATE_GRACE_S  # sleep ends on SIGTERM
    assert stopped.proc.returncode is not None and loop.running == []
    first, second, third = outcomes
    assert first.record == record_of("finished") and not first.interrupted and first.history_path is not None
    assert second.interrupted and second.started and second.record is None and second.step == "synthesis"
    assert second.error == "interrupted" and second.rerun_reason == "first run"
    assert third.interrupted and not third.started and third.error == "not started (interrupted)"


def test_a_job_stopped_just_as_its_flow_ended_keeps_its_record(make_loop, tmp_path):
    loop = make_loop("a")
    # Still running when stopped, but its result (with a record) is already on disk.
    item = running_item(loop, 0, ["sleep", "60"], tmp_path)
    JobResult(record=record_of("a")).write(item.result_path)
    (outcome,) = loop.interrupted()
    assert outcome.record == record_of("a") and not outcome.interrupted and outcome.error is None


def test_ctrl_c_raises_interrupted_carrying_every_jobs_outcome_in_the_callers_order(make_loop):
    def ctrl_c(progress):
        raise KeyboardInterrupt

    loop = make_loop("a", "b", max_parallel=0, on_progress=ctrl_c)  # nothing starts before the first report
    with pytest.raises(runner.Interrupted) as info:
        loop.run()
    assert [o.job.name for o in info.value.outcomes] == ["counter-a-nangate45", "counter-b-nangate45"]
    assert all(o.interrupted and not o.started for o in info.value.outcomes)


def test_report_gives_each_running_job_its_step_from_its_log_and_the_queue_length(make_loop, tmp_path):
    seen = []
    loop = make_loop("a", "b", on_progress=lambda progress: seen.append(dict(progress.running)))
    item = running_item(loop, 0, ["sleep", "60"], tmp_path)
    try:
        loop.report()
    finally:
        runner._signal_group(item.proc.pid, runner.signal.SIGKILL)
        item.proc.wait()
    (running,) = seen
    step, elapsed = running["counter-a-nangate45"]
    assert step == "synthesis" and elapsed >= 2.0 and loop.progress.queued == 1
