"""The job process: one flow job, start to record, in a process of its own.

``runner`` starts ``python -m orchestrator.job_process <request.json>`` per job (or a spare one
ahead of time that reads the request path from stdin). The request (``JobRequest``) is one typed
document holding everything the job needs: the validated config and its platforms, the job's
design entry, the rendered design, the detected toolchain, the cache key and the commit. The
child reads no ``config.yaml`` or ``platforms/*.yaml`` of its own, so a file edited while a run is
under way cannot make a job run with settings its cache key did not hash.

The child writes its finished record to the history and to a result file (``JobResult``: the
record or the error, and the time of each phase) the moment its flow ends. A stopped job
(SIGTERM, as SC's cancel) writes nothing; a job whose parent dies, however it dies, ends its whole
process group (``die_with_parent``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import math
import os
import shutil
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator import accuracy, closure, flow, metrics, netlist, scheduler
from orchestrator.config import Config, DesignSpec
from orchestrator.designs import RenderedDesign, platform_for
from orchestrator.errors import OrchestratorError, clip, cut, first_line
from orchestrator.fsutil import atomic_write_json
from orchestrator.history import read_record_data, write_record
from orchestrator.jobs import Job
from orchestrator.record import ClosureAttempt, RunRecord, TimingScenario
from orchestrator.sc_manifest import Manifest
from orchestrator.tools import Toolchain

REQUEST_FILE = "orchestrator-request.json"
RESULT_FILE = "orchestrator-result.json"
LOG_FILE = "orchestrator-job.log"

# The orchestrator's pid, handed to its job processes: one whose parent is already someone else
# when it starts (the orchestrator died in between) ends at once.
PARENT_PID_ENV = "HALUT_ORCHESTRATOR_PID"


class JobRequest(BaseModel):
    """What the parent hands one job process (written as ``REQUEST_FILE`` in the build directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Config  # validated by the parent, platforms included (``Config.platforms``)
    spec: DesignSpec  # the job's design entry (a sweep point's, with --param overrides applied)
    pdk: str
    rendered: RenderedDesign  # the RTL and SDC the key hashed, already on disk
    toolchain: Toolchain  # as the parent detected it (the key hashed its versions)
    to: str | None = None  # last SC step asked for
    job_key: str
    commit: str | None = None
    result: Path  # where the result document goes
    log: Path  # the job's console log
    history_dir: Path | None = None  # the child stores its record here the moment it has one

    def job(self) -> Job:
        # The platform as the parent's job had it (the design's own floorplan applied): the key hashed it.
        platform = platform_for(self.spec, self.config.platform(self.pdk))
        return Job(spec=self.spec, platform=platform, parameters=self.rendered.parameters, key=self.job_key)


class JobResultError(OrchestratorError):
    """A result file that is not a ``JobResult`` (one line naming the file and what is wrong)."""


@dataclasses.dataclass(frozen=True)
class JobResult:
    """What one job process hands back (written as ``RESULT_FILE`` in the build directory): the
    record, or why there is none, and where the time went (``runner.JobOutcome.timings``).

    The parent reads a file another process wrote: ``read`` bounds its size and depth and refuses
    a wrong type with one line (``JobResultError``)."""

    record: RunRecord | None = None
    error: str | None = None  # set when the job could not produce a record at all
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds (Unix times for *_at)

    def to_json(self) -> dict[str, Any]:
        return {"record": None if self.record is None else self.record.to_json_dict(), "error": self.error,
                "timings": dict(self.timings)}

    @classmethod
    def from_json(cls, data: object) -> JobResult:
        """The result ``to_json`` wrote; JobResultError (one line) for anything else."""
        if not isinstance(data, dict):
            raise JobResultError(f"expected an object, got {type(data).__name__}")
        unknown = sorted(str(key) for key in data if key not in _RESULT_KEYS)
        if unknown:
            raise JobResultError(f"unknown key '{cut(unknown[0])}'")
        record, error, timings = data.get("record"), data.get("error"), data.get("timings") or {}
        if record is None and error is None:
            raise JobResultError("neither a record nor an error")
        if error is not None and not isinstance(error, str):
            raise JobResultError(f"key 'error': expected a string or null, got {type(error).__name__}")
        if not isinstance(timings, dict):
            raise JobResultError(f"key 'timings': expected an object, got {type(timings).__name__}")
        for name, seconds in timings.items():
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
                raise JobResultError(f"key 'timings.{cut(str(name))}': expected a finite number, got {clip(seconds)}")
        if record is not None and not isinstance(record, dict):
            raise JobResultError(f"key 'record': expected an object or null, got {type(record).__name__}")
        try:
            parsed = None if record is None else RunRecord.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in ("record", *first["loc"]))
            raise JobResultError(f"key '{cut(key)}': {first['msg']}") from None
        return cls(record=parsed, error=error, timings={str(k): float(v) for k, v in timings.items()})

    def write(self, path: str | os.PathLike[str]) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> JobResult:
        """The result file at ``path``: FileNotFoundError when there is none (the process ended
        without one); JobResultError when it is too large (``history.MAX_RECORD_BYTES``), too deep,
        not JSON or not a result."""
        try:
            data = read_record_data(path)
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise JobResultError(f"{path}: not a job result: {first_line(exc)}") from None
        try:
            return cls.from_json(data)
        except JobResultError as exc:
            raise JobResultError(f"{path}: invalid job result: {exc}") from None


_RESULT_KEYS = frozenset(field.name for field in dataclasses.fields(JobResult))


def sc_node_times(manifest: Manifest | None, nodes: list[tuple[str, str]]) -> dict[str, float]:
    """SC's ``exetime`` (time SC counts as the tool's: the tool process plus writing its task
    manifest) and ``tasktime`` (the whole node: plus SC's preparation, e.g. Liberty) from the job
    manifest: summed over ``nodes`` as ``tool`` / ``sc_task``, and per step as ``tool:<step>`` /
    ``sc_task:<step>``."""
    if manifest is None:
        return {}
    times: dict[str, float] = {}
    for name, metric in (("tool", "exetime"), ("sc_task", "tasktime")):
        times[name] = 0.0
        for step, index in nodes:
            value = manifest.get("metric", metric, step=step, index=index)
            if value is not None:
                times[name] += float(value)
                times[f"{name}:{step}"] = times.get(f"{name}:{step}", 0.0) + float(value)
    return times


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What every closure attempt of one job shares, found once before the flow runs."""

    job: Job  # attempt 1's: the platform's (or the design's own) floorplan
    build_dir: Path
    started: datetime
    project: Any  # attempt 1's SC project
    plan: flow.StepPlan
    voltage_v: float | None
    scenarios: dict[str, TimingScenario]
    sequential: dict[str, netlist.Sequential]
    accuracy_values: dict[str, float] | None
    accuracy_s: float

    @property
    def sc_dir(self) -> Path:
        return self.build_dir / "sc"


def execute(request: JobRequest) -> JobResult:
    """Run one job in this process: its record and where the time went."""
    began = time.monotonic()
    setup = _set_up(request)
    setup_done = time.monotonic()
    record, attempts, manifest, plan = _closure_loop(request, setup)
    run_done = time.monotonic()
    record = _final_record(request, setup, record, attempts, plan)
    timings = {"setup": setup_done - began, "sc_run": run_done - setup_done, "record": time.monotonic() - run_done,
               "accuracy": setup.accuracy_s}  # part of setup
    timings.update(sc_node_times(manifest, plan.run_nodes))
    return JobResult(record=record, timings=timings)


def _set_up(request: JobRequest) -> _Setup:
    """The job's SC project and step plan, its sign-off scenarios, sequential cells and accuracy."""
    config, spec, rendered = request.config, request.spec, request.rendered
    job = request.job()
    platform = job.platform
    build_dir = job.build_dir(config)
    started = datetime.now(UTC)
    # Only this run's files: a run that fails early must not pick up an earlier run's metrics.
    shutil.rmtree(build_dir / "sc", ignore_errors=True)
    project = flow.build_project(config, job, rendered, request.toolchain, build_dir / "sc")
    setup_liberty = flow.check_pdk_data(project, platform, config.resolved_pdk_data_root())
    voltages = flow.scenario_voltages(project, platform)
    voltage = platform.voltage_v if platform.voltage_v is not None else voltages[platform.setup_scenario]
    scenarios = {
        name: TimingScenario(libcorner=scene.libcorners[0], checks=list(scene.checks), voltage_v=voltages[name])
        for name, scene in platform.timing_scenarios.items()
    }
    sequential = netlist.sequential_cells(setup_liberty)  # the files check_pdk_data just resolved
    plan = flow.plan_steps(project, request.toolchain, to=request.to)
    accuracy_began = time.monotonic()
    # Before the flow: a task that cannot be evaluated fails the job in seconds, not after synthesis.
    accuracy_values = (accuracy.evaluate(spec.generator, rendered.parameters, spec.accuracy)
                       if spec.accuracy is not None else None)
    accuracy_s = time.monotonic() - accuracy_began
    if config.flow.liberty_cache and config.flow.scheduler is None:
        from orchestrator import liberty_cache

        liberty_cache.install()  # the node processes SC forks from this one inherit it
    return _Setup(job=job, build_dir=build_dir, started=started, project=project, plan=plan, voltage_v=voltage,
                  scenarios=scenarios, sequential=sequential, accuracy_values=accuracy_values,
                  accuracy_s=accuracy_s)


def _closure_loop(request: JobRequest, setup: _Setup
                  ) -> tuple[RunRecord, list[ClosureAttempt], Manifest | None, flow.StepPlan]:
    """The routing closure loop (orchestrator.closure): attempt 1 is the platform's floorplan; a
    congested or DRC-dirty route runs again from the floorplan, relaxed, in the same build dir.
    Returns the last attempt's record, manifest and plan, and every attempt."""
    config = request.config
    platform = setup.job.platform
    job, project, plan = setup.job, setup.project, setup.plan
    attempts: list[ClosureAttempt] = []
    record: RunRecord | None = None
    manifest = None
    for attempt in range(1, config.flow.closure.max_attempts + 1):
        floorplan = closure.floorplan(platform, config.flow.closure, attempt)
        if floorplan is None:  # nothing left to relax
            break
        if attempt > 1:
            job = dataclasses.replace(job, platform=closure.with_floorplan(platform, floorplan))
            project = flow.build_project(config, job, request.rendered, request.toolchain, setup.sc_dir)
            plan = flow.plan_steps(project, request.toolchain, to=request.to)
            print(f"closure attempt {attempt}: core utilisation {floorplan.core_utilization_pct:g} %, "
                  f"placement density {floorplan.placement_density:g}", flush=True)
        record, manifest, attempt_s, stuck = _run_attempt(request, setup, job, project, plan)
        attempts.append(closure.attempt_entry(attempt, floorplan, record, attempt_s))
        if stuck is not None or not closure.should_retry(attempts[-1]):
            break
    assert record is not None  # the loop runs attempt 1 at least
    return record, attempts, manifest, plan


def _run_attempt(request: JobRequest, setup: _Setup, job: Job, project: Any, plan: flow.StepPlan
                 ) -> tuple[RunRecord, Manifest | None, float, str | None]:
    """One run of the flow: its record and manifest, its wall time, and the step SC ended for
    running too long (None: none did)."""
    flow.apply_plan(project, plan)
    if request.config.flow.scheduler == "slurm":
        scheduler.prepare_slurm(project, setup.build_dir)
    began = time.monotonic()
    error = None
    try:
        project.run()
    except Exception as exc:  # SC raises RuntimeError("Run failed: ...") on a failed node
        error = first_line(exc)
    attempt_s = time.monotonic() - began
    manifest = metrics.load_job_manifest(setup.sc_dir, request.rendered.top, flow.SC_JOBNAME)
    record = _attempt_record(request, setup, job, plan, manifest, error)
    failed = [node for node in plan.run_nodes
              if any(s.step == node[0] and s.status == "error" for s in record.steps)]
    stuck = flow.timed_out_step(metrics.job_dir(setup.sc_dir, request.rendered.top, flow.SC_JOBNAME), failed)
    if stuck is not None:  # SC ended a hung (or too slow) tool: say so, and relax nothing
        limit = flow.step_timeout(request.config.flow, stuck)
        record = record.model_copy(update={"status": "fail", "reason": f"timed out after {limit:g} s in {stuck}"})
    return record, manifest, attempt_s, stuck


def _attempt_record(request: JobRequest, setup: _Setup, job: Job, plan: flow.StepPlan,
                    manifest: Manifest | None, error: str | None) -> RunRecord:
    rendered = request.rendered
    return metrics.build_record(
        design=request.spec.name,
        top=rendered.top,
        label=request.spec.label,
        platform=job.platform,
        parameters=rendered.parameters,
        clock_period=rendered.clock_period,
        started=setup.started,
        build_dir=setup.sc_dir,
        jobname=flow.SC_JOBNAME,
        run_nodes=plan.run_nodes,
        skipped=plan.skipped,
        voltage_v=setup.voltage_v,
        error=error,
        tool_versions=request.toolchain.versions(),
        commit=request.commit,
        job_key=job.key,
        manifest=manifest,
        timing_scenarios=setup.scenarios,
        sequential_cells=setup.sequential,
    )


def _final_record(request: JobRequest, setup: _Setup, record: RunRecord, attempts: list[ClosureAttempt],
                  plan: flow.StepPlan) -> RunRecord:
    """The last attempt's record with every attempt, where its nodes ran, and its accuracy."""
    unclosed = closure.summary(attempts)
    record = record.model_copy(update={"closure_attempts": attempts, **(
        {"status": "fail", "reason": unclosed} if unclosed else {})})
    record = scheduler.record_placement(record, metrics.job_dir(setup.sc_dir, request.rendered.top, flow.SC_JOBNAME),
                                        request.config.flow.scheduler, plan.run_nodes)
    return accuracy.apply(record, request.spec.accuracy, setup.accuracy_values)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _end_job_group(signum=None, frame=None) -> None:
    """End this job at once: its whole process group (SC's node processes and their tools) when
    the group is its own (the orchestrator starts each job in a new session), else itself."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Make this process (and its process group) end when its parent dies, however it dies.

    The kernel sends SIGHUP on the parent's death (PR_SET_PDEATHSIG); the handler ends the job's
    group. A parent that died before this call is caught by comparing ``parent_pid`` with the
    current parent. Returns False where prctl is not available (not Linux): nothing is armed.
    """
    signal.signal(signal.SIGHUP, _end_job_group)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if parent_pid is not None and os.getppid() != parent_pid:
        _end_job_group()
    return armed


def _wait_for_request() -> str:
    """Spare mode: import what every job needs, then block until the parent names the request."""
    import siliconcompiler  # noqa: F401  (the imports are the point: they happen before the job)
    import siliconcompiler.targets  # noqa: F401

    line = sys.stdin.readline().strip()
    if not line:  # the parent finished without needing this process
        os._exit(0)
    return line


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The parent stops a job with SIGTERM to its process group. As an interrupt, SC runs its own
    # cancel (ends node processes and their tools, cancels Slurm jobs) instead of vanishing.
    signal.signal(signal.SIGTERM, _interrupt)
    parent = os.environ.get(PARENT_PID_ENV)
    die_with_parent(int(parent) if parent and parent.isdigit() else None)
    prestarted = argv[0] == "--stdin"
    try:
        request_path = _wait_for_request() if prestarted else argv[0]
    except KeyboardInterrupt:
        os._exit(130)
    raw = json.loads(Path(request_path).read_text(encoding="utf-8"))
    if prestarted:  # started before its log existed: send output there now
        log = os.open(raw["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for fd in (1, 2):
            os.dup2(log, fd)
        os.close(log)
    request: JobRequest | None = None
    try:
        request = JobRequest.model_validate(raw)
        result = execute(request)
    except KeyboardInterrupt:
        sys.stdout.flush()
        os._exit(130)  # stopped: no result file, so no record
    except OrchestratorError as exc:
        result = JobResult(error=str(exc))
    except Exception as exc:
        traceback.print_exc()
        result = JobResult(error=f"internal error: {type(exc).__name__}: {exc}")
    if result.record is not None and request is not None and request.history_dir is not None:
        # The record is stored the moment the flow ends, before anything else can go wrong; the
        # parent writes it again (a no-op: same run id) and reports a failure to store it. Stored
        # as every reader will read it: validated from its JSON (model_copy does not validate).
        try:
            write_record(request.history_dir, RunRecord.model_validate(result.record.to_json_dict()))
        except (OSError, OrchestratorError, ValueError) as exc:
            print(f"record not written to the history: {exc}", file=sys.stderr)
    result.write(raw["result"])
    # SC/pyosys may leave non-daemon threads or crash at interpreter teardown; the result is on disk.
    # os._exit skips multiprocessing's clean-up, so end this process's helper children first.
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
