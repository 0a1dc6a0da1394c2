"""The runner: schedules the jobs of a run, each in a job process of its own (``job_process``).

The parent renders each job's RTL and SDC (cheap) and asks ``cache`` whether the job is
unchanged; an unchanged job reuses its previous record and never starts a process. Every other
job gets its own build directory and its own process, which isolates SC's logging,
multiprocessing and global state, lets ``--jobs N`` run N jobs at once, and lets Ctrl-C end a
job's whole process group. The child writes its finished record to the history the moment its
flow ends; the parent writes it too (idempotent: same run id) as soon as it sees the job end, so
a run killed later keeps every record of the jobs that finished. An interrupted job never leaves
a partial record. While a job runs, its build directory is locked (``fsutil.DirectoryLock``): a
second run of the same job waits for it instead of deleting its files.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator import cache, designs, metrics
from orchestrator import history as history_mod
from orchestrator.config import PDK_ROOT_ENV, Config
from orchestrator.errors import OrchestratorError
from orchestrator.fsutil import DirectoryLock, LockBusy, atomic_write_json, check_writable_dir
from orchestrator.job_process import (
    LOG_FILE,
    PARENT_PID_ENV,
    REQUEST_FILE,
    RESULT_FILE,
    JobRequest,
    JobResult,
    JobResultError,
)
from orchestrator.jobs import Job
from orchestrator.record import RunRecord
from orchestrator.tools import Toolchain

# SC's console lines look like "| INFO     | job0 | synthesis | 0 | ..."
_STEP_LINE = re.compile(r"\|\s*job\d+\s*\|\s*([A-Za-z0-9_.]+)\s*\|\s*\d+\s*\|")

# How long a stopped job gets to end its tools (SC turns SIGTERM into its own cancel) before SIGKILL.
TERMINATE_GRACE_S = 10.0


@dataclass
class JobOutcome:
    job: Job
    record: RunRecord | None = None
    error: str | None = None  # set when the job could not produce a record at all
    log_path: Path | None = None
    elapsed_s: float = 0.0  # the job's wall time: render + key in this process, then its own process
    interrupted: bool = False
    started: bool = False  # a job process was launched
    step: str | None = None  # the step it was in when it was stopped
    history_path: Path | None = None
    cached: bool = False  # the record is a reused one (see ``cache``)
    history_error: str | None = None  # the record could not be written to the history (why)
    rerun_reason: str | None = None  # why an existing build was not reused ("design changed: C 32 -> 8; rtl changed")
    # Where the wall time went (seconds): prepare (render + key, this process), process (the job
    # process, start to exit), setup / sc_run / record (inside it), tool (sum of SC exetime: time
    # inside tool executables), sc_task (sum of SC tasktime: tool + SC's per-node preparation);
    # began_at / ended_at: the job's wall interval as Unix times (to match tool process intervals).
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class _Running:
    position: int  # in the caller's job list
    job: Job
    proc: subprocess.Popen
    log_path: Path
    result_path: Path
    started: float  # monotonic, when preparation began
    prepare_s: float
    launched: float  # monotonic, when the process started
    current_step: str = "starting"
    log_offset: int = 0
    rerun_reason: str | None = None
    lock: DirectoryLock | None = None  # the build directory's lock, held until the job has ended


@dataclass
class Progress:
    """What the CLI shows: per job, its current step and elapsed time."""

    running: dict[str, tuple[str, float]] = field(default_factory=dict)  # job name -> (step, elapsed s)
    done: list[JobOutcome] = field(default_factory=list)
    queued: int = 0
    notes: dict[str, str] = field(default_factory=dict)  # job name -> why it runs (cache miss reason)


def default_parallel_jobs() -> int:
    """Cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_jobs(
    config: Config,
    jobs: Sequence[Job],
    toolchain: Toolchain,
    *,
    max_parallel: int,
    to: str | None = None,
    force: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    refresh_s: float = 0.5,
    child_command: Sequence[str] | None = None,
    prestart: bool = True,
    on_message: Callable[[str], None] | None = None,
) -> list[JobOutcome]:
    """Run ``jobs`` with at most ``max_parallel`` processes at once; one outcome per job, in order.

    Unchanged jobs (same cache key as a reusable history record) are not run unless ``force``.
    ``child_command`` replaces ``python -m orchestrator.job_process`` (it gets the request file as
    its last argument, or ``--stdin`` and then the request path on stdin when it is started ahead
    of its job: ``prestart``). Ctrl-C raises ``Interrupted`` carrying every job's outcome.

    Each record is written to the history as soon as its job ends (``JobOutcome.history_path``).
    A job whose build directory another run holds waits for it (``on_message`` says so once).
    """
    check_build_dirs_unique(config, jobs)
    # Before any job starts: a job that runs for hours and then cannot store its record is lost.
    check_writable_dir(config.path("build_dir"), "the build folder (paths.build_dir)")
    check_writable_dir(config.path("history_dir"), "the history folder (paths.history_dir)")
    loop = RunLoop(config, jobs, toolchain, max_parallel=max_parallel, to=to, force=force,
                   on_progress=on_progress, refresh_s=refresh_s, child_command=child_command,
                   prestart=prestart, on_message=on_message)
    return loop.run()


class RunLoop:
    """One run of ``run_jobs``: the jobs still to start (longest first), the running job processes,
    and one outcome per job, by its position in the caller's list.

    Each round (``run_round``) starts what fits (``launch``: reuse, fail or start a job), reports
    progress, then waits for job processes to end (``finish``) and records their outcomes
    (``done``); Ctrl-C stops what runs (``interrupted``)."""

    def __init__(
        self,
        config: Config,
        jobs: Sequence[Job],
        toolchain: Toolchain,
        *,
        max_parallel: int,
        to: str | None = None,
        force: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        refresh_s: float = 0.5,
        child_command: Sequence[str] | None = None,
        prestart: bool = True,
        on_message: Callable[[str], None] | None = None,
    ):
        self.config, self.toolchain, self.to, self.force = config, toolchain, to, force
        self.max_parallel, self.refresh_s = max_parallel, refresh_s
        self.on_progress, self.on_message = on_progress, on_message
        self.history_dir = config.path("history_dir")
        self.history = cache.HistoryIndex.scan(self.history_dir, {(j.platform.name, j.spec.name) for j in jobs})
        self.pending = _longest_first(list(jobs), self.history)  # (position in ``jobs``, job)
        self.running: list[_Running] = []
        self.outcomes: dict[int, JobOutcome] = {}
        self.progress = Progress(queued=len(self.pending))
        self.commit = metrics.git_commit()  # once per run, not once per job
        self.finished: queue.Queue[_Running] = queue.Queue()
        self.command = list(child_command or [sys.executable, "-m", "orchestrator.job_process"])
        self.env = _child_env(config)
        self.spares = _SpareProcess(self.command, cwd=config.root, env=self.env) if prestart else None
        self.waited: set[int] = set()  # positions of jobs that found their build directory locked

    def run(self) -> list[JobOutcome]:
        """Every job's outcome, in the caller's order; ``Interrupted`` (carrying them) on Ctrl-C."""
        try:
            while self.pending or self.running:
                self.run_round()
            self.report()
        except KeyboardInterrupt:
            raise Interrupted(self.interrupted()) from None
        finally:
            if self.spares:
                self.spares.discard()
        return self.ordered()

    def ordered(self) -> list[JobOutcome]:
        return [self.outcomes[p] for p in sorted(self.outcomes)]

    def run_round(self) -> None:
        """Start what fits, report, then wait (at most ``refresh_s``) for job processes to end."""
        blocked = self.start_what_fits()
        self.report()
        if not self.running:
            if blocked:
                time.sleep(self.refresh_s)  # every job left waits for another run's lock
            return
        try:
            item = self.finished.get(timeout=self.refresh_s)
        except queue.Empty:
            return
        while True:
            self.done(item.position, self.finish(item))
            try:
                item = self.finished.get_nowait()
            except queue.Empty:
                return

    def start_what_fits(self) -> list[tuple[int, Job]]:
        """Launch pending jobs while a slot is free; the blocked ones (their build directory is in
        use elsewhere) go back to the front of the queue, in their order, and are returned."""
        blocked: list[tuple[int, Job]] = []
        while self.pending and len(self.running) < self.max_parallel:
            entry = self.pending.pop(0)
            if not self.launch(*entry):
                blocked.append(entry)
        self.pending[:0] = blocked  # tried again next round, in their order
        return blocked

    def done(self, position: int, outcome: JobOutcome) -> None:
        """Record a job's outcome; its record goes to the history now, not at the end of the run:
        a run killed later keeps it."""
        if outcome.record is not None:
            try:
                path = history_mod.write_record(self.history_dir, outcome.record)
                outcome.history_path = path or history_mod.record_path(self.history_dir, outcome.record)
            except (OSError, OrchestratorError) as exc:
                outcome.history_error = str(exc)
        self.outcomes[position] = outcome
        self.progress.done.append(outcome)

    def launch(self, position: int, job: Job) -> bool:
        """Start (or reuse, or fail) one job; False when its build directory is locked elsewhere."""
        started = time.monotonic()
        build_dir = job.build_dir(self.config)
        try:
            lock = DirectoryLock(build_dir, owner=f"pid {os.getpid()} ({job.name})")
        except LockBusy as busy:
            if position not in self.waited:
                self.waited.add(position)
                if self.on_message:
                    self.on_message(f"{job.name}: waiting: its build directory {build_dir} is in use by "
                                    f"{busy.owner or 'another run'}")
            return False
        except OSError as exc:
            self.done(position, JobOutcome(job, error=f"{build_dir}: cannot lock the build directory: {exc}"))
            return True
        try:
            if not self.prepare_and_start(position, job, build_dir, lock, started):
                lock.release()
        except BaseException:
            lock.release()
            raise
        return True

    def prepare_and_start(self, position: int, job: Job, build_dir: Path, lock: DirectoryLock,
                          started: float) -> bool:
        """Render the job and decide on its cache key: its outcome now (an error, a reused record)
        and False, or True when a job process now runs it (and holds ``lock``)."""
        inputs = build_dir / "inputs"
        try:
            shutil.rmtree(inputs, ignore_errors=True)  # files of an earlier parameter set must not linger
            rendered = designs.render_design(self.config, job.spec, job.platform, inputs)
            components = cache.key_components(self.config, job, rendered, self.toolchain, self.to)
        except OrchestratorError as exc:
            shutil.rmtree(inputs, ignore_errors=True)  # nothing half-written is left behind
            self.done(position, JobOutcome(job, error=str(exc), elapsed_s=time.monotonic() - started))
            return False
        job = replace(job, key=cache.job_key(components))
        if position in self.waited:  # the run that held the directory may have recorded this very job
            fresh = cache.HistoryIndex.scan(self.history_dir, {(job.platform.name, job.spec.name)})
            self.history.reusable.update(fresh.reusable)
        decision = cache.decide(self.history, job, components, build_dir, force=self.force, now=datetime.now(UTC))
        if decision.reuse is not None:
            elapsed = time.monotonic() - started
            self.done(position, JobOutcome(job, record=decision.reuse, cached=True, elapsed_s=elapsed,
                                           timings={"prepare": elapsed}))
            return False
        self.start(position, job, build_dir, rendered, decision.reason, lock, started)
        return True

    def start(self, position: int, job: Job, build_dir: Path, rendered: designs.RenderedDesign,
              reason: str | None, lock: DirectoryLock, started: float) -> None:
        """Write the job's request and start its process (the spare one if there is one)."""
        log_path = build_dir / LOG_FILE
        result_path = build_dir / RESULT_FILE
        result_path.unlink(missing_ok=True)
        request = JobRequest(config=self.config, spec=job.spec, pdk=job.platform.name, rendered=rendered,
                             toolchain=self.toolchain, to=self.to, job_key=job.key, commit=self.commit,
                             result=result_path, log=log_path, history_dir=self.history_dir)
        request_path = build_dir / REQUEST_FILE
        atomic_write_json(request_path, request.model_dump(mode="json"))
        prepare_s = time.monotonic() - started
        log_path.write_bytes(b"")
        proc = self.spawn(request_path, log_path)
        if self.spares and len(self.pending) > 0:
            self.spares.prepare()  # the next job's process starts up while this one runs
        item = _Running(position, job, proc, log_path, result_path, started, prepare_s, time.monotonic(),
                        rerun_reason=reason, lock=lock)
        self.running.append(item)
        self.progress.notes[job.name] = reason
        # One waiter per process: the loop learns of an exit at once instead of at its next poll.
        threading.Thread(target=lambda: (proc.wait(), self.finished.put(item)), daemon=True).start()

    def spawn(self, request_path: Path, log_path: Path) -> subprocess.Popen:
        """The job's process: the spare one, handed the request, or a new one."""
        proc = self.spares.hand_over(request_path) if self.spares else None
        if proc is not None:
            return proc
        with open(log_path, "wb") as log:
            return subprocess.Popen(
                [*self.command, str(request_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C handling is ours
                cwd=str(self.config.root),
                env=self.env,
            )

    def finish(self, item: _Running) -> JobOutcome:
        """A job whose process ended: what is left of its process group ends, its lock is released,
        and its outcome is what its result file says."""
        self.running.remove(item)
        ended = time.monotonic()
        # SC can leave helper processes behind its job process (they wait on a pipe forever):
        # the job's process group is the job's alone, so end whatever is left of it.
        _signal_group(item.proc.pid, signal.SIGKILL)
        if item.lock is not None:
            item.lock.release()  # nothing of this job runs any more
        outcome = JobOutcome(item.job, log_path=item.log_path, elapsed_s=ended - item.started, started=True,
                             rerun_reason=item.rerun_reason)
        now = time.time()
        outcome.timings = {"prepare": item.prepare_s, "process": ended - item.launched,
                           "began_at": now - (ended - item.started), "ended_at": now}
        _read_result(item, outcome)
        return outcome

    def report(self) -> None:
        """Each running job's current step (from its log) and elapsed time, to ``on_progress``."""
        for item in self.running:
            _update_step(item)
        self.progress.queued = len(self.pending)
        self.progress.running = {r.job.name: (r.current_step, time.monotonic() - r.started) for r in self.running}
        if self.on_progress:
            self.on_progress(self.progress)

    def interrupted(self) -> list[JobOutcome]:
        """After Ctrl-C: every running job stopped (a second Ctrl-C: killed at once), and every
        job's outcome: finished ones keep their records, stopped and unstarted ones have none."""
        if self.spares:
            self.spares.discard()
        try:
            stopped = _stop(self.running)
        except KeyboardInterrupt:  # a second Ctrl-C: no more grace, end every job now
            for item in self.running:
                _signal_group(item.proc.pid, signal.SIGKILL)
            stopped = _stop(self.running, grace_s=0.0)
        for item in list(self.running):
            if item in stopped and not _finished_record(item.result_path):
                self.record_stopped(item)
            else:  # it ended on its own just before the interrupt, or ended its flow as it was stopped
                self.done(item.position, self.finish(item))  # keep what it produced
        for position, job in self.pending:
            self.outcomes[position] = JobOutcome(job, interrupted=True, error="not started (interrupted)")
        return self.ordered()

    def record_stopped(self, item: _Running) -> None:
        """A job stopped before its flow ended: no record, the step it was in."""
        if item.lock is not None:
            item.lock.release()
        self.running.remove(item)
        self.outcomes[item.position] = JobOutcome(
            item.job, log_path=item.log_path, started=True, interrupted=True, step=item.current_step,
            elapsed_s=time.monotonic() - item.started, error="interrupted", rerun_reason=item.rerun_reason)


def _child_env(config: Config) -> dict[str, str]:
    """The job processes' environment: this one, the parent's pid, the resolved PDK data root."""
    env = dict(os.environ)
    env[PARENT_PID_ENV] = str(os.getpid())
    data_root = config.resolved_pdk_data_root()
    if os.environ.get(PDK_ROOT_ENV) and data_root is not None:
        env[PDK_ROOT_ENV] = str(data_root)  # the child runs elsewhere: hand it the resolved path
    return env


def _read_result(item: _Running, outcome: JobOutcome) -> None:
    """Fill ``outcome`` from the job's result file (``JobResult``): its record, error and timings;
    no file is an error naming the exit code and the log."""
    try:
        result = JobResult.read(item.result_path)
    except OSError:
        tail = _tail(item.log_path)
        outcome.error = f"job process exited with code {item.proc.returncode} (log: {item.log_path})" + (
            f": {tail}" if tail else ""
        )
        return
    except JobResultError as exc:
        outcome.error = f"{exc} (job process exit code {item.proc.returncode}, log: {item.log_path})"
        return
    outcome.record = result.record
    outcome.error = result.error
    outcome.timings.update(result.timings)


def pdk_data_problems(config: Config, platforms: Sequence[Any]) -> list[str]:
    """Why the configured PDK data root cannot serve ``platforms`` (empty: it can, or none is set
    and lambdapdk uses its own download cache)."""
    root = config.resolved_pdk_data_root()
    if root is None:
        return []
    source = PDK_ROOT_ENV if os.environ.get(PDK_ROOT_ENV) else "pdk_data_root"
    problems = []
    for platform in {p.name: p for p in platforms}.values():  # once each (Platform holds dicts: unhashable)
        # The same words as the job process's own check (flow.check_pdk_data), one step earlier.
        folder = root / "lambdapdk" / platform.pdk
        if not folder.is_dir():
            missing = f"the data root does not exist ({source})" if not root.is_dir() else f"missing {folder}"
            problems.append(f"PDK data for '{platform.name}' ({platform.stdcell_lib}) not found in data root "
                            f"{root}: {missing}")
    return problems


def preflight(config: Config, jobs: Sequence[Job], toolchain: Toolchain, to: str | None) -> None:
    """What would fail every job alike is refused before the first one starts (exit 2): a PDK data
    root without the PDKs' data, an unknown ``--to`` step (checked on one job per platform)."""
    import tempfile

    from orchestrator import designs, flow

    problems = pdk_data_problems(config, [job.platform for job in jobs])
    if problems:
        raise OrchestratorError(problems[0])
    if to is None:
        return
    from orchestrator.fsutil import user_cache_dir

    # The step names of an SC target's flow depend on the target and SC's version only; building a
    # project to learn them costs ~0.5 s, so they are remembered in the user cache.
    cache_file = user_cache_dir() / "flow-steps.json"
    try:
        known = json.loads(cache_file.read_text(encoding="utf-8"))
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    from orchestrator.cache import package_versions

    checked: set[str] = set()
    for job in jobs:
        key = f"{job.platform.sc_target}|siliconcompiler {package_versions().get('siliconcompiler')}"
        if key in checked:
            continue
        checked.add(key)
        steps = known.get(key)
        if not (isinstance(steps, list) and to in steps):
            build_root = config.path("build_dir")
            build_root.mkdir(parents=True, exist_ok=True)  # nothing is written outside build/
            with tempfile.TemporaryDirectory(prefix=".preflight-", dir=build_root) as tmp:
                rendered = designs.render_design(config, job.spec, job.platform, Path(tmp) / "inputs")
                project = flow.build_project(config, job, rendered, toolchain, Path(tmp) / "sc")
                known[key] = list(dict.fromkeys(step for step, _, _ in flow.flow_nodes(project)))
                try:
                    atomic_write_json(cache_file, known)
                except OSError:
                    pass  # only a cache
                flow.plan_steps(project, toolchain, to=to)  # raises "unknown step ..." naming the steps


def check_build_dirs_unique(config: Config, jobs: Sequence[Job]) -> None:
    """Two jobs of one run must never share a build directory (they would delete each other's files)."""
    seen: dict[Path, Job] = {}
    for job in jobs:
        build_dir = job.build_dir(config)
        other = seen.get(build_dir)
        if other is not None:
            raise OrchestratorError(f"jobs '{other.name}' and '{job.name}' map to one build directory "
                                    f"({build_dir}): give them distinct labels")
        seen[build_dir] = job


def _finished_record(result_path: Path) -> bool:
    """Whether a job process left a result with a record (it finished its flow)."""
    try:
        return JobResult.read(result_path).record is not None
    except (OSError, JobResultError):
        return False


class _SpareProcess:
    """One job process started ahead of its job: the interpreter is up and SiliconCompiler and
    our modules are imported (~0.6 s) while the previous job runs; the next job hands it its
    request path on stdin. A spare that died meanwhile is simply not used."""

    def __init__(self, command: Sequence[str], *, cwd: Path, env: dict[str, str]):
        self.command, self.cwd, self.env = list(command), cwd, env
        self.proc: subprocess.Popen | None = None

    def prepare(self) -> None:
        if self.proc is None:
            self.proc = subprocess.Popen([*self.command, "--stdin"], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, cwd=str(self.cwd), env=self.env)

    def hand_over(self, request_path: Path) -> subprocess.Popen | None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return None
        try:
            proc.stdin.write(f"{request_path}\n".encode())
            proc.stdin.close()
        except OSError:  # it died between poll() and write()
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
        return proc

    def discard(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            _signal_group(proc.pid, signal.SIGKILL)  # it holds no job: nothing to shut down tidily
            proc.wait()


def _longest_first(jobs: list[Job], history) -> list[tuple[int, Job]]:
    """Jobs with a known runtime longest first (a short job last keeps both cores busy to the
    end); jobs never run before go first, in config order, since nothing says they are short."""
    known = [(history.expected_runtime_s(job), position) for position, job in enumerate(jobs)]
    unknown = [p for runtime, p in known if runtime is None]
    timed = [p for _, p in sorted(((r, p) for r, p in known if r is not None), key=lambda rp: (-rp[0], rp[1]))]
    return [(p, jobs[p]) for p in unknown + timed]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``run_jobs``; ``outcomes`` has every job: finished, stopped, not started."""

    def __init__(self, outcomes: list[JobOutcome]):
        super().__init__()
        self.outcomes = outcomes


def _stop(running: list[_Running], grace_s: float = TERMINATE_GRACE_S) -> set[_Running]:
    """Stop every running job process group; return those that were still running."""
    alive = [item for item in running if item.proc.poll() is None]
    for item in alive:
        _signal_group(item.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for item in alive:
        try:
            item.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for item in alive:
        # SIGKILL whatever is left of the group, including tools whose parent already ended.
        _signal_group(item.proc.pid, signal.SIGKILL)
        item.proc.wait()
    return set(alive)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _update_step(item: _Running) -> None:
    try:
        with open(item.log_path, "rb") as handle:
            handle.seek(item.log_offset)
            chunk = handle.read()
    except OSError:
        return
    # Only whole lines: a step name cut at the end of the chunk is read again next time.
    end = chunk.rfind(b"\n") + 1
    item.log_offset += end
    for match in _STEP_LINE.finditer(chunk[:end].decode("utf-8", "replace")):
        item.current_step = match.group(1)


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in text if "ERROR" in line or "Error" in line]
    return (errors or text)[-lines:][0].strip() if (errors or text) else ""
