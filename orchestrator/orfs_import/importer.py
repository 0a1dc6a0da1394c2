"""Import ORFS runs into the run history: one run folder -> one ``RunRecord``, stored once.

Run ids are deterministic: ORFS's ``run__flow__uuid`` when present (so ``latest/`` and its
``history/`` copy are one run), else the run folder path from its ``<platform>`` parent down.
Time stamps: ``run__flow__generate_date`` (when ORFS wrote the metrics, i.e. the flow's end;
ORFS records no start), else the folder's ``YYYY-MM-DD-HH-MM-SS`` name, else the newest file's
mtime. Naive times are taken as UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from orchestrator.config import Platform
from orchestrator.errors import first_line
from orchestrator.history import HistoryError, implausible_metric, in_the_future, write_record
from orchestrator.metrics import Artifacts, Figures, assemble_record
from orchestrator.names import UnsafeNameError, check_name
from orchestrator.orfs_import.find import OrfsImportError, OrfsRun, discover_runs
from orchestrator.orfs_import.mapping import _figures, _status, _steps, _tool_versions, design_from_orfs_name
from orchestrator.orfs_import.parse import _load_run_data, parse_generate_date
from orchestrator.record import RunRecord, make_run_id

RunAction = Literal["imported", "already_present", "not_imported"]


@dataclass(frozen=True)
class RunOutcome:
    path: Path
    run_id: str | None
    status: Literal["pass", "partial", "fail", "error"]  # record status; "error" = no record made
    reason: str | None
    action: RunAction
    pdk: str | None = None
    design: str | None = None


@dataclass
class ImportSummary:
    outcomes: list[RunOutcome] = field(default_factory=list)

    @property
    def found(self) -> int:
        return len(self.outcomes)

    @property
    def imported(self) -> int:
        return sum(1 for o in self.outcomes if o.action == "imported")

    @property
    def already_present(self) -> int:
        return sum(1 for o in self.outcomes if o.action == "already_present")

    @property
    def failed_runs(self) -> int:
        """Runs recorded (now or before) as failed."""
        return sum(1 for o in self.outcomes if o.status == "fail")

    @property
    def errors(self) -> int:
        """Run folders that could not become a record at all."""
        return sum(1 for o in self.outcomes if o.action == "not_imported")

    def counts(self) -> dict[tuple[str | None, str | None, str], int]:
        """(pdk, design, status) -> number of runs."""
        return dict(Counter((o.pdk, o.design, o.status) for o in self.outcomes))

    def summary_line(self) -> str:
        return (
            f"{self.found} ORFS runs found: {self.imported} imported, {self.already_present} already present, "
            f"{self.failed_runs} failed runs, {self.errors} not importable"
        )


def _match_platform(hints: list[str], platforms: dict[str, Platform]) -> tuple[str, Platform] | None:
    for hint in hints:
        if hint in platforms:
            return hint, platforms[hint]
    for hint in hints:
        for key, platform in platforms.items():
            if hint in (platform.pdk, platform.stdcell_lib):
                return key, platform
    return None


def _source_identity(run: OrfsRun, data: dict[str, Any], pdk: str) -> str:
    uuid = data.get("run__flow__uuid")
    if isinstance(uuid, str) and uuid.strip() and uuid.strip().upper() != "N/A":
        return f"uuid:{uuid.strip()}"
    parts = run.path.parts
    anchors = [i for i, part in enumerate(parts) if part == pdk]
    return "path:" + "/".join(parts[anchors[-1] if anchors else 0 :])


def _newest_mtime(run: OrfsRun) -> datetime:
    files = [*run.metrics_files, *run.step_logs, *run.reports]
    times = [f.stat().st_mtime for f in files if f.exists()] or [run.path.stat().st_mtime]
    return datetime.fromtimestamp(max(times), tz=UTC)


def _check_plausible(run: OrfsRun, figures: Figures, timestamp: datetime) -> None:
    """Raise OrfsImportError (the run is not importable) for values no real run has."""
    for name, value in figures.metrics.items():
        problem = implausible_metric(name, value)
        if problem:
            stage = figures.metric_steps.get(name, "?")
            raise OrfsImportError(f"{run.path}: {name} ({stage}): {problem} (value: {value!r})")
    if in_the_future(timestamp):
        raise OrfsImportError(f"{run.path}: run__flow__generate_date: in the future (value: {timestamp.isoformat()})")


def run_to_record(run: OrfsRun, platforms: dict[str, Platform]) -> RunRecord:
    """Turn one ORFS run folder into a record; broken runs give ``status="fail"`` with a reason.

    Raises OrfsImportError only when no record can be made (unknown platform, unsafe design name,
    implausible values).
    """
    return _run_to_record(run, platforms)[0]


def _run_to_record(run: OrfsRun, platforms: dict[str, Platform]) -> tuple[RunRecord, str | None]:
    """The record, and its path identity when its time stamp is only a file time (no uuid, no
    generate date, no time-stamped folder): touching the files changes such a run's id."""
    loaded = _load_run_data(run)
    data = loaded.data
    pdk, platform = _platform_of(run, data, platforms)
    orfs_design, design, parameters = _design_of(run, data)

    figures = _figures(run, data, pdk, platform, loaded.problems)
    steps = _steps(run, loaded)
    stage_reached = steps[-1].step if steps else None
    status, reason, crashed_step = _status(run, loaded, steps)
    if crashed_step is not None:
        steps.append(crashed_step)

    stamp = parse_generate_date(data.get("run__flow__generate_date")) or run.folder_timestamp
    timestamp = stamp or _newest_mtime(run)
    _check_plausible(run, figures, timestamp)
    identity = _source_identity(run, data, pdk)
    record = assemble_record(
        run_id=make_run_id(design, pdk, parameters, timestamp, salt=identity),
        source="orfs", design=design, top=orfs_design, pdk=pdk, platform=platform,
        parameters=parameters, timestamp=timestamp, status=status, reason=reason,
        stage_reached=stage_reached, figures=figures, steps=steps, tool_versions=_tool_versions(data),
        artifacts=Artifacts(
            logs={stage: str(log) for stage, log in loaded.log_stages},
            reports=[str(p) for p in run.reports],
            gds=str(run.gds) if run.gds else None,
            images={key: str(path) for key, path in run.images.items()},
        ),
        source_path=str(run.path),
    )
    return record, (identity if stamp is None and identity.startswith("path:") else None)


def _platform_of(run: OrfsRun, data: dict[str, Any], platforms: dict[str, Platform]) -> tuple[str, Platform]:
    """(platform name, platform) of a run: ``run__flow__platform``, else a folder name of its path."""
    orfs_platform = data.get("run__flow__platform")
    hints = ([orfs_platform] if isinstance(orfs_platform, str) else []) + list(run.platform_hints)
    matched = _match_platform(hints, platforms)
    if matched is None:
        known = ", ".join(sorted(platforms)) or "none"
        what = f"platform {orfs_platform!r}" if isinstance(orfs_platform, str) else "no known platform in its path"
        raise OrfsImportError(f"{run.path}: {what} (platforms: {known})")
    return matched


def _design_of(run: OrfsRun, data: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(ORFS design name, design, parameters) of a run; OrfsImportError for an unsafe name."""
    orfs_design = data.get("run__flow__design")
    if not isinstance(orfs_design, str) or not orfs_design.strip():
        orfs_design = run.unit
    orfs_design = orfs_design.strip()
    design, parameters = design_from_orfs_name(orfs_design)
    try:  # the design name becomes a history folder: ../../x must not climb out of it
        check_name(orfs_design, "run__flow__design")
        check_name(design, "run__flow__design")
    except UnsafeNameError as exc:
        raise OrfsImportError(f"{run.path}: {exc}") from None
    return orfs_design, design, parameters


# --------------------------------------------------------------------------------------------
# Import


def _artifact_count(record: RunRecord) -> tuple[int, int, int, int]:
    return (len(record.images), record.gds is not None, len(record.logs), len(record.reports))


def import_orfs(
    path: Path,
    history_dir: Path,
    platforms: dict[str, Platform],
    *,
    on_progress: Callable[[int, int, RunOutcome], None] | None = None,
) -> ImportSummary:
    """Import every ORFS run under ``path`` into ``history_dir``; re-importing adds nothing.

    A broken run becomes a failed record and never stops the import. When one run is found twice
    (halutmatmul's ``latest/`` repeats the newest ``history/`` run), the copy with the most
    artifacts is stored: ``latest/`` keeps the layout images and GDS that ``history/`` dropped.
    ``on_progress(done, total, outcome)`` is called after each run is stored or skipped.
    """
    runs = discover_runs(path)
    built: list[RunRecord | str] = []  # a record, or why none could be made
    file_timed: dict[int, str] = {}  # id(record) -> path identity, for runs timed by file mtimes
    for run in runs:
        try:
            record, identity = _run_to_record(run, platforms)
            built.append(record)
            if identity is not None:
                file_timed[id(record)] = identity
        except OrfsImportError as exc:
            built.append(str(exc))
        except (OSError, ValidationError) as exc:
            built.append(f"{run.path}: {first_line(exc)}")
        except Exception as exc:  # noqa: BLE001 -- one bad folder must never abort the others
            built.append(f"{run.path}: cannot be read: {type(exc).__name__}: {first_line(exc)}")
    best: dict[str, RunRecord] = {}
    for record in built:
        if isinstance(record, RunRecord):
            kept = best.get(record.run_id)
            if kept is None or _artifact_count(record) > _artifact_count(kept):
                best[record.run_id] = record

    summary = ImportSummary()
    for done, (run, record) in enumerate(zip(runs, built, strict=True), start=1):
        if isinstance(record, str):
            outcome = RunOutcome(path=run.path, run_id=None, status="error", reason=record, action="not_imported")
        else:
            try:
                keep = best[record.run_id] is record
                if keep and id(record) in file_timed:
                    keep = not _stored_before(history_dir, record, file_timed[id(record)])
                written = write_record(history_dir, record) if keep else None
            except (OSError, HistoryError) as exc:
                reason = f"{run.path}: record not written: {first_line(exc)}"
                outcome = RunOutcome(path=run.path, run_id=None, status="error", reason=reason, action="not_imported")
                summary.outcomes.append(outcome)
                if on_progress is not None:
                    on_progress(done, len(runs), outcome)
                continue
            outcome = RunOutcome(
                path=run.path,
                run_id=record.run_id,
                status=record.status,
                reason=record.reason,
                action="imported" if written is not None else "already_present",
                pdk=record.pdk,
                design=record.design,
            )
        summary.outcomes.append(outcome)
        if on_progress is not None:
            on_progress(done, len(runs), outcome)
    return summary


def _stored_before(history_dir: Path, record: RunRecord, identity: str) -> bool:
    """Whether a run timed only by its files' mtimes is already in the history under another time
    stamp (its files were touched since): same folder identity, same design, same figures."""
    from orchestrator.history import read_record_data

    suffix = identity.removeprefix("path:")
    folder = Path(history_dir) / record.pdk / record.design
    if not folder.is_dir():
        return False
    for path in folder.glob("*.json"):
        try:
            data = read_record_data(path)
        except (OSError, ValueError):
            continue
        if (isinstance(data, dict) and data.get("source") == "orfs" and data.get("top") == record.top
                and str(data.get("source_path", "")).endswith(suffix)
                and data.get("metrics") == record.metrics.model_dump(mode="json")):
            return True
    return False
