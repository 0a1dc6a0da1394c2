"""The check's three output formats: the terminal table (one flat table, or per design wrapped to
the terminal's width), GitHub-flavoured Markdown, and the GitHub Actions job summary it is
appended to."""

from __future__ import annotations

import os
import textwrap

from orchestrator.check.compare import NO_BASELINE, NOT_GATED, SKIPPED_TOOL, CheckResult, CheckRow, _fmt
from orchestrator.markdown import md_text

_HEADERS = ("PDK", "Design", "Metric", "Baseline", "Current", "Δ %", "Rule", "Verdict")


def _cell(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return _fmt(value)


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _metric_label(row: CheckRow) -> str:
    return f"{row.metric} [{row.unit}]" if row.unit else row.metric


def _table_cells(row: CheckRow) -> list[str]:
    verdict = row.verdict.upper() if row.failed else row.verdict
    if row.detail:
        verdict = f"{verdict}: {row.detail}"
    return [row.pdk, row.design, _metric_label(row), _cell(row.baseline), _cell(row.current),
            _delta(row.delta_pct), row.rule, verdict]


def wrap(text: str, width: int | None, indent: str = "  ") -> list[str]:
    """``text`` as lines of at most ``width`` columns (None: one line), continuation lines indented.
    Long words (a path, a run id) are never cut; a line holding one may exceed a tiny width."""
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [text]


def _narrow_rows(rows: tuple[CheckRow, ...], width: int) -> list[str]:
    """One design's rows: metric, baseline, current, Δ %, verdict; the verdict wraps under itself."""
    table = [["metric", "baseline", "current", "Δ %"]] + [
        [_metric_label(r), _cell(r.baseline), _cell(r.current), _delta(r.delta_pct)] for r in rows]
    verdicts = ["verdict"] + [_table_cells(r)[-1] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = []
    for cells, verdict in zip(table, verdicts, strict=True):
        head = "  " + "  ".join([cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:],
                                                                                               strict=True))])
        room = width - len(head) - 2
        if room < 24:  # too narrow beside the numbers: the verdict goes below its row
            lines.append(head.rstrip())
            lines.extend(wrap("      " + verdict, width, " " * 6) if verdict else [])
            continue
        parts = textwrap.wrap(verdict, room, break_long_words=False) or [""]
        lines.append(f"{head}  {parts[0]}".rstrip())
        lines.extend(" " * (len(head) + 2) + part for part in parts[1:])
    return lines


def render_table_text(result: CheckResult, width: int | None = None) -> str:
    """The check for the terminal, failing verdicts in capitals.

    ``width`` None: one flat table of every checked metric with its rule (as wide as it needs);
    a number: per design/PDK its run ids, then its rows without the rule column, every line
    wrapped to ``width`` columns; designs that are not gated are listed by name only."""
    if width is not None:
        return _render_narrow(result, width)
    lines = [f"Regression check against {result.baseline_path}"]
    if result.baseline_state:
        lines.append(result.baseline_state)
    table = [list(_HEADERS)] + [_table_cells(row) for row in result.rows]
    if len(table) > 1:
        widths = [max(len(r[i]) for r in table) for i in range(len(_HEADERS) - 1)]
        for index, cells in enumerate(table):
            head = "  ".join(cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True))
            lines.append(f"{head}  {cells[-1]}".rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(_HEADERS[-1]))
    for design in result.designs:
        for note in design.notes:
            lines.append(f"note: {design.pdk}/{design.design}: {note}")
    lines += [f"note: {line}" for line in result.unjudged]
    lines.append(result.summary)
    return "\n".join(lines) + "\n"


def _render_narrow(result: CheckResult, width: int) -> str:
    lines = wrap(f"Regression check against {result.baseline_path}", width)
    if result.baseline_state:
        lines += wrap(result.baseline_state, width)
    not_gated: dict[str, list[str]] = {}
    for design in result.designs:
        if NOT_GATED in design.states:
            not_gated.setdefault(design.pdk, []).append(design.design)
            continue
        lines.append("")
        lines += wrap(f"{design.pdk} / {design.design}", width)
        lines += wrap(f"  run       {design.current_run_id or '— (none in the history)'}", width, " " * 12)
        lines += wrap(f"  baseline  {design.baseline_run_id or '—'}", width, " " * 12)
        lines += _narrow_rows(design.rows, width)
        # Without any baseline the header already says what a missing entry means, once.
        for note in design.notes if design.baseline_run_id or not result.baseline_state else ():
            lines += wrap(f"  note: {note}", width, " " * 8)
    if not_gated:
        lines += ["", *wrap("not gated (imported runs the baseline does not name):", width)]
        for pdk, names in sorted(not_gated.items()):
            lines += wrap(f"  {pdk}: {', '.join(names)}", width, " " * 4)
    for line in result.unjudged:
        lines += wrap(f"note: {line}", width, " " * 6)
    lines += ["", *wrap(result.summary, width)]
    return "\n".join(lines) + "\n"


_MD_VERDICT = {
    "ok": "✅ ok",
    "improved": "✅ improved",
    "new": "🆕 new",
    "regressed": "❌ **regressed**",
    "out of bounds": "❌ **out of bounds**",
    "missing": "❌ **missing**",
    "failed": "❌ **failed**",
    SKIPPED_TOOL: "⏭️ skipped (tool missing)",
    NO_BASELINE: "🆕 no baseline",
    NOT_GATED: "➖ not gated",
}


def _md_code(text: object) -> str:
    """``text`` as a Markdown code span, which shows it literally (no HTML, no markup); only a
    backtick or a "|" (a table cell's end) could break out of it, so those are dropped."""
    return "`" + "".join(c for c in " ".join(str(text).split()) if c not in "`|") + "`"


def render_markdown(result: CheckResult) -> str:
    """GitHub-flavoured Markdown (job summary / PR comment) of the same table. Everything that comes
    from a record or a file (names, values, reasons, paths) goes through ``md_text``: a design named
    ``<img src=x onerror=...>`` is shown as text, never rendered."""
    icon = "❌" if result.exit_code else "✅"
    lines = [
        f"### {icon} Regression check",
        "",
        f"{md_text(result.summary)} — baseline {_md_code(result.baseline_path)}.",
        "",
    ]
    if result.baseline_state:
        lines += [md_text(result.baseline_state), ""]
    if result.rows:
        lines.append("| " + " | ".join(_HEADERS) + " |")
        lines.append("|" + "|".join(["---"] * 3 + ["---:"] * 3 + ["---"] * 2) + "|")
        for row in result.rows:
            verdict = _MD_VERDICT[row.verdict] + (f": {md_text(row.detail)}" if row.detail else "")
            metric = _md_code(row.metric) + (f" ({md_text(row.unit)})" if row.unit else "")
            cells = [md_text(row.pdk), md_text(row.design), metric, md_text(_cell(row.baseline)),
                     md_text(_cell(row.current)), _delta(row.delta_pct), md_text(row.rule), verdict]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    notes = [f"- {md_text(f'{d.pdk}/{d.design}: {note}')}" for d in result.designs for note in d.notes]
    notes += [f"- {md_text(line)}" for line in result.unjudged]
    if notes:
        lines += ["Notes:", "", *notes, ""]
    return "\n".join(lines)


def write_step_summary(markdown: str) -> bool:
    """Append to the GitHub Actions job summary when running there; False elsewhere."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return True
