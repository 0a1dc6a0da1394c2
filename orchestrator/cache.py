"""Job cache: a content hash of everything that decides a job's result, and reuse of the newest
history record of an unchanged job.

The job key is the SHA-256 of these components (they are also written to the job's build
directory as ``orchestrator-key.json``, and beside it per job name, so the next run can say
which of them changed):

``design``        generator, design, top module, validated parameters and label
``rtl``           every rendered RTL file (name and content, in compile order)
``sdc``           the rendered SDC
``platform``      every setting of ``platforms/<pdk>.yaml`` (the typed model)
``flow``          the last step asked for (``--to``), synthesis parallelism, SC job name, skipped
                  OpenROAD reports, the routing closure loop's settings
``schema``        ``CACHE_SCHEMA``, the key's own layout
``tools``         found/missing and version of each flow tool (``steps.FLOW_TOOLS``; for Yosys also
                  whether it is our pyosys bridge) and of siliconcompiler, lambdapdk, pyosys
``pdk_data``      the lambdapdk data root and a fingerprint of the PDK's and its std-cell library's
                  files (relative path, size, mtime): cheap to take, changes when the data does
``orchestrator``  package version and a hash of the sources of the modules that shape a record
``accuracy``      only for a point with an accuracy task: the task (dataset, layer, seed, options)
                  and the generator's identity of its learning code and libraries

Where nodes run (``--scheduler``) and how many jobs run at once are not part of the key.

A hit reuses the newest history record with that key whose status is ``pass`` or ``partial`` (a
failed job is run again: failures may be transient). A ``--to STEP`` job with no record of its own
also reuses the record of the same job run without ``--to`` when that run finished STEP. The
reused record is written to the history as a new record (new run id and timestamp, ``cached:
true``): the history stays append-only, shows that the run happened, and ``check`` compares against
tonight's record either way.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from orchestrator import __version__, accuracy
from orchestrator.config import Config
from orchestrator.designs import RenderedDesign
from orchestrator.flow import SC_JOBNAME
from orchestrator.fsutil import atomic_write_json
from orchestrator.history import HistoryError, load_record, read_record_data
from orchestrator.jobs import Job
from orchestrator.record import RunRecord, make_run_id, parameters_key
from orchestrator.tools import FLOW_TOOLS, Toolchain

CACHE_SCHEMA = 1  # bump when the key's composition changes

KEY_FILE = "orchestrator-key.json"

FLOW_PACKAGES = ("siliconcompiler", "lambdapdk", "pyosys")

# Modules (and packages) of orchestrator/ whose code cannot change what a record holds: they read
# records or show them. Every other module is hashed into the key, a new one by default.
NOT_RESULT_MODULES = frozenset({"report", "check", "cli", "history", "progress", "orfs_import", "docgen", "__main__"})

REUSABLE_STATUS = ("pass", "partial")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def files_digest(files: Iterable[Path], base: Path) -> str:
    """Hash of file names (relative to ``base``) and contents, in the given order."""
    digest = hashlib.sha256()
    for path in files:
        path = Path(path)
        name = str(path.relative_to(base)) if path.is_relative_to(base) else path.name
        content = path.read_bytes()
        digest.update(_canonical([name, len(content)]))
        digest.update(content)
    return digest.hexdigest()


def tool_identity(toolchain: Toolchain) -> dict[str, Any]:
    tools: dict[str, Any] = {}
    for name in FLOW_TOOLS:
        status = toolchain.tools.get(name)
        if status is None or not status.found:
            tools[name] = None
        else:
            tools[name] = {"version": status.version, "bridge": status.sc_path_dir is not None}
    return {"tools": tools, "packages": package_versions()}


@cache
def _package_versions() -> tuple[tuple[str, str | None], ...]:
    versions = []
    for name in FLOW_PACKAGES:
        try:
            versions.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            versions.append((name, None))
    return tuple(versions)


def package_versions() -> dict[str, str | None]:
    return dict(_package_versions())


def result_module_files() -> list[Path]:
    """The source files of every module that shapes a record (all but ``NOT_RESULT_MODULES``)."""
    package_dir = Path(__file__).resolve().parent
    files = []
    for path in sorted(package_dir.rglob("*.py")):
        top = path.relative_to(package_dir).parts[0].removesuffix(".py")
        if top not in NOT_RESULT_MODULES:
            files.append(path)
    return files


@cache
def orchestrator_identity() -> dict[str, str]:
    package_dir = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in result_module_files():
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return {"version": __version__, "sources": digest.hexdigest()}


def pdk_data_identity(data_root: Path | None, pdk: str, stdcell_lib: str) -> dict[str, Any]:
    """lambdapdk version, data root and a stat fingerprint of ``<root>/lambdapdk/<pdk>`` (all of it
    but the other libraries under ``libs/``). Without a data root lambdapdk uses its own download
    cache, which its version identifies."""
    identity: dict[str, Any] = {"lambdapdk": package_versions().get("lambdapdk"), "data_root": None}
    if data_root is None:
        return identity
    pdk_dir = Path(data_root) / "lambdapdk" / pdk
    identity["data_root"] = str(data_root)
    entries: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(pdk_dir):
        rel_dir = Path(dirpath).relative_to(pdk_dir)
        if rel_dir == Path("libs"):
            dirnames[:] = [d for d in dirnames if d == stdcell_lib]
        dirnames.sort()
        for name in sorted(filenames):
            try:
                stat = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            entries.append((str(rel_dir / name), stat.st_size, stat.st_mtime_ns))
    identity["files"] = len(entries)
    identity["fingerprint"] = _sha256(_canonical(entries))
    return identity


def key_components(
    config: Config,
    job: Job,
    rendered: RenderedDesign,
    toolchain: Toolchain,
    to: str | None,
) -> dict[str, Any]:
    """Every input that decides the job's record, one entry per component (see module doc)."""
    platform = job.platform
    components = {
        "schema": CACHE_SCHEMA,
        "design": {
            "generator": job.spec.generator,
            "design": job.spec.name,
            "top": rendered.top,
            "parameters": job.record_parameters,
        },
        "rtl": files_digest(rendered.rtl_files, rendered.out_dir),
        "sdc": files_digest([rendered.sdc_file], rendered.out_dir),
        "platform": _sha256(_canonical(platform.model_dump(mode="json"))),
        # Not the step time limits (flow.step_timeout_s, step_timeouts_s): a limit changes no result
        # a job records as pass or partial, only whether a slow step gets to finish, and a job it
        # ended is a fail, which is never reused. In the key, raising a limit would re-run every
        # finished job for nothing; a job that finished under a higher limit stays a true result.
        "flow": {"to": to, "syn_np": config.flow.syn_np, "jobname": SC_JOBNAME,
                 "openroad_skip_reports": sorted(config.flow.openroad_skip_reports),
                 "closure": config.flow.closure.model_dump(mode="json"),
                 **({"detailed_route_end_iteration": config.flow.detailed_route_end_iteration}
                    if config.flow.detailed_route_end_iteration is not None else {})},
        "tools": tool_identity(toolchain),
        "pdk_data": pdk_data_identity(config.resolved_pdk_data_root(), platform.pdk, platform.stdcell_lib),
        "orchestrator": orchestrator_identity(),
    }
    if job.spec.accuracy is not None:  # absent otherwise: the keys of hardware-only jobs stay as they were
        components["accuracy"] = accuracy.key_component(job.spec.generator, job.spec.accuracy)
    return components


def job_key(components: dict[str, Any]) -> str:
    return _sha256(_canonical(components))


def changed_components(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Names of the components that differ (all of them when there is nothing to compare)."""
    if not isinstance(old, dict):
        return []
    return [name for name in new if old.get(name) != new[name]] + [name for name in old if name not in new]


_ABSENT = object()
MAX_CHANGES_SHOWN = 3  # per component: a miss reason stays one readable line


def _differences(before: Any, after: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) of every leaf that differs; a key where only one side is a dict
    (a tool that appeared or went missing) is one difference, not one per sub-key."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in dict.fromkeys([*after, *before]):
            found += _differences(before.get(key, _ABSENT), after.get(key, _ABSENT),
                                  f"{prefix}.{key}" if prefix else str(key))
        return found
    return [] if before == after else [(prefix, before, after)]


def _shown_value(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, dict) and "version" in value:  # a found tool: its version says it
        value = value["version"]
    text = "none" if value is None else str(value)
    # Digests (RTL, platform, sources) say nothing to a reader: 12 characters tell them apart.
    return text if len(text) <= 24 else text[:12] + "…"


def explain_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Per changed component, which keys changed and how: "design changed: C 32 -> 8". A
    component that is one digest (rtl, sdc, platform) has no keys: "rtl changed"."""
    if not isinstance(old, dict):
        return []
    explained = []
    for name in changed_components(old, new):
        before, after = old.get(name, _ABSENT), new.get(name, _ABSENT)
        if not (isinstance(before, dict) and isinstance(after, dict)):
            explained.append(f"{name} changed")
            continue
        changes = _differences(before, after)
        # The design's parameters are what a user sets (--param C=8): name them as such.
        shown = [f"{key.removeprefix('parameters.')} {_shown_value(was)} -> {_shown_value(now)}"
                 for key, was, now in changes[:MAX_CHANGES_SHOWN]]
        more = f", {len(changes) - MAX_CHANGES_SHOWN} more" if len(changes) > MAX_CHANGES_SHOWN else ""
        explained.append(f"{name} changed: {', '.join(shown)}{more}")
    return explained


def read_components(path: Path) -> dict[str, Any] | None:
    """The components stored in a key file (``KEY_FILE``), or None."""
    try:
        data = read_record_data(Path(path))
    except (OSError, ValueError):  # missing, not UTF-8, not JSON, not a regular file: no comparison
        return None
    components = data.get("components") if isinstance(data, dict) else None
    return components if isinstance(components, dict) else None


# ----------------------------------------------------------------------------- history side


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class HistoryIndex:
    """What a run needs from the history, from one pass over the (pdk, design) folders it touches:
    the newest reusable record per job key, and the newest runtime per job (to start long jobs first)."""

    reusable: dict[str, tuple[datetime, str, Path]] = field(default_factory=dict)
    runtime_s: dict[tuple[str, str, str], tuple[datetime, float]] = field(default_factory=dict)

    @classmethod
    def scan(cls, history_dir: Path, pairs: Iterable[tuple[str, str]]) -> HistoryIndex:
        index = cls()
        for pdk, design in sorted(set(pairs)):
            folder = Path(history_dir) / pdk / design
            if not folder.is_dir():
                continue
            for path in folder.glob("*.json"):
                if path.name.startswith("."):
                    continue
                try:
                    data = read_record_data(path)
                    if isinstance(data, dict):
                        index._add(path, data)
                except (OSError, ValueError, TypeError, AttributeError):
                    # `history` reports unreadable or malformed records; here they are just not reusable.
                    continue
        return index

    def _add(self, path: Path, data: dict[str, Any]) -> None:
        if data.get("source", "siliconcompiler") != "siliconcompiler":
            return
        stamp = _parse_time(data.get("timestamp"))
        if stamp is None:
            return
        run_id = str(data.get("run_id", ""))
        key = data.get("job_key")
        if key and data.get("status") in REUSABLE_STATUS:
            best = self.reusable.get(key)
            if best is None or (stamp, run_id) > best[:2]:
                self.reusable[key] = (stamp, run_id, path)
        # RunRecord.total_runtime_s on the raw JSON: the scan reads thousands of records and
        # validates only the one a hit reuses (``lookup``).
        runtimes = [s.get("runtime_s") for s in data.get("steps", []) if s.get("runtime_s") is not None]
        if runtimes and not data.get("cached"):
            identity = (str(data.get("pdk")), str(data.get("design")), parameters_key(data.get("parameters") or {}))
            best_runtime = self.runtime_s.get(identity)
            if best_runtime is None or stamp > best_runtime[0]:
                self.runtime_s[identity] = (stamp, float(sum(runtimes)))

    def lookup(self, key: str) -> RunRecord | None:
        """The newest reusable record with this key, or None (also when it no longer parses)."""
        hit = self.reusable.get(key)
        if hit is None:
            return None
        try:  # validated as `history` reads it: a record it would quarantine is never reused
            return load_record(hit[2])
        except HistoryError:
            return None

    def expected_runtime_s(self, job: Job) -> float | None:
        hit = self.runtime_s.get((job.platform.name, job.spec.name, parameters_key(job.record_parameters)))
        return hit[1] if hit else None


def reuse_record(previous: RunRecord, job: Job, started: datetime) -> RunRecord:
    """The record of a cache hit: the previous record's results under a new run id and time."""
    run_id = make_run_id(job.run_name, job.platform.name, job.parameters, started, salt="cached")
    return previous.model_copy(update={"run_id": run_id, "timestamp": started, "cached": True}, deep=True)


# ----------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Decision:
    """Run the job or reuse a record, and why: ``reuse`` is the hit's record (None: run it);
    ``reason`` says why it runs ("first run", "design changed: C 32 -> 8; rtl changed", "--force")."""

    reuse: RunRecord | None
    reason: str | None


def last_key_path(job: Job, build_dir: Path) -> Path:
    # Per run name, not per build directory: a new parameter set gets a new directory, and the
    # next run should still say what changed.
    return build_dir.parent / f"{job.run_name}.last-key.json"


def _covering_record(history: HistoryIndex, components: dict[str, Any]) -> RunRecord | None:
    """For ``--to STEP``: the record of the same job run as far as the tools allow (``to`` unset),
    if it ran STEP to success. Its steps up to STEP are the computation a ``--to`` run would make
    (SC runs the same nodes with the same inputs); the record keeps what it ran beyond, and says so
    in its steps and stage."""
    flow_component = components.get("flow")
    if not isinstance(flow_component, dict) or flow_component.get("to") is None:
        return None
    wider = job_key({**components, "flow": {**flow_component, "to": None}})
    record = history.lookup(wider)
    if record is None:
        return None
    step = flow_component["to"]
    ran = any(info.step == step and info.status == "success" for info in record.steps)
    return record if ran else None


def decide(history: HistoryIndex, job: Job, components: dict[str, Any], build_dir: Path, *, force: bool,
           now: datetime) -> Decision:
    """A hit (an unchanged job with a reusable record, unless ``force``) or a miss with its reason.
    A miss stores the components for the next run's comparison. ``job.key`` is
    ``job_key(components)``: the caller hashed them once, when it set it."""
    key = job.key
    last_key_file = last_key_path(job, build_dir)
    previous_components = read_components(last_key_file)
    if not force:
        previous = history.lookup(key) or _covering_record(history, components)
        if previous is not None:
            return Decision(reuse_record(previous, job, now), None)
    if force:
        reason = "--force"
    elif previous_components is None:
        reason = "first run"
    else:
        changed = explain_changes(previous_components, components)
        reason = "; ".join(changed) if changed else "no reusable record"
    for path in (build_dir / KEY_FILE, last_key_file):
        atomic_write_json(path, {"job_key": key, "components": components})
    return Decision(None, reason)
