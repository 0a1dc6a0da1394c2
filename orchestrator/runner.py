"""Job execution: each (design, PDK, parameter set) job runs in its own process.

A separate process per job isolates SC's logging, multiprocessing and global state, lets
``--jobs N`` run N jobs at once, and lets Ctrl-C terminate a job's whole process group. The
child writes its finished record to a result file; only the parent appends to the history,
and only for jobs that finished, so an interrupted job never leaves a partial record.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from orchestrator.config import Config, DesignSpec, load_config
from orchestrator.errors import OrchestratorError
from orchestrator.fsutil import atomic_write_json
from orchestrator.flow import Job
from orchestrator.record import RunRecord
from orchestrator.tools import Toolchain, ToolStatus

# SC's console lines look like "| INFO     | job0 | synthesis | 0 | ..."
_STEP_LINE = re.compile(r"\|\s*job\d+\s*\|\s*([A-Za-z0-9_.]+)\s*\|\s*\d+\s*\|")


@dataclass
class JobOutcome:
    job: Job
    record: RunRecord | None = None
    error: str | None = None  # set when the job could not produce a record at all
    log_path: Path | None = None
    elapsed_s: float = 0.0
    interrupted: bool = False
    history_path: Path | None = None


@dataclass
class _Running:
    job: Job
    proc: subprocess.Popen
    log_path: Path
    result_path: Path
    started: float
    current_step: str = "starting"
    log_offset: int = 0


@dataclass
class Progress:
    """What the CLI shows: per job, its current step and elapsed time."""

    running: dict[str, tuple[str, float]] = field(default_factory=dict)  # job name -> (step, elapsed s)
    done: list[JobOutcome] = field(default_factory=list)
    queued: int = 0


def _toolchain_to_json(toolchain: Toolchain) -> dict:
    return {name: status.__dict__ for name, status in toolchain.tools.items()}


def _toolchain_from_json(data: dict) -> Toolchain:
    return Toolchain({name: ToolStatus(**fields) for name, fields in data.items()})


def run_jobs(
    config: Config,
    config_path: Path,
    jobs: list[Job],
    toolchain: Toolchain,
    *,
    max_parallel: int,
    to: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    poll_s: float = 0.25,
) -> list[JobOutcome]:
    """Run ``jobs`` with at most ``max_parallel`` at once; return one outcome per job."""
    queue = list(jobs)
    running: list[_Running] = []
    outcomes: list[JobOutcome] = []
    progress = Progress(queued=len(queue))
    toolchain_json = _toolchain_to_json(toolchain)

    def start(job: Job) -> _Running:
        build_dir = job.build_dir(config)
        build_dir.mkdir(parents=True, exist_ok=True)
        log_path = build_dir / "orchestrator-job.log"
        result_path = build_dir / "orchestrator-result.json"
        result_path.unlink(missing_ok=True)
        request = {
            "config": str(config_path),
            "spec": job.spec.model_dump(mode="json"),
            "pdk": job.platform.name,
            "to": to,
            "toolchain": toolchain_json,
            "result": str(result_path),
        }
        request_path = build_dir / "orchestrator-request.json"
        atomic_write_json(request_path, request)
        log = open(log_path, "wb")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "orchestrator.runner", str(request_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C handling is ours
                cwd=str(config.root),
            )
        finally:
            log.close()
        return _Running(job, proc, log_path, result_path, time.monotonic())

    def finish(item: _Running) -> JobOutcome:
        elapsed = time.monotonic() - item.started
        outcome = JobOutcome(item.job, log_path=item.log_path, elapsed_s=elapsed)
        try:
            data = json.loads(item.result_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            tail = _tail(item.log_path)
            outcome.error = f"job process exited with code {item.proc.returncode} (log: {item.log_path})" + (
                f": {tail}" if tail else ""
            )
            return outcome
        if data.get("record"):
            outcome.record = RunRecord.model_validate(data["record"])
        outcome.error = data.get("error")
        return outcome

    try:
        while queue or running:
            while queue and len(running) < max_parallel:
                running.append(start(queue.pop(0)))
            for item in list(running):
                _update_step(item)
                if item.proc.poll() is not None:
                    running.remove(item)
                    outcome = finish(item)
                    outcomes.append(outcome)
                    progress.done.append(outcome)
            progress.queued = len(queue)
            progress.running = {r.job.name: (r.current_step, time.monotonic() - r.started) for r in running}
            if on_progress:
                on_progress(progress)
            if running:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for item in running:
            _terminate(item.proc)
            outcomes.append(
                JobOutcome(item.job, log_path=item.log_path, elapsed_s=time.monotonic() - item.started,
                           interrupted=True, error="interrupted")
            )
        for job in queue:
            outcomes.append(JobOutcome(job, interrupted=True, error="not started (interrupted)"))
        raise _Interrupted(outcomes) from None
    return outcomes


class _Interrupted(KeyboardInterrupt):
    def __init__(self, outcomes: list[JobOutcome]):
        super().__init__()
        self.outcomes = outcomes


Interrupted = _Interrupted


def _terminate(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _update_step(item: _Running) -> None:
    try:
        with open(item.log_path, "rb") as handle:
            handle.seek(item.log_offset)
            chunk = handle.read()
    except OSError:
        return
    item.log_offset += len(chunk)
    for match in _STEP_LINE.finditer(chunk.decode("utf-8", "replace")):
        item.current_step = match.group(1)


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in text if "ERROR" in line or "Error" in line]
    return (errors or text)[-lines:][0].strip() if (errors or text) else ""


# ---------------------------------------------------------------- child side


def execute(request: dict) -> dict:
    """Run one job in this process; return {"record": ..., "error": ...} (JSON-ready)."""
    from orchestrator import designs, flow, metrics

    config = load_config(request["config"])
    spec = DesignSpec.model_validate(request["spec"])
    platform = config.platform(request["pdk"])
    toolchain = _toolchain_from_json(request["toolchain"])
    params = designs.validate_parameters(spec.generator, spec.name, spec.parameters)
    job = Job(spec=spec, platform=platform, parameters=params)
    build_dir = job.build_dir(config)
    started = datetime.now(timezone.utc)

    rendered = designs.render_design(config, spec, platform, build_dir / "inputs")
    project = flow.build_project(config, job, rendered, toolchain, build_dir / "sc")
    flow.check_pdk_data(project, platform, config.resolved_pdk_data_root())
    voltage = platform.voltage_v
    if voltage is None:
        libs = flow.liberty_files(project.get_library(platform.stdcell_lib), platform.analysis_corner)
        voltage = next((v for v in map(flow.liberty_nom_voltage, libs) if v is not None), None)
    plan = flow.plan_steps(project, toolchain, to=request.get("to"))
    flow.apply_plan(project, plan)

    error = None
    try:
        project.run()
    except Exception as exc:  # SC raises RuntimeError("Run failed: ...") on a failed node
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    record = metrics.build_record(
        design=spec.name,
        top=rendered.top,
        label=spec.label,
        platform=platform,
        parameters=params,
        clock_period=rendered.clock_period,
        started=started,
        build_dir=build_dir / "sc",
        jobname=flow.SC_JOBNAME,
        run_nodes=plan.run_nodes,
        skipped=plan.skipped,
        voltage_v=voltage,
        error=error,
        tool_versions=toolchain.versions(),
        commit=metrics.git_commit(),
        job_key=job.key,
    )
    return {"record": record.to_json_dict(), "error": None}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        result = execute(request)
    except OrchestratorError as exc:
        result = {"record": None, "error": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        result = {"record": None, "error": f"internal error: {type(exc).__name__}: {exc}"}
    atomic_write_json(request["result"], result)
    # SC/pyosys may leave non-daemon threads or crash at interpreter teardown; the result is on disk.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
