"""Import OpenROAD-flow-scripts (ORFS) run folders into the run history (``import-orfs``).

One ORFS run folder becomes one ``RunRecord`` (``source="orfs"``). Run folders are found by
their layout, not by their names; every layout of the halutmatmul report archive is handled:

* ``<unit>/metrics.json`` (+ ``reports/<platform>/<unit>/<variant>/metrics.json``, same data) and
  ``logs/<platform>/<unit>/<variant>/<step>.json`` -- the 2022 flow. ``metrics.json`` is a JSON
  list holding one dict, or a dict.
* ``<unit>/reports/metadata.json`` (plain dict) and a ``.done`` marker -- the 2023 flow.
* ``history/<platform>/<timestamp>/<unit>/`` and ``history/<platform>/<unit>/<timestamp>/<unit>/``
  wrap either of the above; ``history/<platform>/<timestamp>/`` may itself be the run folder.

Mapping: each metric ORFS reports is declared with its ORFS key and unit in the registry
(``MetricSpec.orfs``; the table is in docs/metrics.md). ``<stage>__<key>`` is read at the latest
ORFS stage that has it (``finish`` first, then ``detailedroute``, ``globalroute``, ``cts``, ...,
``floorplan``; ``steps.ORFS_STAGE_SPECS``) unless the registry names one stage, scaled from ORFS's
unit (a utilization fraction, watts, the platform's time unit) to the record's. Beyond that:

=============================================  ===================  ===============================
ORFS key                                       field                conversion
=============================================  ===================  ===============================
``synth_stat.txt`` "Chip area for top module"  ``area_um2``         only when no P&R stage has area
``constraints__clocks__details``               ``clock_period_ns``  "clk_i: 1500.0000" x time unit
(derived)                                      ``target_freq_mhz``  1000 / clock_period_ns
(derived)                                      ``fmax_mhz``         1000 / (period - ws); not when
                                                                    ws is exactly 0 (clamped slack)
(derived)                                      ``ge``               area / ge_reference_area_um2
(ORFS platform corner)                         ``voltage_v``        ``Platform.orfs_voltage_v``
``<stage>__runtime__total`` ("M:SS.ss")        ``StepInfo.runtime_s`` seconds
``<stage>__mem__peak`` (KiB)                   ``StepInfo.peak_memory_mib`` / 1024
=============================================  ===================  ===============================

``metric_steps`` names the ORFS stage each value came from (``"finish"``, ``"synth"``,
``"constraints"``, ``"platform"``). The time unit is ``run__flow__platform__time_units``, or the
platform file's ``time_unit`` when a file lacks it.

Design names: ORFS's uniquifying suffix is dropped (``halut_decoder__2864165611389228789`` ->
``halut_decoder``); a generator's ``orfs_design_parameters`` hook maps the rest (halut:
``halut_encoder_<N>``, the N-encoder wrapper, -> ``halut_encoder`` with ``{"EncUnits": N}``, the
RTL parameter); without a hook that answers, the name is the design. ``parameters["orfs_design"]``
keeps the ORFS name without the uniquifying suffix; ``top`` keeps it whole.

Status: ``pass`` = a metrics file with finish metrics; ``partial`` = a metrics file that stops
before finish; ``fail`` = no (readable) metrics file -- a crashed stage, a truncated file, a
folder with synthesis reports only. A failure keeps whatever real figures exist (synthesis area,
the last stage log's timing), never zeros.

Run ids are deterministic: ORFS's ``run__flow__uuid`` when present (so ``latest/`` and its
``history/`` copy are one run), else the run folder path from its ``<platform>`` parent down.
Time stamps: ``run__flow__generate_date`` (when ORFS wrote the metrics, i.e. the flow's end;
ORFS records no start), else the folder's ``YYYY-MM-DD-HH-MM-SS`` name, else the newest file's
mtime. Naive times are taken as UTC.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from orchestrator.config import TIME_UNIT_NS, Platform, read_text_file
from orchestrator.designs import generator_hooks
from orchestrator.errors import OrchestratorError, first_line
from orchestrator.history import HistoryError, implausible_metric, in_the_future, write_record
from orchestrator.names import UnsafeNameError, check_name
from orchestrator.record import METRIC_SPEC, MetricOrigin, Metrics, RunRecord, StepInfo, make_run_id
from orchestrator.steps import ORFS_STAGE, ORFS_STAGE_SPECS, orfs_stage_origin

# ORFS metric stages (the prefix of every metric key) in flow order, declared in ``steps``.
ORFS_STAGES: tuple[str, ...] = tuple(spec.name for spec in ORFS_STAGE_SPECS)

# Stages that report design figures, latest first: "the latest stage that has it".
_FIGURE_STAGES: tuple[str, ...] = tuple(spec.name for spec in reversed(ORFS_STAGE_SPECS) if spec.figures)

# ORFS step log (logs/<platform>/<design>/<variant>/<name>.json) -> metric stage it belongs to.
STEP_LOG_STAGE: dict[str, str] = {log: spec.name for spec in ORFS_STAGE_SPECS for log in spec.logs}
# The step logs the 2022 flow writes, in order: after the last one present, the next one is
# where the flow stopped.
_STEP_LOG_SEQUENCE: tuple[str, ...] = tuple(
    log for spec in ORFS_STAGE_SPECS if spec.in_log_sequence for log in spec.logs
)

def _orfs_key(name: str) -> str:
    """The ORFS key of a registry metric, with its stage when it has one."""
    orfs = METRIC_SPEC[name].orfs
    return f"{orfs.stage}__{orfs.key}" if orfs.stage else orfs.key


METRICS_FILE_NAMES = ("metrics.json", "metadata.json")
IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".gif", ".svg")

_TIMESTAMP_DIR = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[-_T ](\d{2})[-:](\d{2})[-:](\d{2})$")
_STEP_LOG_NAME = re.compile(r"^\d+_(?:\d+_)?[A-Za-z][A-Za-z0-9_]*$")
_UNIQUIFY_SUFFIX = re.compile(r"__\d+$")
_TIME_UNIT = re.compile(r"^\s*(\d*\.?\d+(?:[eE][-+]?\d+)?)?\s*(fs|ps|ns|us|ms|s)\s*$")
_RUNTIME_DAYS = re.compile(r"^\s*(\d+)\s+days?,\s*(.*)$")
_NOT_A_NUMBER = {"", "n/a", "na", "err", "error", "none", "null", "nan", "-"}


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


# --------------------------------------------------------------------------------------------
# Value parsing


def parse_number(value: Any) -> float | None:
    """An ORFS metric value as float; None for "N/A", "ERR", non-finite or non-numeric values."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in _NOT_A_NUMBER:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_peak_memory_mib(value: Any) -> float | None:
    """ORFS ``<stage>__mem__peak``: the stage's peak resident set in KiB (GNU time's %M), as MiB."""
    number = parse_number(value)
    return number / 1024.0 if number is not None and number >= 0 else None


def parse_runtime_s(value: Any) -> float | None:
    """ORFS runtimes: "M:SS.ss", "H:MM:SS[.ffffff]", "N day(s), H:MM:SS", or plain seconds."""
    number = parse_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        return None
    text = value.strip()
    days = 0
    match = _RUNTIME_DAYS.match(text)
    if match:
        days, text = int(match.group(1)), match.group(2)
    parts = text.split(":")
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if any(n < 0 or not math.isfinite(n) for n in numbers):
        return None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds + days * 86400


def parse_time_unit_ns(text: str) -> float:
    """ "1ps" -> 0.001, "1ns" -> 1.0, "10ps" -> 0.01. ValueError when not a time unit."""
    match = _TIME_UNIT.match(str(text))
    if not match:
        raise ValueError(f"not a time unit: {text!r}")
    multiplier = float(match.group(1)) if match.group(1) else 1.0
    return multiplier * TIME_UNIT_NS[match.group(2)]


def parse_clocks(details: Any) -> list[tuple[str, float]]:
    """``constraints__clocks__details`` (["clk_i: 1500.0000", ...]) -> [(name, period), ...]."""
    entries = [details] if isinstance(details, str) else details
    if not isinstance(entries, list):
        raise ValueError(f"expected a list of 'name: period' strings, got {details!r}")
    clocks: list[tuple[str, float]] = []
    for entry in entries:
        name, sep, period_text = str(entry).rpartition(":")
        period = parse_number(period_text)
        if not sep or not name.strip() or period is None or period <= 0:
            raise ValueError(f"expected 'name: period', got {entry!r}")
        clocks.append((name.strip(), period))
    return clocks


def parse_generate_date(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            stamp = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return stamp.replace(tzinfo=UTC)
    return None


def folder_timestamp(name: str) -> datetime | None:
    match = _TIMESTAMP_DIR.match(name)
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=UTC)
    except ValueError:
        return None


def design_from_orfs_name(orfs_design: str) -> tuple[str, dict[str, Any]]:
    """ORFS design name -> (logical design, parameters), see the module docstring."""
    base = _UNIQUIFY_SUFFIX.sub("", orfs_design)
    parameters: dict[str, Any] = {}
    for hook in generator_hooks("orfs_design_parameters"):
        answer = hook(base)
        if answer is not None:
            base, found = answer
            parameters.update(found)
            break
    # Without the per-run uniquifying suffix: it would make every run its own parameter set and
    # split the history trends. The full name stays in the record's ``top``.
    parameters["orfs_design"] = _UNIQUIFY_SUFFIX.sub("", orfs_design)
    return base, parameters


@dataclass(frozen=True)
class SynthStat:
    area_um2: float | None
    cell_count: int | None


def parse_synth_stat(text: str) -> SynthStat:
    """Yosys ``stat`` output: the whole design's area and cell count.

    Hierarchical reports end with a "design hierarchy" section whose "Chip area for top module"
    is the total; a flat report has one module section. Per-module areas of a hierarchical
    report are not the total (ORFS's older ``synth__design__instance__area__stdcell`` took one).
    """
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        header = re.match(r"^===\s*(.*?)\s*===\s*$", line.strip())
        if header:
            sections.append((header.group(1), []))
        elif sections:
            sections[-1][1].append(line)

    def figures(lines: list[str], area_pattern: str) -> SynthStat | None:
        area = count = None
        for line in lines:
            area_match = re.search(area_pattern + r"[^:]*:\s*([0-9.eE+-]+)\s*$", line)
            if area_match:
                area = parse_number(area_match.group(1))
            count_match = re.match(r"^\s*Number of cells:\s*(\d+)\s*$", line)
            if count_match and count is None:
                count = int(count_match.group(1))
        return SynthStat(area, count) if area is not None else None

    for _name, lines in reversed(sections):
        found = figures(lines, r"Chip area for top module")
        if found:
            return found
    if len(sections) == 1:
        found = figures(sections[0][1], r"Chip area for module")
        if found:
            return found
    return SynthStat(None, None)


# --------------------------------------------------------------------------------------------
# Discovery


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


# --------------------------------------------------------------------------------------------
# Run -> record


def _read_metrics_file(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(metrics, None) or (None, problem)."""
    try:
        text = read_text_file(path)  # a regular file of sane size: not a FIFO, a device, 10 GB
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path.name}: cannot read: {exc}"
    if not text.strip():
        return None, f"{path.name}: empty file"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Cut off mid-write: the parser runs out of text (or out of a string) before the end.
        cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        what = "truncated JSON" if cut else "invalid JSON"
        return None, f"{path.name}: {what} ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if isinstance(data, list):
        if len(data) != 1 or not isinstance(data[0], dict):
            return None, f"{path.name}: expected a JSON object or a list holding one, got a list of {len(data)}"
        data = data[0]
    if not isinstance(data, dict):
        return None, f"{path.name}: expected a JSON object, got {type(data).__name__}"
    return data, None


def stage_origin(stage: str) -> MetricOrigin:
    return orfs_stage_origin(stage)


def _stages_in(data: dict[str, Any]) -> list[str]:
    prefixes = {key.split("__", 1)[0] for key in data if "__" in key}
    known = [s for s in ORFS_STAGES if s in prefixes]
    # A stage ORFS added later still shows up if it reports its own runtime.
    extra = sorted(p for p in prefixes - set(ORFS_STAGES) if f"{p}__runtime__total" in data)
    return known + extra


def _latest(data: dict[str, Any], suffix: str, stages: tuple[str, ...] = _FIGURE_STAGES) -> tuple[float, str] | None:
    for stage in stages:
        value = parse_number(data.get(f"{stage}__{suffix}"))
        if value is not None:
            return value, stage
    return None


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


@dataclass
class _RunData:
    """What a run folder's files say, merged: the metrics file, else the step logs."""

    data: dict[str, Any]
    metrics_file: Path | None  # the metrics file that was read, None when there is none
    log_stages: list[tuple[str, Path]]  # (stage, log) of every step log that finished, in order
    problems: list[str]  # reasons the run counts as failed


def _load_run_data(run: OrfsRun) -> _RunData:
    problems: list[str] = []
    data: dict[str, Any] | None = None
    metrics_file: Path | None = None
    for candidate in run.metrics_files:
        data, problem = _read_metrics_file(candidate)
        if data is not None:
            metrics_file = candidate
            problems = []  # an unreadable copy does not matter when another copy reads
            break
        problems.append(problem)

    # Step logs: which steps finished, and the only metrics of a run that wrote no metrics file.
    log_stages: list[tuple[str, Path]] = []
    log_data: dict[str, Any] = {}
    for log in run.step_logs:
        content, problem = _read_metrics_file(log)
        if content is None:
            # A step whose log is broken did not finish; later logs are not trusted. With a good
            # metrics file the logs are only pointers, so only a run without one fails for it.
            if metrics_file is None:
                problems.append(f"step log {problem}")
            break
        log_stages.append((STEP_LOG_STAGE.get(log.stem, log.stem), log))
        log_data.update(content)
    return _RunData(data if data is not None else log_data, metrics_file, log_stages, problems)


def _time_unit_ns(data: dict[str, Any], platform: Platform, problems: list[str]) -> float | None:
    """The unit of every timing figure in the files, in ns; the platform's when the files lack it."""
    text = data.get("run__flow__platform__time_units")
    if text is None:
        return TIME_UNIT_NS[platform.time_unit]
    try:
        return parse_time_unit_ns(text)
    except ValueError:
        problems.append(f"run__flow__platform__time_units: not a time unit ({text!r})")
        return None


def _synthesis_figures(run: OrfsRun, data: dict[str, Any], problems: list[str]) -> SynthStat:
    """Area and cell count of synthesis: synth_stat.txt's whole-design total, else ORFS's synth keys."""
    stat = SynthStat(None, None)
    if run.synth_stat is not None:
        try:
            stat = parse_synth_stat(run.synth_stat.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            problems.append(f"{run.synth_stat.name}: cannot read: {exc}")
    area = stat.area_um2
    if area is None:
        area = parse_number(data.get("synth__design__instance__area__stdcell"))
    count = stat.cell_count
    if count is None:
        number = parse_number(data.get("synth__design__instance__count__stdcell"))
        count = int(round(number)) if number is not None else None
    return SynthStat(area, count)


@dataclass
class _Figures:
    metrics: dict[str, Any] = field(default_factory=dict)
    metric_steps: dict[str, str] = field(default_factory=dict)
    origin: MetricOrigin | None = None

    def put(self, name: str, value: float | int | None, stage: str) -> None:
        if value is not None:
            self.metrics[name] = value
            self.metric_steps[name] = stage


def _figures(run: OrfsRun, data: dict[str, Any], pdk: str, platform: Platform, problems: list[str]) -> _Figures:
    """ORFS keys -> normalised metrics (see the mapping table in the module docstring)."""
    out = _Figures()
    unit_ns = _time_unit_ns(data, platform, problems)

    # Area and cell count: the latest P&R stage, else synthesis.
    area = _latest(data, _orfs_key("area_um2"))
    count = _latest(data, _orfs_key("stdcell_count"))
    if area is None or count is None:
        synth = _synthesis_figures(run, data, problems)
        if area is None and synth.area_um2 is not None:
            area = (synth.area_um2, "synth")
        if count is None and synth.cell_count is not None:
            count = (synth.cell_count, "synth")
    if area:
        out.put("area_um2", area[0], area[1])
        out.put("ge", area[0] / platform.ge_reference_area_um2, area[1])
        out.origin = stage_origin(area[1])
    if count:
        out.put("stdcell_count", int(round(count[0])), count[1])
        out.origin = out.origin or stage_origin(count[1])

    # Key and unit of each are the registry's (``MetricSpec.orfs``); a metric declared with an ORFS
    # key must be named here or above (tests/test_metric_registry.py).
    for name in ("utilization_pct", "die_area_um2", "core_area_um2", "power_mw"):
        found = _latest(data, METRIC_SPEC[name].orfs.key)
        if found:
            out.put(name, found[0] * METRIC_SPEC[name].orfs_scale, found[1])
    # Detailed routing's own figures (after its last iteration).
    for name in ("drc_count", "wirelength_um"):
        spec = METRIC_SPEC[name]
        value = parse_number(data.get(_orfs_key(name)))
        if value is not None and value >= 0:
            value *= spec.orfs_scale
            out.put(name, int(round(value)) if spec.kind is int else value, spec.orfs.stage)

    period_ns: float | None = None
    clock_key = _orfs_key("clock_period_ns")
    if clock_key in data and unit_ns is not None:
        try:
            clocks = parse_clocks(data[clock_key])
        except ValueError as exc:
            problems.append(f"{clock_key}: {exc}")
            clocks = []
        if clocks:
            # One clock in every halutmatmul run; with several, the platform's clock port decides.
            period_ns = next((p for n, p in clocks if n == platform.clock_port), clocks[0][1]) * unit_ns
            if not period_ns > 0:  # a zero or negative period: no frequency can be derived from it
                raise OrfsImportError(f"{run.path}: {clock_key}: clock period must be > 0 "
                                      f"(value: {data[clock_key]!r})")
            out.put("clock_period_ns", period_ns, "constraints")
            out.put("target_freq_mhz", 1000.0 / period_ns, "constraints")

    if unit_ns is not None:
        wns = _latest(data, _orfs_key("wns_ns"))
        tns = _latest(data, _orfs_key("tns_ns"))
        if wns:
            wns_ns = wns[0] * unit_ns
            out.put("wns_ns", wns_ns, wns[1])
            # A slack of exactly 0 is ORFS clamping (or no constrained path): fmax is unknown.
            if period_ns is not None and wns_ns != 0 and period_ns - wns_ns > 0:
                out.put("fmax_mhz", 1000.0 / (period_ns - wns_ns), wns[1])
        if tns:
            out.put("tns_ns", tns[0] * unit_ns, tns[1])

    out.put("voltage_v", platform.orfs_voltage_v or platform.voltage_v, "platform")
    return out


def _steps(run: OrfsRun, loaded: _RunData) -> list[StepInfo]:
    """One step per ORFS stage seen (metrics, step logs, synthesis report), in flow order."""
    seen = _stages_in(loaded.data)
    if run.synth_stat is not None and "synth" not in seen:
        seen.insert(0, "synth")
    seen += [stage for stage, _log in loaded.log_stages if stage not in seen]
    seen.sort(key=lambda s: ORFS_STAGES.index(s) if s in ORFS_STAGES else len(ORFS_STAGES))
    logs = {stage: str(log) for stage, log in loaded.log_stages}
    return [
        StepInfo(
            step=stage,
            status="success",
            tool=ORFS_STAGE[stage].tool if stage in ORFS_STAGE else "openroad",
            runtime_s=parse_runtime_s(loaded.data.get(f"{stage}__runtime__total")),
            peak_memory_mib=parse_peak_memory_mib(loaded.data.get(f"{stage}__mem__peak")),
            log=logs.get(stage),
        )
        for stage in seen
    ]


def _status(run: OrfsRun, loaded: _RunData, steps: list[StepInfo]) -> tuple[str, str | None, StepInfo | None]:
    """(status, reason, the step that crashed when the step logs tell)."""
    looked_for = ", ".join(METRICS_FILE_NAMES)
    if loaded.problems:
        return "fail", "; ".join(loaded.problems), None
    if loaded.metrics_file is not None:
        name = loaded.metrics_file.name
        if any(key.startswith("finish__") for key in loaded.data):
            return "pass", None, None
        if steps:
            return "partial", f"no finish metrics in {name}: flow stopped after {steps[-1].step}", None
        return "fail", f"{name} holds no stage metrics", None
    if loaded.log_stages:
        last_log = loaded.log_stages[-1][1].stem
        if last_log in _STEP_LOG_SEQUENCE[:-1]:
            next_log = _STEP_LOG_SEQUENCE[_STEP_LOG_SEQUENCE.index(last_log) + 1]
            crashed = STEP_LOG_STAGE[next_log]
            reason = (
                f"{stage_origin(crashed)} crashed: flow stopped after step {last_log} "
                f"({next_log} did not finish) and wrote no metrics file"
            )
            return "fail", reason, StepInfo(step=crashed, status="error", tool="openroad")
        return "fail", f"no metrics file (looked for {looked_for}); last step log is {last_log}", None
    if run.synth_stat is not None:
        reason = (
            f"no metrics file (looked for {looked_for}) and no step logs: "
            f"only the synthesis report {run.synth_stat.name} is present"
        )
        return "fail", reason, None
    return "fail", "no metrics file, step logs or synthesis report in the run folder", None


def _tool_versions(data: dict[str, Any]) -> dict[str, str]:
    keys = (
        ("openroad", "run__flow__openroad_version"),
        ("openroad_commit", "run__flow__openroad_commit"),
        ("orfs", "run__flow__scripts_commit"),
        ("orfs_platform", "run__flow__platform_commit"),
        ("orfs_metrics", "run__flow__metrics_version"),
    )
    versions = {name: str(data.get(key, "")).strip() for name, key in keys if isinstance(data.get(key), str)}
    return {name: value for name, value in versions.items() if value and value.upper() != "N/A"}


def _check_plausible(run: OrfsRun, figures: _Figures, timestamp: datetime) -> None:
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

    orfs_platform = data.get("run__flow__platform")
    hints = ([orfs_platform] if isinstance(orfs_platform, str) else []) + list(run.platform_hints)
    matched = _match_platform(hints, platforms)
    if matched is None:
        known = ", ".join(sorted(platforms)) or "none"
        what = f"platform {orfs_platform!r}" if isinstance(orfs_platform, str) else "no known platform in its path"
        raise OrfsImportError(f"{run.path}: {what} (platforms: {known})")
    pdk, platform = matched

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
    record = RunRecord(
        run_id=make_run_id(design, pdk, parameters, timestamp, salt=identity),
        source="orfs",
        design=design,
        top=orfs_design,
        pdk=pdk,
        stdcell_lib=platform.stdcell_lib,
        parameters=parameters,
        timestamp=timestamp,
        status=status,
        reason=reason,
        stage_reached=stage_reached,
        metrics_origin=figures.origin,
        metrics=Metrics(**figures.metrics),
        metric_steps=figures.metric_steps,
        steps=steps,
        tool_versions=_tool_versions(data),
        ge_reference_cell=platform.ge_reference_cell,
        ge_reference_area_um2=platform.ge_reference_area_um2,
        logs={stage: str(log) for stage, log in loaded.log_stages},
        reports=[str(p) for p in run.reports],
        gds=str(run.gds) if run.gds else None,
        images={key: str(path) for key, path in run.images.items()},
        source_path=str(run.path),
    )
    return record, (identity if stamp is None and identity.startswith("path:") else None)


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
