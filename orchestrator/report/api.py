"""One call for ``python -m orchestrator report``: history -> site + tables."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from orchestrator.config import Config, Platform
from orchestrator.history import implausible_reason, load_records
from orchestrator.record import RunRecord
from orchestrator.report.site import SiteSummary, build_site
from orchestrator.report.tables import write_tables

LAYOUT_CACHE_DIR = "cache"  # under reports_dir; git-ignored


def build_reports(records: Iterable[RunRecord], *, reports_dir: Path, site_dir: Path | None = None,
                  platforms: dict[str, Platform] | None = None, cache_dir: Path | None = None) -> SiteSummary:
    """Build the site (default ``reports_dir/site``), then ``summary.md`` and ``history.csv``.

    GDS renders are cached under ``cache_dir`` (default ``reports_dir/cache``).
    """
    usable: list[RunRecord] = []
    left_out: list[str] = []
    for record in records:  # a record no real run can have would break axes and tables for all
        reason = implausible_reason(record)
        if reason:
            left_out.append(f"{record.pdk}/{record.design}/{record.run_id}: left out of the report: {reason}")
        else:
            usable.append(record)
    records = usable
    reports_dir = Path(reports_dir)
    site_dir = Path(site_dir) if site_dir is not None else reports_dir / "site"
    cache_dir = Path(cache_dir) if cache_dir is not None else reports_dir / LAYOUT_CACHE_DIR
    summary = build_site(records, site_dir, platforms=platforms, cache_dir=cache_dir)
    write_tables(records, reports_dir, platforms=platforms, site=summary)
    summary.warnings[:0] = left_out
    return summary


def build_reports_from_config(config: Config) -> SiteSummary:
    """Everything ``python -m orchestrator report`` writes, from the paths in ``config``."""
    reports_dir = config.path("reports_dir")
    return build_reports(
        load_records(config.path("history_dir")),
        reports_dir=reports_dir,
        site_dir=config.path("site_dir"),
        platforms=config.platforms,
        cache_dir=reports_dir / LAYOUT_CACHE_DIR,
    )
