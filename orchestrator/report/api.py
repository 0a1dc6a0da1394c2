"""One call for ``python -m orchestrator report``: history -> site + tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from orchestrator.config import Config, Platform
from orchestrator.history import implausible_reason, import_roots, read_history
from orchestrator.record import RunRecord
from orchestrator.report.layout import ArtifactRoots
from orchestrator.report.site import SiteSummary, build_site
from orchestrator.report.tables import write_tables

LAYOUT_CACHE_DIR = "cache"  # under reports_dir; git-ignored


def build_reports(records: Iterable[RunRecord], *, reports_dir: Path, site_dir: Path | None = None,
                  platforms: dict[str, Platform] | None = None, cache_dir: Path | None = None,
                  roots: ArtifactRoots | None = None, record_files: Mapping[str, Path] | None = None,
                  orfs_reference: dict[str, dict] | None = None) -> SiteSummary:
    """Build the site (default ``reports_dir/site``), then ``summary.md`` and ``history.csv``.

    GDS renders are cached under ``cache_dir`` (default ``reports_dir/cache``). Records' files are
    published only from ``roots`` (none given: none are); ``record_files`` (run id -> history
    file) lets a warning name the file a record came from.
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
    summary = build_site(records, site_dir, platforms=platforms, cache_dir=cache_dir, roots=roots,
                         record_files=record_files, orfs_reference=orfs_reference)
    write_tables(records, reports_dir, platforms=platforms, site=summary)
    summary.warnings[:0] = left_out
    return summary


def config_roots(config: Config) -> ArtifactRoots:
    """Where this project's runs live: its build folder, and the folders ``import-orfs`` imported
    from (noted under the build folder, never taken from a record)."""
    build_dir = config.path("build_dir")
    return ArtifactRoots(build=(build_dir,), imports=tuple(import_roots(build_dir)))


def orfs_reference(config: Config) -> dict[str, dict]:
    """design -> the parameters of its first unlabelled entry in the config: the reference
    configurations the halutmatmul ORFS archive was run at (config.yaml says so), the only runs
    of this flow whose sizes a vs-ORFS ratio may compare."""
    reference: dict[str, dict] = {}
    for spec in config.designs:
        if spec.label is None:
            reference.setdefault(spec.name, dict(spec.parameters))
    return reference


def build_reports_from_config(config: Config) -> SiteSummary:
    """Everything ``python -m orchestrator report`` writes, from the paths in ``config``. A history
    file that is not a usable record is left out with a warning; the others are reported."""
    reports_dir = config.path("reports_dir")
    found = read_history(config.path("history_dir"))
    summary = build_reports(
        found.records,
        reports_dir=reports_dir,
        site_dir=config.path("site_dir"),
        platforms=config.platforms,
        cache_dir=reports_dir / LAYOUT_CACHE_DIR,
        roots=config_roots(config),
        record_files=found.files,
        orfs_reference=orfs_reference(config),
    )
    summary.warnings[:0] = [skipped.message for skipped in found.skipped]
    return summary
