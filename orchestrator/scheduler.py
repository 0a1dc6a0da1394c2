"""Where the flow nodes run: on this machine, or as Slurm jobs through SiliconCompiler's scheduler.

With ``--scheduler slurm`` SC's own Slurm scheduler runs every node: the job process stays here,
writes the node's manifest and a run script under the build directory, and waits in ``srun``
(one Slurm job per node, named ``<hash>_<step>_<index>``) while ``python3 -m
siliconcompiler.scheduler.run_node`` runs the node on a compute node. The build directory, the
PDK data, the Python environment and the Yosys launcher must therefore be on storage the compute
nodes share (docs/slurm.md). On an interrupt SC cancels the node's job (``scancel --name``).

What this module adds around SC's scheduler:

- ``check_slurm``: before any job starts, one ``sinfo`` call bounded by a timeout, so an
  unreachable controller, an unknown partition or a partition without a usable node is one line
  instead of a run that hangs in ``srun`` or a history full of failed records.
- ``prepare_slurm``: a task prolog (``srun --task-prolog``) that prints the Slurm job id, node
  and partition into the node's Slurm log, and a line in the job log when SC submits a node
  (SC logs a Slurm node only once it has ended, so the progress display would lag a step).
- ``record_placement``: where each node ran, into the record's ``steps[].ran_on``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from orchestrator.errors import OrchestratorError
from orchestrator.fsutil import atomic_write_text
from orchestrator.record import RunRecord

# Bound on the pre-flight ``sinfo``: it retries a refused connection for ~9 s on its own and waits
# MessageTimeout (10 s by default) on a controller that accepts but does not answer.
CHECK_TIMEOUT_S = 30.0
CHECK_TIMEOUT_ENV = "HALUT_SLURM_TIMEOUT_S"  # seconds; overrides CHECK_TIMEOUT_S

PROLOG_FILE = "slurm-task-prolog.sh"
_PLACEMENT_TAG = "halut-orchestrator: slurm"
_PLACEMENT_LINE = re.compile(re.escape(_PLACEMENT_TAG) + r" (.*)$", re.MULTILINE)

# sinfo's compact node states (%t) a job can be started on. A trailing '*' means the node does not
# respond; '~' (powered down, resumed on demand) and the other flags still take jobs.
_USABLE_STATES = {"idle", "mix", "alloc", "comp", "resv", "plnd"}


class SchedulerError(OrchestratorError):
    """The cluster cannot take the run (not installed, unreachable, no such partition)."""


def _timeout_s() -> float:
    text = os.environ.get(CHECK_TIMEOUT_ENV)
    if not text:
        return CHECK_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SchedulerError(f"{CHECK_TIMEOUT_ENV}: expected seconds > 0 (value: {text!r})")
    return value


def check_slurm(partition: str | None) -> str:
    """Ask the controller (``sinfo``) whether it can take jobs in ``partition`` (None: the
    cluster's default partition, the one SC submits to); return the partition's name."""
    sinfo = shutil.which("sinfo")
    if sinfo is None:
        raise SchedulerError("--scheduler slurm: sinfo not found on PATH (install the Slurm client, "
                             "e.g. Debian package slurm-client, configured for the cluster)")
    conf = os.environ.get("SLURM_CONF")
    where = f"SLURM_CONF={conf}" if conf else "the default slurm.conf"
    timeout = _timeout_s()
    try:
        proc = subprocess.run([sinfo, "--noheader", "--format", "%P|%a|%t|%D"], check=False,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SchedulerError(f"slurm controller did not answer within {timeout:g} s (sinfo, {where})") from None
    if proc.returncode != 0:
        message = next((line.strip() for line in (proc.stderr + proc.stdout).splitlines() if line.strip()),
                       f"sinfo exited with code {proc.returncode}")
        raise SchedulerError(f"slurm controller not reachable ({where}): {message}")

    partitions: dict[str, list[tuple[str, str]]] = {}  # name -> [(availability, node state)]
    default = None
    for line in proc.stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 4 or not fields[0]:
            continue
        name = fields[0]
        if name.endswith("*"):
            name = name[:-1]
            default = default or name
        partitions.setdefault(name, []).append((fields[1], fields[2]))
    if not partitions:
        raise SchedulerError(f"slurm cluster has no partitions ({where})")
    chosen = partition or default or next(iter(partitions))
    if chosen not in partitions:
        raise SchedulerError(f"slurm partition '{partition}' not found (partitions: {', '.join(partitions)})")
    rows = partitions[chosen]
    if not any(avail == "up" for avail, _ in rows):
        raise SchedulerError(f"slurm partition '{chosen}' is not up (availability: {rows[0][0]})")
    usable = [state for avail, state in rows
              if avail == "up" and not state.endswith("*") and state.rstrip("~#!%$@^-") in _USABLE_STATES]
    if not usable:
        states = ", ".join(dict.fromkeys(state for _, state in rows))
        raise SchedulerError(f"slurm partition '{chosen}' has no node that can take jobs (node states: {states})")
    return chosen


# --------------------------------------------------------------------------- job process side


def _prolog_text() -> str:
    # srun runs a task prolog on the compute node just before the task; a line "print ..." on its
    # stdout goes to the task's output, which is the node's Slurm log (srun --output).
    fields = " ".join(f"{key}=${{{var}}}" for key, var in (
        ("job_id", "SLURM_JOB_ID"), ("job_name", "SLURM_JOB_NAME"), ("node", "SLURMD_NODENAME"),
        ("partition", "SLURM_JOB_PARTITION")))
    return ("#!/bin/sh\n"
            "# Written by the halut orchestrator: says in the node's Slurm log where the node ran.\n"
            f'echo "print {_PLACEMENT_TAG} {fields} host=$(uname -n)"\n')


def prepare_slurm(project: Any, build_dir: Path) -> None:
    """Before ``project.run()`` in the job process: the task prolog (on the shared build
    directory) and the submission lines in the job log."""
    from siliconcompiler.scheduler import Scheduler

    options = list(project.option.scheduler.get_options() or [])
    if not any(opt == "--task-prolog" or opt.startswith("--task-prolog=") for opt in options):
        prolog = atomic_write_text(Path(build_dir) / PROLOG_FILE, _prolog_text(), mode=0o755)
        project.option.scheduler.add_options([f"--task-prolog={prolog.resolve()}"])
    Scheduler.add_listener(_submission_log())


def _submission_log():
    from siliconcompiler.scheduler.listener import RunListener

    class SubmissionLog(RunListener):
        """One SC-style console line when a node is handed to Slurm: the runner's progress display
        follows these lines, and would otherwise show a Slurm node's step only once it ended."""

        def node_started(self, project, step, index):
            jobname = project.option.get_jobname()
            # One write, so the line cannot interleave with SC's own console lines.
            sys.stdout.write(f"| INFO     | {jobname} | {step} | {index} | submitted to Slurm\n")
            sys.stdout.flush()

    return SubmissionLog()


def slurm_logs(jobpath: Path) -> dict[tuple[str, str], Path]:
    """The Slurm log (srun --output) of every node SC submitted in this job directory."""
    logs: dict[tuple[str, str], Path] = {}
    for path in sorted((jobpath / "sc_configs").glob("*.log")):
        # "<hash>_<step>_<index>.log"; the hash has no '_', a step may.
        _, sep, rest = path.stem.partition("_")
        step, sep2, index = rest.rpartition("_")
        if sep and sep2 and step:
            logs[(step, index)] = path
    return logs


def read_placement(log: Path) -> dict[str, str]:
    """What the task prolog wrote into a node's Slurm log (empty if it never ran)."""
    try:
        with open(log, encoding="utf-8", errors="replace") as handle:
            head = handle.read(64 * 1024)
    except OSError:
        return {}
    match = _PLACEMENT_LINE.search(head)
    if not match:
        return {}
    fields = dict(item.partition("=")[::2] for item in match.group(1).split() if "=" in item)
    return {"scheduler": "slurm", **{k: v for k, v in fields.items() if v}}


def record_placement(record: RunRecord, jobpath: Path, scheduler: str | None,
                     run_nodes: list[tuple[str, str]]) -> RunRecord:
    """``record`` with ``ran_on`` on every step that ran: this host, or the Slurm job that ran it
    (id, name, node, partition, host, and its Slurm log: what the node printed on the compute
    node). A Slurm node that failed before its tool wrote a log gets its Slurm log as the step's
    log, and a failed record without a log names it."""
    if scheduler != "slurm":
        host = {"host": socket.gethostname(), **({"scheduler": scheduler} if scheduler else {})}
        steps = [s.model_copy(update={"ran_on": dict(host)}) if s.status in ("success", "error") else s
                 for s in record.steps]
        return record.model_copy(update={"steps": steps})
    logs = slurm_logs(jobpath)
    steps, record_logs, reason = [], dict(record.logs), record.reason
    for position, info in enumerate(record.steps):
        # The record lists the nodes that were to run first, in run_nodes' order.
        node = run_nodes[position] if position < len(run_nodes) else None
        log = logs.get(node) if node else None
        if log is None:
            steps.append(info)
            continue
        update: dict[str, Any] = {"ran_on": {"scheduler": "slurm", **read_placement(log), "log": str(log)}}
        if info.log is None:
            update["log"] = str(log)
            record_logs.setdefault(info.step, str(log))
            if record.status == "fail" and info.status != "success" and reason and "log:" not in reason:
                reason = f"{reason} (log: {log})"
        steps.append(info.model_copy(update=update))
    return record.model_copy(update={"steps": steps, "logs": record_logs, "reason": reason})
