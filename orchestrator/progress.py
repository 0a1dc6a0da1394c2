"""Terminal output for the CLI: the live job display and the metrics tables."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from orchestrator.record import METRIC_SPEC, VIEWS, Column, RunRecord, format_kge

if TYPE_CHECKING:
    import pandas as pd


class ProgressDisplay:
    """Each running job's current step and elapsed time.

    On a terminal this is a live table (rich); in CI logs it prints one line whenever a job
    starts, changes step or finishes, so the log stays readable.
    """

    def __init__(self, total: int, stream=None, clock=time.monotonic):
        self.total = total
        self._clock = clock
        self._started = clock()  # the run's clock: every log line carries it beside the job's own time
        self.stream = stream or sys.stderr
        self._last: dict[str, str] = {}
        self._done = 0
        self._live = None
        if self.stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self.stream), refresh_per_second=4, transient=True)
            self._live.start()

    def _stamp(self, job_elapsed: float) -> str:
        """"[run 25.9 s | job 0.1 s]": lines sort by the run's clock; the job's own time stays visible."""
        return f"[run {self._clock() - self._started:7.1f} s | job {job_elapsed:7.1f} s]"

    def _print(self, line: str) -> None:
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)

    def update(self, progress) -> None:
        for name, (step, elapsed) in progress.running.items():
            if self._last.get(name) != step:
                note = progress.notes.get(name) if name not in self._last else None
                if self._live is None or note:
                    self._print(f"{self._stamp(elapsed)} {name}: {step}" + (f" ({note})" if note else ""))
            self._last[name] = step
        while self._done < len(progress.done):
            outcome = progress.done[self._done]
            self._done += 1
            self._print(f"{self._stamp(outcome.elapsed_s)} {outcome.job.name}: {outcome_status(outcome)} "
                        f"({self._done}/{self.total})")
        if self._live is not None:
            from rich.table import Table

            cached = sum(1 for o in progress.done if o.cached)
            table = Table(title=f"jobs: {len(progress.done)}/{self.total} done ({cached} cached), "
                                f"{len(progress.running)} running, {progress.queued} queued")
            table.add_column("job")
            table.add_column("step")
            table.add_column("elapsed", justify="right")
            for name, (step, elapsed) in sorted(progress.running.items()):
                table.add_row(name, step, f"{elapsed:6.1f} s")
            self._live.update(table)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def outcome_status(outcome) -> str:
    """One word (or two) for a finished, cached, failed or stopped job."""
    if outcome.record is not None:
        return outcome.record.status + (" (cached)" if outcome.cached else "")
    if outcome.interrupted:
        return "stopped" if outcome.started else "not started"
    return "error"


# Jobs named per line of an interrupted run's summary before the rest are only counted.
SUMMARY_NAMES = 10


def format_run_summary(outcomes, wall_s: float, *, interrupted: bool = False) -> str:
    """What a run did: jobs that ran / were reused / failed; after Ctrl-C, which finished
    (and were recorded), which were stopped in which step, and which never started."""
    # Counted by what reached the history: a record that could not be written (a full disk) is a
    # job without a record, whatever it found.
    stored = [o for o in outcomes if o.record is not None and not o.history_error]
    ran = [o for o in stored if not o.cached]
    cached = [o for o in stored if o.cached]
    failed = [o for o in outcomes if (o.record is None and not o.interrupted) or (o.record and o.history_error)]
    stopped = [o for o in outcomes if o.interrupted and o.started]
    not_started = [o for o in outcomes if o.interrupted and not o.started]
    head = "interrupted" if interrupted else "run finished"
    lines = [f"{head} after {wall_s:.1f} s: {len(ran)} ran, {len(cached)} cached (reused record), "
             f"{len(failed)} without a record" + (f", {len(stopped)} stopped, {len(not_started)} not started"
                                                 if interrupted else "")]
    if interrupted:
        def names(items, extra=lambda o: ""):
            # A 10 000-job sweep must not print a 400 000-character line: the first few, then a count.
            shown = ", ".join(o.job.name + extra(o) for o in items[:SUMMARY_NAMES]) or "none"
            more = len(items) - SUMMARY_NAMES
            return shown + (f" and {more} more" if more > 0 else "")

        lines.append(f"  finished and recorded: {names(ran + cached, lambda o: f' ({outcome_status(o)})')}")
        lines.append(f"  stopped, no record:    {names(stopped, lambda o: f' (in {o.step}, {o.elapsed_s:.1f} s)')}")
        lines.append(f"  not started:           {names(not_started)}")
    return "\n".join(lines)


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def format_ge(ge: float | None) -> str:
    if ge is None or (isinstance(ge, float) and math.isnan(ge)):
        return "-"
    return format_kge(ge)


def _table(headers: list[str], rows: Iterable[list[str]], left: int = 3) -> str:
    """Aligned columns: the first ``left`` left-aligned (names), the rest right-aligned (numbers).
    A header "area [µm²]" is printed on two lines, name above unit, so a column is only as wide as
    its values need."""
    rows = list(rows)
    split = [h.split(" [", 1) for h in headers]
    names = [parts[0] for parts in split]
    units = [f"[{parts[1]}" if len(parts) > 1 else "" for parts in split]
    widths = [max(column_width(h), *(len(r[i]) for r in rows)) if rows else column_width(h)
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    head = [line(names)] + ([line(units)] if any(units) else [])
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([*head, sep, *(line(r) for r in rows)])


def column_width(header: str) -> int:
    """Columns a header needs: its longer line (name, unit)."""
    return max(len(part) for part in header.replace(" [", "\n[", 1).split("\n"))


def fit_columns(headers: list[str], rows: list[list[str]], priority: list[int], width: int | None) -> list[int]:
    """Indices of the columns to show so that the table fits ``width`` (None: all of them).
    Columns go lowest priority first (highest number); priority 0 columns always stay."""
    keep = list(range(len(headers)))
    if width is None:
        return keep

    def total(columns: list[int]) -> int:
        return sum(max(column_width(headers[i]), *(len(r[i]) for r in rows)) if rows else column_width(headers[i])
                   for i in columns) + 2 * (len(columns) - 1)

    while total(keep) > width:
        droppable = [i for i in keep if priority[i] > 0]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (priority[i], i)))
    return keep


def _hidden_note(headers: list[str], keep: list[int], option: str) -> str | None:
    hidden = [headers[i] for i in range(len(headers)) if i not in keep]
    return f"not shown for the terminal's width: {', '.join(hidden)} ({option} shows them)" if hidden else None


def _wrap(text: str, width: int | None) -> list[str]:
    if width is None or len(text) <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False) or [text]


# Run table: (header, priority); 0 = always shown, then in the order a designer reads them.
# (header, priority): the job, its metrics (``record.VIEWS["run_table"]``), its runtime.
RUN_COLUMNS: list[tuple[str, int]] = [
    ("design", 0), ("pdk", 0), ("status", 0), ("stage", 6), *((c.label, c.priority) for c in VIEWS["run_table"]),
    ("runtime [s]", 15),
]


def _kge(ge: float | None) -> str:
    return "-" if ge is None or (isinstance(ge, float) and math.isnan(ge)) else f"{ge / 1000.0:.3f}"


def _metric_cells(r: RunRecord, columns: tuple[Column, ...]) -> list[str]:
    cells = []
    for column in columns:
        value = getattr(r.metrics, column.metric)
        if METRIC_SPEC[column.metric].fmt == "kge":  # the header says kGE: the number alone
            cells.append(_kge(value))
            continue
        # Post-synthesis figures (synthesis or its STA) are estimates of the routed design: say so.
        mark = " (syn)" if column.mark_estimate and r.post_synthesis and value else ""
        cells.append(_fmt(value, column.digits) + mark)
    return cells


def format_metrics_table(records: list[RunRecord], width: int | None = None) -> str:
    """The run's metrics, one row per job, then each job's run id. ``width``: the columns that fit
    (the others are named below the table); None: every column."""
    headers = [h for h, _ in RUN_COLUMNS]
    rows = []
    for r in records:
        design = r.design + (f" [{r.parameters['label']}]" if r.parameters.get("label") else "")
        rows.append([design, r.pdk, r.status + ("*" if r.cached else ""), r.stage_reached or "-",
                     *_metric_cells(r, VIEWS["run_table"]), _fmt(r.total_runtime_s, 1)])
    keep = fit_columns(headers, rows, [p for _, p in RUN_COLUMNS], width)
    lines = [_table([headers[i] for i in keep], [[row[i] for i in keep] for row in rows], left=4)]
    notes = []
    if any(r.post_synthesis for r in records):
        notes.append("(syn): post-synthesis estimate, no place and route")
    if any(r.cached for r in records):
        notes.append("* cached: inputs unchanged, the previous record was reused (run with --force to re-run)")
    hidden = _hidden_note(headers, keep, "--wide")
    if hidden:
        notes.append(hidden)
    notes.append("run ids:")
    for line in notes:
        lines += _wrap(line, width)
    lines += [f"  {r.run_id}" + (" (cached)" if r.cached else "") for r in records]
    return "\n".join(lines)


# History table: per design/PDK/source/parameter set, its runs oldest first; its metrics are
# ``record.VIEWS["history_table"]``.
HISTORY_ROW_COLUMNS: list[tuple[str, int]] = [
    ("run id", 0), ("status", 0), ("stage", 6), *((c.label, c.priority) for c in VIEWS["history_table"]),
    ("runtime [s]", 10),
]
REUSED = "reused"


def _history_cells(r: RunRecord) -> list[str]:
    return [r.run_id, r.status, r.stage_reached or "-", *_metric_cells(r, VIEWS["history_table"]),
            _fmt(r.total_runtime_s, 1)]


def reused_from(records: list[RunRecord]) -> dict[str, str | None]:
    """For each cached record (a cache hit's copy), the run id of the run it reuses: the newest
    record with its job key that actually ran, no later than it (None: that run is gone)."""
    ran: dict[str, list[RunRecord]] = {}
    for r in records:
        if not r.cached and r.job_key:
            ran.setdefault(r.job_key, []).append(r)
    found: dict[str, str | None] = {}
    for r in records:
        if r.cached:
            earlier = [o for o in ran.get(r.job_key or "", []) if (o.timestamp, o.run_id) <= (r.timestamp, r.run_id)]
            found[r.run_id] = max(earlier, key=lambda o: (o.timestamp, o.run_id)).run_id if earlier else None
    return found


def format_history_records(records: list[RunRecord], width: int | None = 100) -> str:
    """The history for the terminal: a header per design/PDK, source and parameter set, then its
    runs oldest first with their run ids and the metric columns that fit ``width``. A cache hit's
    record is marked "reused" and names the run whose result it repeats: it is not a new run."""
    from orchestrator.record import parameters_key

    if not records:
        return "(history is empty)"
    groups: dict[tuple, list[RunRecord]] = {}
    for r in sorted(records, key=lambda r: (r.pdk, r.design, r.source, r.timestamp, r.run_id)):
        groups.setdefault((r.pdk, r.design, r.source, parameters_key(r.parameters)), []).append(r)
    origin = reused_from(records)
    headers = [h for h, _ in HISTORY_ROW_COLUMNS]
    priority = [p for _, p in HISTORY_ROW_COLUMNS]
    hidden: set[int] = set()
    lines: list[str] = []
    for (pdk, design, source, _), members in groups.items():
        params = " ".join(f"{k}={v}" for k, v in sorted(members[0].parameters.items()))
        where = "" if source == "siliconcompiler" else f" ({source} import)"
        lines += ([""] if lines else []) + _wrap(f"{pdk} / {design}{where}: {params or 'no parameters'}", width)
        cells = [_history_cells(r) for r in members]
        ran = [c for r, c in zip(members, cells, strict=True) if not r.cached]
        # Each group fits on its own: a short run id leaves room for more metrics.
        keep = fit_columns(headers, ran or cells[:1], priority, None if width is None else width - 2)
        hidden.update(i for i in range(len(headers)) if i not in keep)
        shown = [headers[i] for i in keep]
        table = _table(shown, [[c[i] for i in keep] for c in ran], left=3 if "stage" in shown else 2).splitlines()
        head = 3 if len(table) > 2 and set(table[2]) <= {"-", " "} else 2
        lines += ["  " + line for line in table[:head]]
        id_width = len(table[head - 1].split("  ")[0])
        body = iter(table[head:])
        for r in members:
            if r.cached:
                source_id = origin.get(r.run_id)
                what = f"cache hit of …{source_id[-8:]}" if source_id else "cache hit of an earlier run"
                lines.append(f"  {r.run_id.ljust(id_width)}  {REUSED}: {what}")
            else:
                lines.append("  " + next(body))
    notes = []
    reused = sum(1 for r in records if r.cached)
    if reused:
        notes.append(f"{reused} record{'s' if reused != 1 else ''} marked '{REUSED}': a cache hit recorded again, "
                     "not a new run")
    if hidden:
        notes.append(_hidden_note(headers, [i for i in range(len(headers)) if i not in hidden], "--wide"))
    for note in notes:
        lines += _wrap(note, width)
    if width is not None:  # a run id or a word longer than the terminal is cut, never the table's shape
        lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    return "\n".join(lines)


HISTORY_COLUMNS = ["timestamp", "run_id", "design", "pdk", "source", "status", "cached", "stage_reached", "area_um2",
                   "ge", "stdcell_count", "target_freq_mhz", "tns_ns", "utilization_pct"]


def format_history_table(frame: pd.DataFrame, *, all_columns: bool = False) -> str:
    """The history DataFrame as text, as wide as it needs (``history --wide``)."""
    import pandas as pd

    if frame.empty:
        return "(history is empty)"
    view = frame if all_columns else frame[HISTORY_COLUMNS]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", None):
        return view.to_string(index=False)
