"""History: immutable JSON records under ``reports/history/<pdk>/<design>/<run_id>.json``.

One file per job keeps the history merge-conflict-free in git and lets any number of
processes append at once: each record is written atomically under a unique name and never
rewritten. Loading gives ``RunRecord`` objects or one flat pandas DataFrame.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from orchestrator.errors import OrchestratorError
from orchestrator.fsutil import atomic_write_json
from orchestrator.names import UnsafeNameError, check_name, did_you_mean
from orchestrator.record import METRIC_NAMES, PLAUSIBLE_MAX, SIGNED_METRICS, RunRecord, parameters_key

if TYPE_CHECKING:  # pandas costs ~0.4 s to import; `run` only needs it to print nothing
    import pandas as pd


class HistoryError(OrchestratorError):
    """A history file cannot be read (or a record cannot be stored under a safe name)."""


_log = logging.getLogger(__name__)

# A record is a few kB; a file far larger than this in the history is not one.
MAX_RECORD_BYTES = 16 * 1024 * 1024
# A record is about five levels deep (record > steps > step > ran_on > value). Deeper JSON is no
# record: json.loads raises RecursionError past ~1000 levels, and anything deep that does parse
# would overflow the next recursive reader (pydantic, json.dumps of the parameters, pandas).
MAX_RECORD_DEPTH = 32


# Largest plausible magnitude per metric (``MetricSpec.plausible_max``): a value beyond it is a
# corrupt or hand-made file (and overflows derived figures, axes and date conversions); only the
# registry's signed metrics (slacks, WNS, TNS) may be negative. A die of 1 m^2 (1e12 um^2) or 1 THz
# is no real run.
PLAUSIBLE_LIMIT: dict[str, float] = PLAUSIBLE_MAX
# Clock skew between machines is tolerated; a record from next year is not.
FUTURE_TOLERANCE = timedelta(days=1)


def implausible_metric(name: str, value: float | None) -> str | None:
    """Why ``value`` cannot be a real figure for metric ``name`` (None: it can)."""
    if value is None:
        return None
    limit = PLAUSIBLE_LIMIT.get(name, 1e15)
    if not math.isfinite(value):
        return "not a finite number"
    if value < 0 and name not in SIGNED_METRICS:
        return "negative"
    if abs(value) > limit:
        return f"implausible, above {limit:g}"
    return None


def in_the_future(timestamp: datetime) -> bool:
    return timestamp > datetime.now(UTC) + FUTURE_TOLERANCE


def implausible_reason(record: RunRecord) -> str | None:
    """Why a stored record cannot be a real run (a future time stamp, an absurd metric), or None."""
    if in_the_future(record.timestamp):
        return f"timestamp in the future (value: {record.timestamp.isoformat()})"
    for name in METRIC_NAMES:
        value = getattr(record.metrics, name)
        problem = implausible_metric(name, value)
        if problem:
            return f"{name}: {problem} (value: {value!r})"
    return None


def check_record_names(record: RunRecord) -> None:
    """UnsafeNameError unless every field of ``record`` that becomes a name (its pdk, design and run
    id: the parts of its history path; its label: part of run ids and build directories) is a safe
    name (``names``). Applied on write and on read alike: a record the history cannot store under
    its own name is not read back either, whatever brought it into the folder."""
    check_name(record.pdk, "record pdk")
    check_name(record.design, "record design")
    check_name(record.run_id, "record run_id")
    if "label" in record.parameters:
        check_name(record.parameters["label"], "record parameters.label")


def record_path(history_dir: Path, record: RunRecord) -> Path:
    """``<history_dir>/<pdk>/<design>/<run_id>.json``; each part must be a safe name (``names``), so a
    record can never be stored outside the history or under a name the history cannot load again."""
    try:
        check_record_names(record)
    except UnsafeNameError as exc:
        raise HistoryError(f"{history_dir}: record not stored: {exc}") from None
    return Path(history_dir).joinpath(record.pdk, record.design, f"{record.run_id}.json")


def write_record(history_dir: Path, record: RunRecord) -> Path | None:
    """Write one record atomically. Returns its path, or None if that run id is already stored
    (re-imports are idempotent; a record is never overwritten)."""
    path = record_path(history_dir, record)
    if path.exists():
        return None
    try:
        return atomic_write_json(path, record.to_json_dict(), exclusive=True)
    except FileExistsError:
        return None


def _scan_record_files(history_dir: Path) -> tuple[list[Path], list[Path]]:
    """(regular record files, other entries named like one: FIFOs, devices, symlinks, folders)."""
    root = Path(history_dir)
    if not root.is_dir():
        return [], []
    files, others = [], []
    # Temp files start with "." and are never picked up.
    for path in sorted(p for p in root.glob("*/*/*.json") if not p.name.startswith(".")):
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # removed meanwhile
        (files if stat.S_ISREG(mode) else others).append(path)
    return files, others


def iter_record_files(history_dir: Path) -> list[Path]:
    """Every record file: ``*/*/*.json`` that is a regular file (not a symlink). A FIFO would block
    the reader, a device never end; those and symlinks are skipped with a warning."""
    files, others = _scan_record_files(history_dir)
    for path in others:
        _log.warning("warning: %s: not a regular file, skipped", path)
    return files


def _nested_deeper_than(data: object, limit: int) -> bool:
    """Whether ``data`` (parsed JSON) has containers nested more than ``limit`` deep. Iterative, so
    the check itself cannot overflow the stack it protects."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def read_record_data(path: Path) -> object:
    """The parsed JSON of a record file; OSError / ValueError (UnicodeDecodeError, JSONDecodeError,
    too deep) when it cannot be one. Opened without following symlinks or blocking on a FIFO; at
    most ``MAX_RECORD_BYTES`` are read and at most ``MAX_RECORD_DEPTH`` levels accepted."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError("not a regular file")
        data = handle.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise OSError(f"larger than {MAX_RECORD_BYTES} bytes")
    too_deep = f"JSON nested deeper than {MAX_RECORD_DEPTH} levels"
    try:
        parsed = json.loads(data.decode("utf-8"))
    except RecursionError:  # the C decoder gives up at the interpreter's recursion limit
        raise ValueError(too_deep) from None
    if _nested_deeper_than(parsed, MAX_RECORD_DEPTH):
        raise ValueError(too_deep)
    return parsed


def load_record(path: Path) -> RunRecord:
    """One record file as a ``RunRecord``, or HistoryError: one line naming the file and what is
    wrong with it (unreadable, not JSON, too large or too deep, invalid, an unsafe name)."""
    try:
        data = read_record_data(Path(path))
    except UnicodeDecodeError as exc:
        raise HistoryError(f"{path}: cannot read history record: not UTF-8 (byte offset {exc.start})") from None
    except (OSError, ValueError) as exc:
        raise HistoryError(f"{path}: cannot read history record: {exc}") from None
    try:
        record = RunRecord.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise HistoryError(f"{path}: invalid history record: key '{key}': {first['msg']}") from None
    try:
        check_record_names(record)
    except UnsafeNameError as exc:
        raise HistoryError(f"{path}: invalid history record: {exc}") from None
    return record


@dataclass(frozen=True)
class SkippedRecord:
    """A file in the history that is not a usable record, and the (pdk, design) folder it is in:
    what a reader of the history could not take into account."""

    path: Path
    message: str  # one line naming the file and the problem
    pdk: str
    design: str


@dataclass
class History:
    """Every usable record, oldest first, and the files that were quarantined instead."""

    records: list[RunRecord] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # run id -> the file it was read from


def read_history(history_dir: Path) -> History:
    """Every record under ``history_dir``. One bad file (a FIFO, a truncated or foreign file, one
    that is too large or too deep, an invalid record, an unsafe name) is skipped and listed in
    ``skipped``; it never stops the others from being read."""
    files, others = _scan_record_files(history_dir)
    result = History()

    def skip(path: Path, message: str) -> None:
        result.skipped.append(SkippedRecord(path, message, pdk=path.parent.parent.name, design=path.parent.name))

    for path in others:
        skip(path, f"{path}: not a regular file, skipped")
    for path in files:
        try:
            record = load_record(path)
        except HistoryError as exc:
            skip(path, f"{exc}, skipped")
            continue
        result.records.append(record)
        result.files.setdefault(record.run_id, path)
    result.records.sort(key=record_sort_key)
    result.skipped.sort(key=lambda s: s.path)
    return result


def load_records(history_dir: Path) -> list[RunRecord]:
    """Every record, oldest first; HistoryError on the first file that is not one (``read_history``
    skips such files instead)."""
    records = [load_record(p) for p in iter_record_files(history_dir)]
    records.sort(key=record_sort_key)
    return records


# ----------------------------------------------------------------------------- import roots

# Under the build folder, a per-machine place records never arrive in (the nightly restores
# reports/history/, never build/); a leading "." keeps it apart from every <pdk> folder, since no
# safe name starts with one.
IMPORT_ROOTS_DIR = ".orfs-import-roots"


def remember_import_root(build_dir: Path, root: Path) -> Path:
    """Note that ORFS runs were imported from ``root``: the report publishes an imported record's
    files only from such a folder. One file per root (named by its hash), so concurrent imports
    never conflict and importing again changes nothing."""
    resolved = str(Path(root).resolve())
    name = hashlib.sha256(resolved.encode()).hexdigest()[:16]
    return atomic_write_json(Path(build_dir) / IMPORT_ROOTS_DIR / f"{name}.json", {"root": resolved})


def import_roots(build_dir: Path) -> list[Path]:
    """Every folder ``remember_import_root`` noted under ``build_dir``; unreadable notes are ignored
    (they only ever widen what may be published, so a bad one must not)."""
    folder = Path(build_dir) / IMPORT_ROOTS_DIR
    roots = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = read_record_data(path)
        except (OSError, ValueError):
            continue
        root = data.get("root") if isinstance(data, dict) else None
        if isinstance(root, str) and Path(root).is_absolute():
            roots.append(Path(root))
    return roots


# Columns of the flat table, in display order. Parameters follow as "param.<name>".
BASE_COLUMNS: tuple[str, ...] = (
    "run_id",
    "timestamp",
    "design",
    "pdk",
    "source",
    "status",
    "reason",
    "stage_reached",
    "metrics_origin",
    "cached",
    "params_key",
    *METRIC_NAMES,
    "ge_reference_cell",
    "ge_reference_area_um2",
    "total_runtime_s",
    "orchestrator_commit",
    "build_dir",
    "gds",
)


def record_to_row(record: RunRecord) -> dict:
    row: dict = {
        "run_id": record.run_id,
        "timestamp": record.timestamp,
        "design": record.design,
        "pdk": record.pdk,
        "source": record.source,
        "status": record.status,
        "reason": record.reason,
        "stage_reached": record.stage_reached,
        "metrics_origin": record.metrics_origin,
        "cached": record.cached,
        "params_key": parameters_key(record.parameters),
        "ge_reference_cell": record.ge_reference_cell,
        "ge_reference_area_um2": record.ge_reference_area_um2,
        "orchestrator_commit": record.orchestrator_commit,
        "build_dir": record.build_dir,
        "gds": record.gds,
    }
    for name in METRIC_NAMES:
        row[name] = getattr(record.metrics, name)
    row["total_runtime_s"] = record.total_runtime_s
    for key, value in sorted(record.parameters.items()):
        row[f"param.{key}"] = value
    return row


def to_dataframe(records: Iterable[RunRecord]) -> pd.DataFrame:
    import pandas as pd

    rows = [record_to_row(r) for r in records]
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(BASE_COLUMNS))
    for name in BASE_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    param_cols = sorted(c for c in frame.columns if c.startswith("param."))
    frame = frame[list(BASE_COLUMNS) + param_cols]
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    for name in METRIC_NAMES + ("ge_reference_area_um2", "total_runtime_s"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame.sort_values(["timestamp", "run_id"], kind="stable").reset_index(drop=True)


def load_history(history_dir: Path) -> pd.DataFrame:
    return to_dataframe(load_records(history_dir))


def record_sort_key(record: RunRecord) -> tuple:
    """History order: timestamp, then run id (the DataFrame uses the same)."""
    return (record.timestamp, record.run_id)


def latest_records(records: Iterable[RunRecord], *, passing_only: bool = False) -> dict[tuple[str, str], RunRecord]:
    """Newest record per (design, pdk); with ``passing_only`` the newest passing one.
    The record-level twin of ``latest``: both pick the same run."""
    chosen: dict[tuple[str, str], RunRecord] = {}
    for record in records:
        if passing_only and record.status != "pass":
            continue
        key = (record.design, record.pdk)
        current = chosen.get(key)
        if current is None or record_sort_key(record) > record_sort_key(current):
            chosen[key] = record
    return chosen


def latest(frame: pd.DataFrame, *, passing_only: bool = False) -> pd.DataFrame:
    """The newest row per (design, pdk); with ``passing_only`` the newest passing one."""
    if frame.empty:
        return frame
    subset = frame[frame["status"] == "pass"] if passing_only else frame
    return subset.sort_values("timestamp", kind="stable").groupby(["design", "pdk"], as_index=False).tail(1)


class SelectionError(OrchestratorError):
    """A --pdk/--design filter names nothing known: a typo must not print an empty table and pass."""


def select_records(
    records: Iterable[RunRecord],
    *,
    pdk: str | None = None,
    design: str | None = None,
    known_pdks: Iterable[str] = (),
    known_designs: Iterable[str] = (),
) -> list[RunRecord]:
    """The records of one PDK and/or design. A name that is neither in the records nor in
    ``known_*`` (the config's platforms and designs) is a SelectionError with a suggestion."""
    records = list(records)
    for option, value, known in (("--pdk", pdk, {r.pdk for r in records} | set(known_pdks)),
                                 ("--design", design, {r.design for r in records} | set(known_designs))):
        if value is not None and value not in known:
            raise SelectionError(f"{option} {value!r}: not a known {option[2:]} of the history or the config "
                                 f"(known: {', '.join(sorted(known)) or 'none'})" + did_you_mean(value, known))
    return [r for r in records if (pdk is None or r.pdk == pdk) and (design is None or r.design == design)]
