"""Fault injection with real processes: nothing finished is lost, nothing escapes its folder.

Each test does to the orchestrator what a faulty machine, an impatient user or a hostile archive
would: ``kill -9`` of the parent mid-matrix, two runs of one job at once, traversal names in the
config and in an imported ORFS folder, a script and a symlink in an imported folder, a FIFO in the
history, undecodable bytes, an unwritable history folder. Most use a stand-in job process (a small
script speaking the runner's protocol, so they take seconds); the kill -9 test is repeated on a
real synthesis run.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from datetime import UTC
from pathlib import Path

import pytest

from orchestrator import fsutil, history, runner
from orchestrator.config import load_platforms
from orchestrator.orfs_import import import_orfs
from orchestrator.report import ArtifactRoots
from orchestrator.report.site import CONTENT_SECURITY_POLICY, build_site
from tests.conftest import FIXTURES, REPO_ROOT, as_foreground_job, write_project
from tests.test_cli import history_files
from tests.test_orfs_import import metadata_2023, metrics_2022, write_2022_run, write_2023_run
from tests.test_parallel import alive, processes_running_in

# A job process: dies with its parent like the real one (job_process.die_with_parent), and, for the
# labels in FAKE_SLOW, starts a "tool" and runs for two minutes.
FAKE_CHILD = textwrap.dedent('''\
    import json, os, subprocess, sys, time
    from datetime import datetime, timezone
    from orchestrator import job_process
    from orchestrator.record import RunRecord

    job_process.die_with_parent(int(os.environ[job_process.PARENT_PID_ENV]))
    if sys.argv[-1] == "--stdin":
        request = json.load(open(sys.stdin.readline().strip()))
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
    else:
        request = json.load(open(sys.argv[-1]))
    label = request["spec"]["label"]
    def event(*what):
        with open(os.environ["FAKE_EVENTS"], "a") as f:
            f.write(json.dumps([label, *what]) + "\\n")
    event("start", os.getpid())
    sc = os.path.join(os.path.dirname(request["result"]), "sc")
    os.makedirs(sc, exist_ok=True)
    open(os.path.join(sc, f"marker-{os.getpid()}"), "w").close()
    if label in os.environ.get("FAKE_SLOW", "").split(","):
        if os.environ.get("FAKE_IGNORE_TERM"):  # a job whose tools take their time to stop
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        tool = subprocess.Popen(["sleep", "120"])
        event("tool", tool.pid)
        time.sleep(float(os.environ.get("FAKE_SLOW_S", "120")))
    record = RunRecord(run_id=f"run-{label}-{time.time_ns()}", design=request["spec"]["name"], pdk=request["pdk"],
                       parameters={"label": label}, timestamp=datetime.now(timezone.utc), status="pass",
                       job_key=request["job_key"])
    with open(request["result"], "w") as f:
        json.dump({"record": record.to_json_dict(), "error": None, "timings": {}}, f)
    event("end")
''')

# The orchestrator side: run_jobs on the project's matrix with FAKE_CHILD as the job process.
PARENT = textwrap.dedent('''\
    import json, sys
    from pathlib import Path
    from orchestrator import runner
    from orchestrator.jobs import load_project
    from orchestrator.jobs import select_jobs
    from orchestrator.tools import Toolchain

    config_path, child = Path(sys.argv[1]), sys.argv[2]
    config = load_project(config_path)
    jobs = select_jobs(config, pdks=["nangate45"])
    try:
        outcomes = runner.run_jobs(config, jobs, Toolchain({}), max_parallel=2,
                                   child_command=[sys.executable, child], refresh_s=0.05,
                                   on_message=lambda line: print(line, file=sys.stderr, flush=True))
    except runner.Interrupted as exc:
        outcomes = exc.outcomes
    print(json.dumps({o.job.spec.label: {"cached": o.cached, "started": o.started,
                                         "status": o.record.status if o.record else o.error} for o in outcomes}))
''')


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Factory: a toy project with one counter job per label on nangate45, and a way to start its
    orchestrator as a real process. Returns (config path, start(), events())."""
    monkeypatch.delenv("HALUT_PDK_ROOT", raising=False)
    (tmp_path / "child.py").write_text(FAKE_CHILD)
    (tmp_path / "parent.py").write_text(PARENT)
    events_file = tmp_path / "events.jsonl"

    def make(*labels: str):
        entries = "".join(f"  - {{name: counter, generator: toygen, label: {label}}}\n" for label in labels)
        config = write_project(tmp_path / "project", f"pdks: [nangate45]\ndesigns:\n{entries}")

        def start(**env_overrides) -> subprocess.Popen:
            env = {**os.environ, "FAKE_EVENTS": str(events_file), **env_overrides,
                   "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
            return subprocess.Popen([sys.executable, str(tmp_path / "parent.py"), str(config),
                                     str(tmp_path / "child.py")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, cwd=config.parent, preexec_fn=as_foreground_job)

        def events() -> list[list]:
            return [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []

        return config, start, events

    return make


def wait_for(condition, timeout_s: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def records(config: Path) -> list:
    return history.load_records(config.parent / "reports" / "history")


# ------------------------------------------------------------------------ kill -9 of the parent


def test_kill_9_of_the_parent_keeps_finished_records_ends_running_jobs_and_the_next_run_reruns_only_them(project):
    config, start, events = project("fast", "slow")
    parent = start(FAKE_SLOW="slow")
    try:
        wait_for(lambda: len(history_files(config)) == 1 and any(e[1] == "tool" for e in events()),
                 what="the fast job's record and the slow job's tool")
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
    slow_pid = next(e[2] for e in events() if e[:2] == ["slow", "start"])
    tool_pid = next(e[2] for e in events() if e[1] == "tool")
    # The orchestrator's death ends the job process and its tool (PR_SET_PDEATHSIG), at once.
    wait_for(lambda: not alive(slow_pid) and not alive(tool_pid), timeout_s=10, what="the orphaned job to end")
    assert [r.parameters["label"] for r in records(config)] == ["fast"]  # recorded as it finished

    starts_before = sum(1 for e in events() if e[1] == "start")
    again = start()
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    outcome = json.loads(out)
    assert outcome["fast"] == {"cached": True, "started": False, "status": "pass"}
    assert outcome["slow"]["started"] and not outcome["slow"]["cached"]
    assert [e[0] for e in events() if e[1] == "start"][starts_before:] == ["slow"]  # only the lost job ran


def test_a_double_ctrl_c_ends_every_job_at_once_and_keeps_the_finished_records(project):
    config, start, events = project("fast", "slow")
    parent = start(FAKE_SLOW="slow", FAKE_IGNORE_TERM="1")
    try:
        wait_for(lambda: len(history_files(config)) == 1 and any(e[1] == "tool" for e in events()),
                 what="the fast job's record and the slow job's tool")
        parent.send_signal(signal.SIGINT)
        time.sleep(0.5)  # the first Ctrl-C gives the jobs 10 s to stop; the slow one ignores SIGTERM
        began = time.monotonic()
        parent.send_signal(signal.SIGINT)
        out, _ = parent.communicate(timeout=30)
        stopped_after = time.monotonic() - began
    finally:
        if parent.poll() is None:
            parent.kill()
    assert stopped_after < runner.TERMINATE_GRACE_S / 2  # the second Ctrl-C did not wait out the grace
    outcome = json.loads(out)
    assert outcome["fast"]["status"] == "pass" and outcome["slow"]["status"] == "interrupted"
    assert [r.parameters["label"] for r in records(config)] == ["fast"]
    slow_pid = next(e[2] for e in events() if e[:2] == ["slow", "start"])
    tool_pid = next(e[2] for e in events() if e[1] == "tool")
    wait_for(lambda: not alive(slow_pid) and not alive(tool_pid), timeout_s=10, what="the slow job to end")


def test_a_job_process_whose_orchestrator_is_already_gone_ends_at_once(tmp_path):
    """The window between fork and PR_SET_PDEATHSIG: the parent pid it was given is not its parent."""
    gone = subprocess.Popen(["true"])  # an orchestrator that has already ended
    gone.wait()
    script = (f"import os; from orchestrator import job_process; job_process.die_with_parent({gone.pid}); "
              "print('survived')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30,
                          start_new_session=True)
    assert proc.returncode == -signal.SIGKILL and "survived" not in proc.stdout


@pytest.mark.slow
def test_kill_9_of_a_real_run_mid_matrix(tmp_path, pdk_data_root):
    """The same on real synthesis jobs through the CLI: one job finished, the next one in synthesis."""
    config = write_project(tmp_path, textwrap.dedent(f"""\
        pdk_data_root: {pdk_data_root}
        pdks: [asap7]
        designs:
          - {{name: counter, generator: toygen, label: small, parameters: {{WIDTH: 4}}}}
          - {{name: counter, generator: toygen, label: wide, parameters: {{WIDTH: 64}}}}
        """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    env.pop("HALUT_PDK_ROOT", None)
    command = [sys.executable, "-m", "orchestrator", "--config", str(config), "run", "--to", "synthesis", "--jobs", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "counter-wide-asap7: synthesis" in line:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any("counter-small-asap7: pass" in line for line in lines), "".join(lines)
    assert [r.parameters["label"] for r in records(config)] == ["small"]
    wait_for(lambda: processes_running_in(tmp_path) == [], timeout_s=10, what="the wide job's processes to end")

    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "counter-small-asap7: pass (cached)" in again.stderr
    assert "counter-wide-asap7: pass" in again.stderr and "counter-wide-asap7: pass (cached)" not in again.stderr


# ------------------------------------------------------------------------ one job, two runs


def test_a_second_run_of_a_running_job_waits_and_never_deletes_its_files_or_records_a_failure(project):
    config, start, events = project("shared")
    first = start(FAKE_SLOW="shared", FAKE_SLOW_S="3")
    try:
        wait_for(lambda: any(e[1] == "tool" for e in events()), what="the first run's job to start")
        build_dir = next((config.parent / "build" / "nangate45").glob("counter-shared-*"))
        markers = sorted((build_dir / "sc").iterdir())
        second = start()
        out, err = second.communicate(timeout=60)
        first_out, _ = first.communicate(timeout=60)
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()
    assert second.returncode == 0, err
    waiting = [line for line in err.splitlines() if "waiting" in line]
    assert len(waiting) == 1 and "counter-shared-nangate45" in waiting[0] and "in use by pid" in waiting[0]
    assert sorted((build_dir / "sc").iterdir()) == markers  # the first run's files are untouched
    assert json.loads(first_out)["shared"] == {"cached": False, "started": True, "status": "pass"}
    # The second run waited, then found the first run's record: it reuses it instead of running.
    assert json.loads(out)["shared"] == {"cached": True, "started": False, "status": "pass"}
    assert [e[0] for e in events() if e[1] == "start"] == ["shared"]
    assert sorted((r.status, r.cached) for r in records(config)) == [("pass", False), ("pass", True)]


def test_the_build_directory_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import sys, time
        from orchestrator.fsutil import DirectoryLock
        lock = DirectoryLock({str(tmp_path)!r}, "pid 4242 (holder)")
        print("locked", flush=True)
        time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(fsutil.LockBusy) as busy:
            fsutil.DirectoryLock(tmp_path, "me")
        assert busy.value.owner == "pid 4242 (holder)"
    finally:
        holder.kill()
        holder.wait()
    with fsutil.DirectoryLock(tmp_path, "me"):  # kill -9 of the holder released it: no stale lock
        pass


# ------------------------------------------------------------------------ names and bad input


def run_cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    env.pop("HALUT_PDK_ROOT", None)
    return subprocess.run([sys.executable, "-m", "orchestrator", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=config.parent, timeout=timeout)


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("entry, expected", [
    ("{name: counter, generator: toygen, label: ../../../../escaped}",
     "key 'designs[0].label': label: not a safe name"),
    ("{name: ../escaped, generator: toygen}", "key 'designs[0].name': design name: not a safe name"),
    ("{name: counter, generator: toygen, clock_period: {asap7: .nan}}",
     "key 'designs[0].clock_period.asap7': Input should be a finite number (value: nan)"),
    ("{name: counter, generator: toygen, clock_period: {asap7: .inf}}",
     "key 'designs[0].clock_period.asap7': Input should be a finite number (value: inf)"),
])
def test_bad_names_and_periods_in_the_config_exit_2_before_anything_is_created(tmp_path, entry, expected):
    config = write_project(tmp_path / "p", f"pdks: [asap7]\ndesigns:\n  - {entry}\n")
    proc = run_cli(config, "run")
    assert proc.returncode == 2 and len(error_lines(proc)) == 1 and expected in proc.stderr, proc.stderr
    assert not (tmp_path / "p" / "build").exists() and not (tmp_path / "p" / "reports").exists()
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


@pytest.mark.parametrize("body, expected", [
    ("pdks: [asap7, nangate45, asap7]\ndesigns: [{name: counter, generator: toygen}]\n",
     "keys 'pdks[0]' and 'pdks[2]': PDK listed twice (value: 'asap7')"),
    ("pdks: [asap7]\ndesigns:\n  - {name: counter, generator: toygen, label: ''}\n"
     "  - {name: counter, generator: toygen}\n",
     "keys 'designs[0]' and 'designs[1]': the same job (design 'counter', no label)"),
    ("pdks: [asap7]\ndesigns:\n  - {name: counter, generator: toygen, label: b}\n"
     "  - {name: counter, generator: toygen, label: B}\n",
     "keys 'designs[0]' and 'designs[1]': names that differ only in case, one folder on a case-insensitive file "
     "system (design 'counter', label 'B')"),
])
def test_config_entries_that_map_to_one_job_are_refused_naming_both(tmp_path, body, expected):
    config = write_project(tmp_path, body)
    proc = run_cli(config, "run")
    assert proc.returncode == 2 and error_lines(proc) == [f"error: {config}: {expected}; give each a distinct 'label'"
                                                          if "designs[" in expected else f"error: {config}: {expected}"]
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("command", [["run"], ["history"], ["report"]])
def test_undecodable_config_bytes_are_one_line_exit_2(tmp_path, command):
    config = write_project(tmp_path, "")
    config.write_bytes(b"pdks: [asap7]\ndesigns: [{name: \"counter\xff\xfe\"}]\n")
    proc = run_cli(config, *command)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert error_lines(proc) == [f"error: {config}: not UTF-8 text: byte 0xff at offset 39"]


def test_yaml_error_in_param_is_one_line_exit_2(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    proc = run_cli(config, "run", "--param", "C={a")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(error_lines(proc)) == 1 and "--param C: invalid YAML value" in proc.stderr


def test_an_unwritable_history_folder_stops_the_run_before_any_job_starts(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "history").write_text("a file where the history folder should be")
    proc = run_cli(config, "run", "--to", "synthesis")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert error_lines(proc) == [f"error: {tmp_path / 'reports' / 'history'}: the history folder "
                                 f"(paths.history_dir) is not writable: File exists"]
    assert not list((tmp_path / "build").rglob("orchestrator-request.json"))  # no job was started


def read_only_command(folder: Path, command: list[str]) -> list[str] | None:
    """``command`` run with ``folder`` read-only: for root (who writes into a 0555 folder anyway) a
    read-only bind mount in a private mount namespace; None when that is not allowed here."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return command
    wrapped = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]
    probe = subprocess.run([*wrapped, "true"], capture_output=True)
    return [*wrapped, *command] if probe.returncode == 0 else None


def test_a_read_only_reports_folder_stops_the_run_before_any_job_starts(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    (tmp_path / "reports" / "history").mkdir(parents=True)
    command = read_only_command(tmp_path / "reports", [sys.executable, "-m", "orchestrator", "--config", str(config),
                                                        "run", "--to", "synthesis"])
    if command is None:
        pytest.skip("no way to make a folder read-only for root here (unshare -m not permitted)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    env.pop("HALUT_PDK_ROOT", None)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    finally:
        (tmp_path / "reports").chmod(0o755)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith(f"error: {tmp_path / 'reports' / 'history'}: the history folder (paths.history_dir) "
                           "is not writable: ") and ("Read-only file system" in line or "Permission denied" in line)
    assert not list((tmp_path / "build").rglob("orchestrator-request.json"))  # no job was started


def test_a_missing_pdk_data_root_exits_2_before_any_job_and_doctor_flags_it(tmp_path):
    config = write_project(tmp_path, f"pdk_data_root: {tmp_path / 'nowhere'}\npdks: [asap7]\n"
                                     "designs: [{name: counter, generator: toygen}]\n")
    proc = run_cli(config, "run")
    expected = (f"PDK data for 'asap7' (asap7sc7p5t_rvt) not found in data root {tmp_path / 'nowhere'}: "
                "the data root does not exist (pdk_data_root)")
    assert proc.returncode == 2 and error_lines(proc) == [f"error: {expected}"], proc.stderr
    assert not (tmp_path / "build").exists()
    doctor = run_cli(config, "doctor")
    assert doctor.returncode == 2 and f"!! {expected}" in doctor.stdout


def test_an_unknown_to_step_exits_2_before_the_first_job(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7, nangate45]\ndesigns:\n"
                                     "  - {name: counter, generator: toygen, label: a}\n"
                                     "  - {name: counter, generator: toygen, label: b}\n")
    proc = run_cli(config, "run", "--to", "synthesys")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith("error: unknown step 'synthesys' for --to (steps: elaborate, synthesis,")
    assert not list(tmp_path.rglob("orchestrator-request.json")) and history_files(config) == []


def test_a_fifo_and_a_device_link_in_the_history_are_skipped_with_a_warning(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    folder = tmp_path / "reports" / "history" / "asap7" / "counter"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "fifo.json")
    (folder / "zero.json").symlink_to("/dev/zero")
    proc = run_cli(config, "history", timeout=60)  # a FIFO opened for reading would block forever
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {folder / 'fifo.json'}: not a regular file, skipped" in proc.stderr
    assert f"warning: {folder / 'zero.json'}: not a regular file, skipped" in proc.stderr


def test_corrupt_history_records_and_key_files_do_not_break_the_cache(project):
    config, start, events = project("a")
    folder = config.parent / "reports" / "history" / "nangate45" / "counter"
    folder.mkdir(parents=True)
    (folder / "bytes.json").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "list.json").write_text('[1, 2, {"steps": 3}]')
    (folder / "steps.json").write_text('{"timestamp": "2024-01-01T00:00:00Z", "job_key": ["x"], "steps": [1]}')
    key_dir = config.parent / "build" / "nangate45"
    key_dir.mkdir(parents=True)
    (key_dir / "counter-a.last-key.json").write_bytes(b"\x80not json")
    proc = start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["a"] == {"cached": False, "started": True, "status": "pass"}


# ------------------------------------------------------------------------ imported folders


@pytest.fixture(scope="module")
def platforms():
    return load_platforms(REPO_ROOT / "platforms")


def test_an_imported_traversal_design_name_is_not_importable_and_writes_nothing_outside(tmp_path, platforms):
    archive = tmp_path / "archive"
    write_2022_run(archive / "asap7" / "good", metrics_2022())
    write_2022_run(archive / "asap7" / "evil", metrics_2022(run__flow__design="../../../../evil",
                                                            run__flow__uuid="other-run"))
    write_2022_run(archive / "asap7" / "slash", metrics_2022(run__flow__design="a/b", run__flow__uuid="third"))
    history_dir = tmp_path / "site-root" / "reports" / "history"
    summary = import_orfs(archive, history_dir, platforms)
    assert summary.imported == 1 and summary.errors == 2
    reasons = sorted(o.reason for o in summary.outcomes if o.action == "not_imported")
    assert "run__flow__design: not a safe name" in reasons[0] and "'../../../../evil'" in reasons[0]
    assert "'a/b'" in reasons[1]
    everything = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(archive)]
    assert everything and all(p.is_relative_to(history_dir) for p in everything)
    assert len(history.load_records(history_dir)) == 1  # and the history loads what it stored


@pytest.mark.parametrize("override, reason", [
    ({"finish__design__instance__area": 1e308}, "area_um2 (finish): implausible"),
    ({"finish__design__instance__area": -5.0}, "area_um2 (finish): negative"),
    ({"run__flow__platform__time_units": "0ps"}, "clock period must be > 0"),  # was a ZeroDivisionError
    ({"run__flow__generate_date": "9999-01-01 00:00"}, "run__flow__generate_date: in the future"),
])
def test_one_implausible_folder_is_not_importable_and_the_others_import(tmp_path, platforms, override, reason):
    archive = tmp_path / "archive"
    for n in range(3):
        write_2022_run(archive / "asap7" / f"good{n}", metrics_2022(run__flow__uuid=f"good-{n}"))
    write_2022_run(archive / "asap7" / "bad", metrics_2022(run__flow__uuid="bad", **override))
    summary = import_orfs(archive, tmp_path / "history", platforms)
    assert summary.imported == 3 and summary.errors == 1
    (bad,) = [o for o in summary.outcomes if o.action == "not_imported"]
    assert reason in bad.reason and str(archive / "asap7" / "bad") in bad.reason
    build_site(history.load_records(tmp_path / "history"), tmp_path / "site", platforms=platforms)  # no crash


def test_a_record_that_cannot_be_written_makes_only_that_run_not_importable(tmp_path, platforms):
    archive = tmp_path / "archive"
    write_2022_run(archive / "asap7" / "decoder", metrics_2022())
    write_2023_run(archive / "nangate45" / "decoder", metadata_2023())
    history_dir = tmp_path / "history"
    history_dir.mkdir()
    (history_dir / "nangate45").write_text("a file where the PDK folder should be")
    summary = import_orfs(archive, history_dir, platforms)
    assert summary.imported == 1 and summary.errors == 1
    (bad,) = [o for o in summary.outcomes if o.action == "not_imported"]
    assert "record not written" in bad.reason and str(archive / "nangate45" / "decoder") in bad.reason
    assert [r.pdk for r in history.load_records(history_dir)] == ["asap7"]


def test_imported_scripts_and_symlinks_never_reach_the_gallery(tmp_path, platforms):
    archive = tmp_path / "archive"
    run = write_2022_run(archive / "asap7" / "run", metrics_2022())
    base = run / "reports" / "asap7" / "halut_decoder" / "base"
    (base / "report.html").write_text("<html><script>alert('owned')</script></html>")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret")
    (base / "passwd.txt").symlink_to(secret)
    history_dir = tmp_path / "history"
    import_orfs(archive, history_dir, platforms)
    site = tmp_path / "site"
    summary = build_site(history.load_records(history_dir), site, platforms=platforms,
                         roots=ArtifactRoots(imports=(archive,)))
    files = [p for p in site.rglob("*") if p.is_file()]
    assert not any(p.is_symlink() for p in site.rglob("*"))
    contents = {p: p.read_bytes() for p in files}
    assert not [p for p, data in contents.items() if b"root:x:0:0" in data]  # the link was not followed
    assert any("passwd.txt: not published: outside the project's import folders" in w for w in summary.warnings)
    # The script arrives only as text: a .txt copy and an escaped viewer page, never as a document.
    assert not [p for p, data in contents.items() if b"<script" in data.lower() and p.suffix != ".txt"]
    copies = [p for p in files if p.name.endswith("report.html.txt")]
    assert copies and b"<script>" in copies[0].read_bytes()
    viewer = next(p for p in files if p.name.endswith("report.html.txt.html"))
    assert "&lt;script&gt;alert(" in viewer.read_text()
    pages = [p for p in files if p.suffix == ".html"]
    assert pages and all(f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
                         in p.read_text().replace("&#39;", "'") for p in pages)
    assert "script-src 'none'" in CONTENT_SECURITY_POLICY


# ------------------------------------------------------------------------ records are data

SECRET = b"top-secret-9f2c: the token of this job"
RECORD_BASE = {"schema_version": 1, "source": "siliconcompiler", "design": "counter", "pdk": "asap7",
               "timestamp": "2024-01-01T00:00:00Z", "status": "pass", "metrics": {"area_um2": 10.0}}


def write_raw_record(history_dir: Path, name: str, **fields) -> Path:
    """A record file as anyone could write it: no check of what it claims."""
    data = {**RECORD_BASE, "run_id": name, **fields}
    path = history_dir / data["pdk"] / data["design"] / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def hostile_project(tmp_path):
    """A toy project whose history holds a good record (its log in the build folder) and a record
    claiming ``"build_dir": "/"`` that names a secret outside the project, /etc/passwd, and a
    symlink, a FIFO and a folder inside the build folder."""
    config = write_project(tmp_path / "project", "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    build = tmp_path / "project" / "build" / "asap7" / "counter"
    build.mkdir(parents=True)
    (build / "route.log").write_text("routed fine\n")
    (build / "link.log").symlink_to(secret)
    (build / "inner-link.log").symlink_to(build / "route.log")
    os.mkfifo(build / "fifo.log")
    (build / "folder.log").mkdir()
    history_dir = tmp_path / "project" / "reports" / "history"
    write_raw_record(history_dir, "good", build_dir=str(build), logs={"route": "route.log"})
    hostile_paths = [str(secret), "/etc/passwd", "etc/passwd", str(build / "link.log"), str(build / "inner-link.log"),
                     str(build / "fifo.log"), str(build / "folder.log")]
    hostile = write_raw_record(history_dir, "hostile", timestamp="2024-01-02T00:00:00Z", build_dir="/",
                               reports=hostile_paths, logs={"route": str(secret)},
                               images={"routing": str(secret)}, gds=str(secret),
                               steps=[{"step": "route", "log": str(secret)}])
    return config, secret, hostile, hostile_paths


def site_files(site: Path) -> list[Path]:
    return [p for p in site.rglob("*") if p.is_file() or p.is_symlink()]


def test_a_record_claiming_build_dir_root_puts_no_byte_of_a_host_file_into_the_site(hostile_project):
    config, secret, hostile, hostile_paths = hostile_project
    proc = run_cli(config, "report")
    assert proc.returncode == 0, proc.stderr
    site = config.parent / "reports" / "site"
    files = site_files(site)
    assert files and not [p for p in files if p.is_symlink()]
    passwd = Path("/etc/passwd").read_bytes().splitlines()[0]
    assert not [p for p in files if SECRET in p.read_bytes() or passwd in p.read_bytes()]
    secret_inode = (secret.stat().st_dev, secret.stat().st_ino)
    assert not [p for p in files if (p.stat().st_dev, p.stat().st_ino) == secret_inode]  # no hard link
    # The good record's log is still published.
    assert [p for p in files if p.name.endswith("route.log") and p.read_text() == "routed fine\n"]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    for path in hostile_paths:  # one line per refused path, naming the record file and the path
        assert len([w for w in warnings if f"{hostile}: {path}: not published: " in w]) == 1, (path, warnings)
    assert len(warnings) == len(hostile_paths)  # the secret: once, though named by five fields
    assert "outside the project's build folder (resolves to /etc/passwd)" in proc.stderr
    assert f"link.log: not published: outside the project's build folder (resolves to {secret})" in proc.stderr
    assert "inner-link.log: not published: a symbolic link" in proc.stderr
    assert "fifo.log: not published: not a regular file" in proc.stderr
    assert "folder.log: not published: not a regular file" in proc.stderr


def test_an_imported_run_publishes_only_from_the_folder_it_was_imported_from(tmp_path):
    config = write_project(tmp_path / "project", "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    archive = tmp_path / "archive"
    write_2022_run(archive / "asap7" / "run", metrics_2022())
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    assert run_cli(config, "import-orfs", str(archive)).returncode == 0
    # A forged import: its own source_path is "/", its report a file outside every import folder.
    write_raw_record(config.parent / "reports" / "history", "forged", source="orfs", source_path="/",
                     reports=[str(secret)])
    proc = run_cli(config, "report")
    assert proc.returncode == 0, proc.stderr
    files = site_files(config.parent / "reports" / "site")
    assert [p for p in files if "/files/" in str(p)]  # the imported run's own files are published
    assert not [p for p in files if SECRET in p.read_bytes()]
    assert f"forged.json: {secret}: not published: outside the project's import folders" in proc.stderr


BAD_RECORDS = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "truncated": json.dumps({**RECORD_BASE, "run_id": "truncated"})[:40],
    "not-json": "this is not JSON at all",
    "unsafe-design": json.dumps({**RECORD_BASE, "run_id": "x1", "design": "<img src=x onerror=alert(1)>"}),
    "unsafe-pdk": json.dumps({**RECORD_BASE, "run_id": "x2", "pdk": "../../etc"}),
    "unsafe-label": json.dumps({**RECORD_BASE, "run_id": "x3", "parameters": {"label": "a/../../b"}}),
    "unsafe-run-id": json.dumps({**RECORD_BASE, "run_id": "../../../escaped"}),
}


@pytest.fixture
def quarantine_project(tmp_path):
    """A toy project whose history holds one good record of asap7/counter and one bad file of each
    kind next to it (and one too large), all newer than the good one."""
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    history_dir = tmp_path / "reports" / "history"
    write_raw_record(history_dir, "good-run")
    folder = history_dir / "asap7" / "counter"
    bad = {}
    for name, text in BAD_RECORDS.items():
        bad[name] = folder / f"{name}.json"
        bad[name].write_text(text)
    bad["huge"] = folder / "huge.json"
    with open(bad["huge"], "wb") as handle:
        handle.write(b" " * (history.MAX_RECORD_BYTES + 1) + b"{}")
    return config, bad


def assert_quarantined(proc, bad: dict[str, Path]) -> list[str]:
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    for name, path in bad.items():
        assert len([w for w in warnings if w.startswith(f"warning: {path}: ")]) == 1, (name, warnings)
    assert "nested deeper than" in proc.stderr and "larger than" in proc.stderr
    assert "record design: not a safe name" in proc.stderr and "record parameters.label: not a safe name" in proc.stderr
    return warnings


def test_history_skips_each_bad_record_with_one_warning_and_shows_the_good_one(quarantine_project):
    config, bad = quarantine_project
    proc = run_cli(config, "history", "--all-columns")
    assert proc.returncode == 0, proc.stderr
    assert_quarantined(proc, bad)
    assert "good-run" in proc.stdout and len(proc.stdout.strip().splitlines()) == 2  # the header and it


def test_report_skips_each_bad_record_with_one_warning_and_builds_the_site(quarantine_project):
    config, bad = quarantine_project
    proc = run_cli(config, "report")
    assert proc.returncode == 0, proc.stderr
    assert_quarantined(proc, bad)
    assert (config.parent / "reports" / "site" / "runs" / "good-run.html").is_file()
    assert ", 1 runs," in proc.stdout


def test_check_skips_each_bad_record_says_what_it_could_not_judge_and_judges_the_rest(quarantine_project):
    config, bad = quarantine_project
    assert run_cli(config, "check", "--update-baseline").returncode == 0
    proc = run_cli(config, "check")
    assert proc.returncode == 0, proc.stderr
    warnings = assert_quarantined(proc, bad)
    assert all("(check: asap7/counter is judged without this file)" in w for w in warnings)
    assert "OK: all" in proc.stdout and "note: asap7/counter: not judged on deep.json" in proc.stdout


def test_a_record_nested_100000_deep_does_not_stop_the_cache_scan(project):
    config, start, events = project("a")
    folder = config.parent / "reports" / "history" / "nangate45" / "counter"
    folder.mkdir(parents=True)
    (folder / "deep.json").write_text("{\"a\": " * 100_000 + "1" + "}" * 100_000)
    proc = start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "RecursionError" not in err, err
    assert json.loads(out)["a"] == {"cached": False, "started": True, "status": "pass"}


HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def test_check_markdown_and_the_step_summary_never_carry_record_text_raw(tmp_path, monkeypatch):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    history_dir = tmp_path / "reports" / "history"
    write_raw_record(history_dir, "good-run")
    assert run_cli(config, "check", "--update-baseline").returncode == 0
    write_raw_record(history_dir, "failed-run", timestamp="2024-01-02T00:00:00Z", status="fail",
                     reason=f"{HOSTILE_NAME} <script>alert(2)</script>")
    # A record of a design named like markup: quarantined, its folder named in the notes.
    write_raw_record(history_dir, "x", design=HOSTILE_NAME)
    markdown, summary = tmp_path / "check.md", tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    proc = run_cli(config, "check", "--markdown", str(markdown))
    assert proc.returncode == 1, proc.stderr  # the failed run regressed
    for text in (markdown.read_text(), summary.read_text()):
        assert "<img" not in text and "<script" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text  # shown, as text: the reason and the folder
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in text
        assert f"asap7/{HOSTILE_NAME}: not judged".replace("<", "&lt;").replace(">", "&gt;") in text


# ------------------------------------------------------------------------ file modes


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_create_files_with_the_process_umask(tmp_path, umask, expected):
    script = (f"import os; os.umask({umask:#o}); from orchestrator.fsutil import atomic_write_text; "
              f"atomic_write_text({str(tmp_path / 'f.txt')!r}, 'x')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=30)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == expected


# ------------------------------------------------------------------------ smaller items


def test_reimporting_a_file_timed_run_after_touching_its_files_adds_nothing(tmp_path, platforms):
    run = write_2022_run(tmp_path / "archive" / "asap7" / "halut_decoder",
                         metrics_2022(run__flow__generate_date=None, run__flow__uuid=None))
    first = import_orfs(tmp_path / "archive", tmp_path / "history", platforms)
    assert first.imported == 1
    later = time.time() - 60  # still in the past: not an implausible future time stamp
    for path in run.rglob("*"):
        os.utime(path, (later, later))
    second = import_orfs(tmp_path / "archive", tmp_path / "history", platforms)
    assert second.imported == 0 and second.already_present == 1
    assert len(history_files_in(tmp_path / "history")) == 1


def history_files_in(folder: Path) -> list[Path]:
    return list(folder.rglob("*.json"))


@pytest.mark.parametrize("rule", ["{rel_tol_pct: .nan}", "{abs_tol: .inf}", "{min: .nan}", "{max: .inf}"])
def test_non_finite_baseline_rules_are_refused_not_silently_disabled(tmp_path, rule):
    from orchestrator.check import BaselineError, load_baseline

    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(f"rules:\n  area_um2: {rule}\nbaseline: {{}}\n")
    with pytest.raises(BaselineError, match="Input should be a finite number"):
        load_baseline(baseline)


def test_markdown_into_a_missing_folder_is_refused_and_creates_nothing(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    proc = run_cli(config, "check", "--markdown", str(tmp_path / "nope" / "deeper" / "table.md"))
    assert proc.returncode == 2 and len(error_lines(proc)) == 1 and "--markdown: folder not found" in proc.stderr
    assert not (tmp_path / "nope").exists()


def test_render_keeps_labelled_entries_of_one_design_apart(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns:\n"
                                     "  - {name: counter, generator: toygen, label: w4, parameters: {WIDTH: 4}}\n"
                                     "  - {name: counter, generator: toygen, label: w9, parameters: {WIDTH: 9}}\n")
    proc = run_cli(config, "render")
    assert proc.returncode == 0, proc.stderr
    rendered = tmp_path / "build" / "rendered" / "asap7"
    assert "[3:0]" in (rendered / "counter-w4" / "rtl" / "counter.v").read_text()
    assert "[8:0]" in (rendered / "counter-w9" / "rtl" / "counter.v").read_text()


def test_a_stored_record_from_the_year_9999_is_left_out_of_the_report_instead_of_breaking_it(tmp_path):
    from datetime import datetime

    from orchestrator.record import Metrics, RunRecord
    from orchestrator.report.api import build_reports

    good = RunRecord(run_id="good", design="d", pdk="asap7", timestamp=datetime(2024, 1, 1, tzinfo=UTC),
                     status="pass", metrics=Metrics(area_um2=10.0, ge=3.0))
    future = good.model_copy(update={"run_id": "future", "timestamp": datetime(9999, 1, 1, tzinfo=UTC)})
    huge = good.model_copy(update={"run_id": "huge", "metrics": Metrics(area_um2=1e308)})
    summary = build_reports([good, future, huge], reports_dir=tmp_path / "reports")
    assert summary.runs == 1
    assert any("future: left out of the report: timestamp in the future" in w for w in summary.warnings)
    assert any("huge: left out of the report: area_um2: implausible" in w for w in summary.warnings)


def test_an_unwritable_reports_folder_makes_report_one_line_not_a_traceback(tmp_path):
    config = write_project(tmp_path, "pdks: [asap7]\ndesigns: [{name: counter, generator: toygen}]\n")
    (tmp_path / "reports").write_text("a file where the reports folder should be")
    proc = run_cli(config, "report")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(error_lines(proc)) == 1 and str(tmp_path / "reports") in error_lines(proc)[0]
