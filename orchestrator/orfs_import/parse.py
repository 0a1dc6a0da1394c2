"""Parse what ORFS writes: metric values ("N/A", "M:SS.ss", "1ps"), clock lists, dates, Yosys's
``synth_stat.txt``, and a run's ``metrics.json`` / ``metadata.json`` and step logs merged.

A metrics file is a JSON object or a list holding one; a truncated or invalid one is a problem
that fails the run, never an exception. A broken step log ends the logs that are trusted.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.config import TIME_UNIT_NS, read_text_file
from orchestrator.orfs_import.find import OrfsRun
from orchestrator.steps import ORFS_STAGE_SPECS

# ORFS step log (logs/<platform>/<design>/<variant>/<name>.json) -> metric stage it belongs to.
STEP_LOG_STAGE: dict[str, str] = {log: spec.name for spec in ORFS_STAGE_SPECS for log in spec.logs}
# The step logs the 2022 flow writes, in order: after the last one present, the next one is
# where the flow stopped.
_STEP_LOG_SEQUENCE: tuple[str, ...] = tuple(
    log for spec in ORFS_STAGE_SPECS if spec.in_log_sequence for log in spec.logs
)


_TIME_UNIT = re.compile(r"^\s*(\d*\.?\d+(?:[eE][-+]?\d+)?)?\s*(fs|ps|ns|us|ms|s)\s*$")
_RUNTIME_DAYS = re.compile(r"^\s*(\d+)\s+days?,\s*(.*)$")
_NOT_A_NUMBER = {"", "n/a", "na", "err", "error", "none", "null", "nan", "-"}


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
