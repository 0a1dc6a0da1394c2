"""Find ORFS run folders in an archive: walk it, hold every path to its run folder, list the files.

One ORFS run folder becomes one ``RunRecord`` (``source="orfs"``). Run folders are found by
their layout, not by their names; every layout of the halutmatmul report archive is handled:

* ``<unit>/metrics.json`` (+ ``reports/<platform>/<unit>/<variant>/metrics.json``, same data) and
  ``logs/<platform>/<unit>/<variant>/<step>.json`` -- the 2022 flow. ``metrics.json`` is a JSON
  list holding one dict, or a dict.
* ``<unit>/reports/metadata.json`` (plain dict) and a ``.done`` marker -- the 2023 flow.
* ``history/<platform>/<timestamp>/<unit>/`` and ``history/<platform>/<unit>/<timestamp>/<unit>/``
  wrap either of the above; ``history/<platform>/<timestamp>/`` may itself be the run folder.

The archive is untrusted: a folder symlink out of a run folder (``results -> /``) is neither walked
nor a source of files, and a folder is a run by its layout alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.errors import OrchestratorError

METRICS_FILE_NAMES = ("metrics.json", "metadata.json")
IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".gif", ".svg")

_TIMESTAMP_DIR = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[-_T ](\d{2})[-:](\d{2})[-:](\d{2})$")
_STEP_LOG_NAME = re.compile(r"^\d+_(?:\d+_)?[A-Za-z][A-Za-z0-9_]*$")


class OrfsImportError(OrchestratorError):
    """An ORFS run folder cannot be turned into a record at all (e.g. its platform is unknown)."""


@dataclass
class OrfsRun:
    """One ORFS run folder, as found on disk (complete or not)."""

    path: Path  # the run folder, absolute
    unit: str  # ORFS design name from the folder layout (e.g. "halut_encoder_4")
    platform_hints: tuple[str, ...]  # folder names that may name the platform, most specific first
    folder_timestamp: datetime | None  # from a YYYY-MM-DD-HH-MM-SS folder name
    metrics_files: tuple[Path, ...] = ()  # metrics.json / metadata.json copies, preferred first
    step_logs: tuple[Path, ...] = ()  # per-step metric JSONs, in flow order
    synth_stat: Path | None = None
    reports: tuple[Path, ...] = ()
    images: dict[str, Path] = field(default_factory=dict)
    gds: Path | None = None
    done_marker: bool = False


def folder_timestamp(name: str) -> datetime | None:
    match = _TIMESTAMP_DIR.match(name)
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=UTC)
    except ValueError:
        return None


def _is_step_log(path: Path) -> bool:
    return path.suffix == ".json" and bool(_STEP_LOG_NAME.match(path.stem))


def _step_log_key(path: Path) -> tuple[int, int, str]:
    # "2_1_floorplan" -> (2, 1); a step without a minor number ("6_report") ends its group.
    match = re.match(r"^(\d+)_(?:(\d+)_)?", path.stem)
    if not match:
        return (1 << 30, 0, path.stem)
    return (int(match.group(1)), int(match.group(2)) if match.group(2) else 1 << 30, path.stem)


def _children(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []


def _inside(path: Path, run: Path) -> bool:
    """Whether ``path``, every symlink followed, is in the run folder ``run`` (resolved). A run's
    ``results -> /`` must not make the importer walk the file system or take a foreign file."""
    try:
        return path.resolve().is_relative_to(run)
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _folder(path: Path, run: Path) -> bool:
    return _inside(path, run) and path.is_dir()


def _variant_dirs(root: Path, run: Path) -> list[Path]:
    """``root/<platform>/<design>/<variant>/`` folders (the 2022 flow's logs/ and reports/) that
    lie in the run folder ``run``."""
    return [v for p in _children(root) if _folder(p, run) for d in _children(p) if _folder(d, run)
            for v in _children(d) if _folder(v, run)]


def _looks_like_run(directory: Path, names: set[str]) -> bool:
    if names & set(METRICS_FILE_NAMES) or ".done" in names:
        return True
    if any(_is_step_log(directory / n) for n in names if n.endswith(".json")):
        return True
    reports, logs = directory / "reports", directory / "logs"
    run = directory.resolve()
    if _folder(reports, run):
        if any((reports / n).is_file() for n in (*METRICS_FILE_NAMES, "synth_stat.txt")) or _variant_dirs(reports, run):
            return True
    if _folder(logs, run) and any(any(_is_step_log(f) for f in _children(v)) for v in _variant_dirs(logs, run)):
        return True
    return False


def _image_key(path: Path) -> str:
    stem = path.name.split(".", 1)[0]
    if stem.startswith("cts_"):
        return "cts"
    return stem.removeprefix("final_")


def _collect_run(directory: Path) -> OrfsRun:
    # Every folder walked lies in the run folder once symlinks are followed: a folder symlink out
    # of it (results -> /) is neither walked nor a source of files.
    run = directory.resolve()
    reports_dir, logs_dir = directory / "reports", directory / "logs"
    report_variants = _variant_dirs(reports_dir, run) if _folder(reports_dir, run) else []
    log_variants = _variant_dirs(logs_dir, run) if _folder(logs_dir, run) else []

    def files(paths) -> list[Path]:
        # Only the folders are held to the run folder here: a file symlink out of it is kept as
        # the run's and refused by name where its bytes would be used (report.site: "not copied").
        return [f for f in paths if f.is_file()]

    metrics_files = [directory / n for n in METRICS_FILE_NAMES] + [reports_dir / n for n in METRICS_FILE_NAMES]
    metrics_files += [v / n for v in report_variants for n in METRICS_FILE_NAMES]
    metrics_files = files(metrics_files)

    step_logs = [f for v in log_variants for f in _children(v) if _is_step_log(f)]
    step_logs += [f for f in _children(logs_dir) if _is_step_log(f)] if _folder(logs_dir, run) else []
    step_logs += [f for f in _children(directory) if _is_step_log(f)]
    step_logs = sorted(files(step_logs), key=_step_log_key)

    report_files: list[Path] = []
    for folder in [directory, reports_dir, *report_variants]:
        if _folder(folder, run):
            report_files += [f for f in files(_children(folder))
                             if f.suffix in (".txt", ".html", ".rpt") or f in metrics_files]
    synth_stats = [f for f in report_files if f.name == "synth_stat.txt"]

    images: dict[str, Path] = {}
    for folder in (reports_dir, directory / "images"):
        if _folder(folder, run):  # rglob follows the folder itself when it is a symlink
            for image in files(sorted(folder.rglob("*"))):
                if image.name.lower().endswith(IMAGE_SUFFIXES):
                    images.setdefault(_image_key(image), image)

    results = directory / "results"
    gds_files = files(sorted(directory.glob("*.gds")) + (sorted(results.rglob("*.gds")) if _folder(results, run)
                                                          else []))
    gds = next((g for g in gds_files if g.stem == "6_final"), gds_files[0] if gds_files else None)

    # Platform / design names from the 2022 layout (logs/<platform>/<design>/<variant>).
    layout_parts = [(v.parent.parent.name, v.parent.name) for v in (*log_variants, *report_variants)]
    # The layout names ORFS's DESIGN_NAME; the folder name is only a label (e.g. halut_fp_16_32_adder).
    unit = layout_parts[0][1] if layout_parts else directory.name
    hints = tuple(dict.fromkeys([p for p, _ in layout_parts] + [a.name for a in [directory, *directory.parents][:5]]))

    stamp = None
    for candidate in (directory, directory.parent):
        stamp = folder_timestamp(candidate.name)
        if stamp:
            break
    return OrfsRun(
        path=directory,
        unit=unit,
        platform_hints=hints,
        folder_timestamp=stamp,
        metrics_files=tuple(metrics_files),
        step_logs=tuple(step_logs),
        synth_stat=synth_stats[0] if synth_stats else None,
        reports=tuple(report_files),
        images=images,
        gds=gds,
        done_marker=(directory / ".done").exists(),
    )


def discover_runs(path: Path) -> list[OrfsRun]:
    """Every ORFS run folder under ``path`` (or ``path`` itself), including broken ones."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise OrfsImportError(f"{path}: not a directory")
    runs: list[OrfsRun] = []
    for current, dirs, files in os.walk(root):
        directory = Path(current)
        if _looks_like_run(directory, set(files) | set(dirs)):
            runs.append(_collect_run(directory))
            dirs[:] = []  # a run's own reports/logs are not runs
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    runs.sort(key=lambda r: str(r.path))
    return runs
