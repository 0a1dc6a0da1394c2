"""Terminal output for the CLI: the live job display and the metrics tables."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from orchestrator.record import RunRecord, format_kge

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
    ran = [o for o in outcomes if o.record is not None and not o.cached]
    cached = [o for o in outcomes if o.cached]
    failed = [o for o in outcomes if o.record is None and not o.interrupted]
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


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    rows = list(rows)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in rows]
    return "\n".join([line, sep, *body])


def format_metrics_table(records: list[RunRecord]) -> str:
    headers = ["design", "pdk", "status", "stage", "area [um^2]", "GE", "cells", "regs", "target [MHz]",
               "fmax [MHz]", "WNS [ns]", "TNS [ns]", "hold WNS [ns]", "power [mW]", "util [%]", "DRC", "V",
               "runtime [s]"]
    rows = []
    for r in records:
        m = r.metrics
        # Post-synthesis figures (synthesis or its STA) are estimates of the routed design: say so.
        syn = " (syn)" if r.post_synthesis else ""
        area = _fmt(m.area_um2, 2) + (syn if m.area_um2 else "")
        design = r.design + (f" [{r.parameters['label']}]" if r.parameters.get("label") else "")
        rows.append([design, r.pdk, r.status + ("*" if r.cached else ""), r.stage_reached or "-", area, format_ge(m.ge),
                     _fmt(m.stdcell_count), _fmt(m.register_count), _fmt(m.target_freq_mhz, 1),
                     _fmt(m.fmax_mhz, 1), _fmt(m.wns_ns), _fmt(m.tns_ns), _fmt(m.hold_wns_ns), _fmt(m.power_mw),
                     _fmt(m.utilization_pct, 1), _fmt(m.drc_count), _fmt(m.voltage_v, 2),
                     _fmt(r.total_runtime_s, 1)])
    table = _table(headers, rows)
    if any(r.post_synthesis for r in records):
        table += "\n(syn): post-synthesis estimate, no place and route"
    if any(r.cached for r in records):
        table += "\n* cached: inputs unchanged, the previous record was reused (run with --force to re-run)"
    return table


HISTORY_COLUMNS = ["timestamp", "design", "pdk", "source", "status", "stage_reached", "area_um2", "ge",
                   "stdcell_count", "target_freq_mhz", "tns_ns", "utilization_pct"]


def format_history_table(frame: pd.DataFrame, *, all_columns: bool = False) -> str:
    import pandas as pd

    if frame.empty:
        return "(history is empty)"
    view = frame if all_columns else frame[HISTORY_COLUMNS]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
        return view.to_string(index=False)
