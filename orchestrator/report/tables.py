"""Machine-readable outputs: ``reports/history.csv`` (every record, one row each) and
``reports/summary.md`` (the index tables in Markdown, ready to paste into a README).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from orchestrator.config import Platform
from orchestrator.fsutil import atomic_write_text
from orchestrator.history import to_dataframe
from orchestrator.markdown import md_text
from orchestrator.record import RunRecord
from orchestrator.report.view import IndexTable, build_index_tables, build_signoff_tables

SUMMARY_FILE = "summary.md"
HISTORY_CSV_FILE = "history.csv"

def _metric_rows(table: IndexTable) -> list[str]:
    lines = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            if cell.missing:
                cells.append(f"*{md_text(cell.text)}*")
            else:
                cells.append(md_text(cell.text) + (" †" if cell.post_synthesis else ""))
        lines.append(f"| {md_text(row.label)} |" + "".join(f" {c} |" for c in cells))
    return lines


def summary_markdown(tables: list[IndexTable], *, images: dict[tuple[str, str], dict[str, str]] | None = None,
                     signoff: list[IndexTable] | None = None) -> str:
    """The index tables as Markdown. ``images`` maps (design, pdk) to {"placement"/"routing"/"gds":
    link, "<kind>_note": why there is none}; without it the image and GDS rows are left out.
    ``signoff`` (``view.build_signoff_tables``) adds the post-route figures of this flow per PDK."""
    signoff_by_pdk = {(table.pdk, table.kind): table for table in signoff or []}
    lines = ["# Implementation summary", ""]
    if not tables:
        lines += ["The history is empty.", ""]
    for table in tables:
        title = f"## {md_text(table.pdk)}"
        if table.description:
            title += f" ({md_text(table.description)})"
        title += f": {md_text(table.title)}"
        lines += [title, ""]
        header = "| |" + "".join(f" {md_text(c.design)} |" for c in table.columns)
        lines += [header, "|---|" + "---:|" * len(table.columns)]
        lines += _metric_rows(table)
        if images is not None:
            for kind, label in (("placement", "Clock tree / placement"), ("routing", "Routing"), ("gds", "GDS")):
                cells = []
                for column in table.columns:
                    found = images.get((column.design, table.pdk), {})
                    link = found.get(kind)
                    if not link:
                        cells.append(f"*{md_text(found.get(kind + '_note', 'none'))}*")
                    elif kind == "gds":
                        cells.append(f"[download]({link})")
                    else:
                        cells.append(f"![{md_text(column.design)} {kind}]({link})")
                lines.append(f"| {label} |" + "".join(f" {c} |" for c in cells))
        lines.append("")
        for column in table.columns:
            if column.note:
                lines.append(f"- {md_text(column.design)}: {md_text(column.note)}")
        if any(column.note for column in table.columns):
            lines.append("")
        own = signoff_by_pdk.get((table.pdk, table.kind))
        if own is not None:
            lines += [f"### Sign-off figures of this flow ({md_text(table.pdk)})", "",
                      "| |" + "".join(f" {md_text(c.design)} |" for c in own.columns),
                      "|---|" + "---:|" * len(own.columns), *_metric_rows(own), ""]
        if table.has_post_synthesis or (own is not None and own.has_post_synthesis):
            lines += ["† post-synthesis estimate (no place and route)", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_tables(records: Iterable[RunRecord], reports_dir: Path, *, platforms: dict[str, Platform] | None = None,
                 site=None) -> dict[str, Path]:
    """Write ``summary.md`` and ``history.csv`` into ``reports_dir`` (each atomically).

    With ``site`` (the ``SiteSummary`` of a ``build_site`` run) the Markdown also links the layout
    images and GDS downloads inside that site.
    """
    records = list(records)
    reports_dir = Path(reports_dir)
    platforms = platforms or {}
    if site is not None and site.index_tables:
        tables = site.index_tables
    else:
        tables = build_index_tables(records, list(platforms) or None, {k: p.description for k, p in platforms.items()})
    images = None
    if site is not None:
        base = os.path.relpath(site.out_dir, reports_dir.resolve())
        images = {
            key: {kind: value if kind.endswith("_note") else Path(base, value).as_posix()
                  for kind, value in found.items()}
            for key, found in site.index_assets.items()
        }
    signoff = build_signoff_tables(records, list(platforms) or None)
    summary_path = atomic_write_text(reports_dir / SUMMARY_FILE, summary_markdown(tables, images=images,
                                                                                  signoff=signoff))
    csv_path = atomic_write_text(reports_dir / HISTORY_CSV_FILE, to_dataframe(records).to_csv(index=False))
    return {"summary": summary_path, "history_csv": csv_path}
