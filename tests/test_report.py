"""Report backend: index table contents, reasons for missing values, escaping, tables, atomic site."""

from __future__ import annotations

import csv
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from orchestrator import history
from orchestrator.record import Metrics, RunRecord, SkippedStage, StepInfo
from orchestrator.report import (
    ArtifactRoots,
    build_reports,
    build_site,
    plots,
    summary_markdown,
    write_tables,
)
from orchestrator.report import site as site_mod
from orchestrator.report.view import build_index_tables, format_metric, slug
from tests.orfs_reference import reference_path
from tests.synthetic_history import (
    HOSTILE_TEXT,
    showcase_records,
    synthetic_records,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def make_record(design="halut_encoder", pdk="asap7", *, hours=0, status="pass", **fields) -> RunRecord:
    metrics = fields.pop("metrics", Metrics(area_um2=1000.0, ge=110238.0, stdcell_count=5000, target_freq_mhz=666.7,
                                            voltage_v=0.7, utilization_pct=41.25, tns_ns=-0.125))
    return RunRecord(run_id=f"run-{design}-{pdk}-{hours}-{status}", design=design, pdk=pdk,
                     timestamp=T0 + timedelta(hours=hours), status=status, metrics=metrics, **fields)


def index_cells(table_html: str) -> dict[tuple[str, str, str], str]:
    """(pdk, metric, design) -> the cell's data-value (or its text when missing)."""
    cells = {}
    for table in re.finditer(r'<table class="summary" data-pdk="([^"]*)">(.*?)</table>', table_html, re.DOTALL):
        pdk = html.unescape(table.group(1))
        for row in re.finditer(r'<tr data-metric="([^"]*)">(.*?)</tr>', table.group(2), re.DOTALL):
            cell_pattern = r'<td class="([^"]*)" data-design="([^"]*)"(?: data-value="([^"]*)")?[^>]*>(.*?)</td>'
            for cell in re.finditer(cell_pattern, row.group(2), re.DOTALL):
                value = cell.group(3) if cell.group(3) is not None else html.unescape(cell.group(4)).strip()
                cells[(pdk, row.group(1), html.unescape(cell.group(2)))] = value
    return cells


@pytest.fixture
def showcase(tmp_path):
    return showcase_records(tmp_path / "build")


def test_ge_is_shown_in_thousands_like_the_halutmatmul_tables():
    assert format_metric("ge", 110238.0) == "110.238 kGE"
    assert format_metric("stdcell_count", 12256) == "12,256"
    assert format_metric("area_um2", None) == ""


def test_index_uses_latest_passing_run_not_a_newer_failure(tmp_path):
    records = [
        make_record(hours=0),
        make_record(hours=1, metrics=Metrics(area_um2=2000.0)),
        make_record(hours=2, status="fail", reason="route0: openroad crashed", metrics=Metrics(area_um2=9.0)),
    ]
    (table,) = build_index_tables(records)
    area = table.rows[0]
    assert area.metric == "area_um2"
    assert area.cells[0].value == 2000.0
    summary = build_site(records, tmp_path / "site")
    cells = index_cells((tmp_path / "site" / "index.html").read_text())
    assert float(cells[("asap7", "area_um2", "halut_encoder")]) == 2000.0
    assert summary.index_tables[0].columns[0].record.run_id == records[1].run_id


def test_metric_no_stage_produced_says_why_and_is_never_zero(tmp_path):
    record = make_record(
        status="partial", reason="P&R skipped: openroad not installed",
        metrics=Metrics(area_um2=812.5, ge=9287.6, stdcell_count=4000, target_freq_mhz=666.7, voltage_v=0.7),
        metrics_origin="synthesis",
        skipped_stages=[SkippedStage(step="floorplan.init", reason="openroad not installed (install OpenROAD >= 2)")],
    )
    build_site([record], tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    cells = index_cells(page)
    assert cells[("asap7", "utilization_pct", "halut_encoder")] == "no P&R: openroad not installed"
    assert cells[("asap7", "tns_ns", "halut_encoder")] == "no P&R: openroad not installed"
    assert float(cells[("asap7", "area_um2", "halut_encoder")]) == 812.5
    # post-synthesis values carry the mark and the legend explains it
    area_cell = re.search(r'<td class="num synth"[^>]*data-value="812.5"[^>]*>(.*?)</td>', page).group(1)
    assert "†" in area_cell
    assert "post-synthesis estimate" in page
    assert ">0.000<" not in page and ">0<" not in page
    assert "partial run: P&amp;R skipped: openroad not installed" in page  # the header says what is shown


def test_partial_run_is_shown_only_when_there_is_no_passing_run():
    partial = make_record(hours=5, status="partial", reason="P&R skipped", metrics=Metrics(area_um2=5.0))
    (table,) = build_index_tables([make_record(hours=1), partial])
    assert table.columns[0].record.status == "pass" and table.rows[0].cells[0].value == 1000.0
    (table,) = build_index_tables([partial, make_record(hours=6, status="fail", reason="crash")])
    assert table.columns[0].record is partial and table.columns[0].note == "partial run: P&R skipped"


def test_design_without_passing_run_gets_a_column_with_the_reason(tmp_path):
    records = [make_record(), make_record("halut_matmul", status="fail", reason="syn0: yosys exited with code 1")]
    build_site(records, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    cells = index_cells(page)
    assert cells[("asap7", "area_um2", "halut_matmul")] == "no passing run"
    header = re.search(r'<th scope="col" data-design="halut_matmul">(.*?)</th>', page, re.DOTALL).group(1)
    assert "no passing run (latest fail: syn0: yosys exited with code 1)" in header


def test_script_in_design_name_reason_and_parameters_is_shown_as_text(showcase, tmp_path):
    build_reports(showcase, reports_dir=tmp_path / "reports")
    site = tmp_path / "reports" / "site"
    pages = list(site.rglob("*.html"))
    escaped = html.escape(HOSTILE_TEXT, quote=False)
    found_escaped = 0
    for page in pages:
        text = page.read_text()
        assert HOSTILE_TEXT not in text, page
        found_escaped += escaped in text
    assert found_escaped >= 3  # index, the hostile run page, its history page
    markdown = (tmp_path / "reports" / "summary.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    # the design name never becomes a path component as it is
    assert all("<" not in p.name for p in site.rglob("*"))


def test_summary_markdown_matches_index_values_and_escapes_pipes():
    records = [make_record(), make_record("a|b", pdk="nangate45")]
    text = summary_markdown(build_index_tables(records))
    assert "| GE | 110.238 kGE |" in text
    assert "| Util \\[%\\] | 41.2 |" in text or "| Util \\[%\\] | 41.3 |" in text
    assert "a\\|b" in text


def test_write_tables_writes_csv_of_whole_history_and_summary(tmp_path):
    records = synthetic_records(30)
    paths = write_tables(records, tmp_path)
    assert paths["summary"].read_text().startswith("# Implementation summary")
    with open(paths["history_csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30
    frame = history.to_dataframe(records)
    assert [r["run_id"] for r in rows] == list(frame["run_id"])
    first_area = frame["area_um2"].dropna().iloc[0]
    assert pytest.approx(float(rows[list(frame["area_um2"].notna()).index(True)]["area_um2"])) == first_area


def test_index_numbers_equal_history_latest_passing(showcase, tmp_path):
    build_site(showcase, tmp_path / "site")
    cells = index_cells((tmp_path / "site" / "index.html").read_text())
    frame = history.to_dataframe(showcase)
    passing = history.latest(frame, passing_only=True)
    # Designs without a passing run show their latest partial run.
    fallback = history.latest(frame[frame["status"] == "partial"])
    fallback = fallback[~fallback.set_index(["design", "pdk"]).index.isin(passing.set_index(["design", "pdk"]).index)]
    assert len(fallback) == 1
    compared = 0
    for _, row in pd.concat([passing, fallback]).iterrows():
        for metric in ("area_um2", "target_freq_mhz", "ge", "stdcell_count", "voltage_v", "utilization_pct", "tns_ns"):
            shown = cells[(row["pdk"], metric, row["design"])]
            if pd.isna(row[metric]):
                assert shown and not re.fullmatch(r"[-0-9.e]+", shown), (row["design"], metric, shown)
            else:
                assert float(shown) == pytest.approx(row[metric], rel=1e-12)
                compared += 1
    assert compared >= 30


def test_run_page_shows_units_steps_tools_and_inline_logs(showcase, tmp_path):
    summary = build_site(showcase, tmp_path / "site", roots=ArtifactRoots(build=(tmp_path / "build",)))
    record = next(r for r in showcase if r.logs)
    run_dir = tmp_path / "site" / "runs" / slug(record.run_id)
    page = (tmp_path / "site" / "runs" / f"{slug(record.run_id)}.html").read_text()
    assert "µm²" in page and "route0" in page and "openroad" in page and "2.0-17000" in page
    assert "file missing: logs/missing.log" in page  # a recorded log that is gone is said, not linked
    viewers = sorted((run_dir / "files").glob("*.html"))
    assert len(viewers) == 2  # route.log + synth_stat.txt
    log_view = next(v for v in viewers if "route.log" in v.name).read_text()
    assert "slack &lt; 0 &amp; fanout &gt; 8 &lt;b&gt;not bold&lt;/b&gt;" in log_view
    assert (run_dir / "img" / "cts.png").is_file() and (run_dir / "img" / "routing.png").is_file()
    assert summary.images_copied == 2 and summary.files_copied == 2
    index = (tmp_path / "site" / "index.html").read_text()
    assert f"runs/{slug(record.run_id)}/img/routing.png" in index
    assert f"runs/{slug(record.run_id)}/img/cts.png" in index


def test_history_pages_plot_varying_metrics_and_state_constant_ones(showcase, tmp_path):
    summary = build_site(showcase, tmp_path / "site")
    group = tmp_path / "site" / "history" / "asap7" / "halut_matmul"
    page = (group / "index.html").read_text()
    assert (group / "area_um2.svg").is_file()
    assert not (group / "voltage_v.svg").exists()
    assert re.search(r'data-metric="voltage_v">Supply voltage \[V\]: every run \(\d+\): 0.70 V<', page)
    assert (group / "runs.csv").is_file()
    assert (tmp_path / "site" / "history" / "asap7" / "comparison-siliconcompiler-post-route.svg").is_file()
    assert summary.plots > 0


def test_trend_plot_has_title_axis_units_and_dates(tmp_path):
    import numpy as np

    job = plots.TrendPlot(
        path=tmp_path / "p.svg", title="halut_encoder on asap7: area_um2", ylabel="area_um2 [µm²]",
        series=[plots.Series("x", np.array([19800.0, 19801.5, 19803.0]), np.array([1.0, 2.0, 1.5]),
                             np.array([True, False, True]))],
    )
    plots.draw_trend(job)
    ax = plots._TREND_AXES[0]
    assert ax.get_title(loc="left") == "halut_encoder on asap7: area_um2"
    assert ax.get_ylabel() == "area_um2 [µm²]"
    assert ax.get_xlabel() == "runs, oldest to newest (start date, UTC)"
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert any(re.search(r"\d", label) for label in labels)
    svg = (tmp_path / "p.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "area_um2 [µm²]" in svg
    # The axes are reused from plot to plot: nothing of the previous plot may survive.
    second = plots.TrendPlot(
        path=tmp_path / "q.svg", title="halut_decoder on nangate45: tns_ns", ylabel="tns_ns [ns]",
        series=[plots.Series("x", np.array([19900.0, 19901.0]), np.array([-5.0, -4.0]), np.array([True, True]))],
    )
    plots.draw_trend(second)
    assert len(ax.lines) == 1 and ax.get_title(loc="left") == "halut_decoder on nangate45: tns_ns"
    assert ax.get_ylim()[1] < 0 and ax.get_xlim()[0] > 19899


def test_plots_are_reused_from_cache_when_data_unchanged(tmp_path):
    records = synthetic_records(24)
    first = build_site(records, tmp_path / "site", cache_dir=tmp_path / "cache")
    cached = sorted((tmp_path / "cache" / "plots").glob("*.svg"))
    assert len(cached) == first.plots
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    build_site(records, tmp_path / "site", cache_dir=tmp_path / "cache")
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps
    # A grown history redraws what changed; plots of the old data leave the cache.
    grown = build_site(synthetic_records(30), tmp_path / "site", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "plots").glob("*.svg"))) == grown.plots


def test_failed_build_leaves_previous_site_untouched(tmp_path, monkeypatch):
    records = synthetic_records(12)
    build_site(records, tmp_path / "site")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "site").rglob("*"))

    def explode(self, tables):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(site_mod._SiteBuilder, "_write_index", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_site(records[:3], tmp_path / "site")
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "site").rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no temp dirs left behind


def test_failure_in_a_worker_process_fails_the_build_and_keeps_the_old_site(tmp_path, monkeypatch):
    records = synthetic_records(24)  # enough work to fork the page/plot workers
    build_site(records, tmp_path / "site")
    before = (tmp_path / "site" / "index.html").read_text()

    def explode(self, records, neighbours):
        raise ValueError("template exploded")

    monkeypatch.setattr(site_mod._SiteBuilder, "_write_run_pages", explode)
    with pytest.raises(RuntimeError, match="template exploded"):
        build_site(records, tmp_path / "site")
    assert (tmp_path / "site" / "index.html").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_leftovers_of_a_crashed_build_are_removed(tmp_path):
    crashed = tmp_path / ".site.tmp-999999999-abcd"  # no such process
    (crashed / "runs").mkdir(parents=True)
    build_site(synthetic_records(6), tmp_path / "site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_rebuild_replaces_the_whole_site(tmp_path):
    build_site(synthetic_records(12), tmp_path / "site")
    stale = tmp_path / "site" / "stale.html"
    stale.write_text("old")
    build_site(synthetic_records(6), tmp_path / "site")
    assert not stale.exists()
    assert (tmp_path / "site" / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_two_records_with_one_run_id_each_get_their_own_page(tmp_path):
    first = make_record()
    second = make_record("halut_decoder").model_copy(update={"run_id": first.run_id})
    build_site([first, second], tmp_path / "site")
    pages = sorted((tmp_path / "site" / "runs").glob("*.html"))
    assert len(pages) == 2
    assert {"halut_encoder", "halut_decoder"} == {
        re.search(r"<h1>(\S+) ", p.read_text()).group(1) for p in pages
    }


def test_empty_history_gives_a_site_that_says_so(tmp_path):
    build_reports([], reports_dir=tmp_path)
    assert "history is empty" in (tmp_path / "site" / "index.html").read_text()
    assert "history is empty" in (tmp_path / "summary.md").read_text()


def test_missing_image_and_gds_files_are_reported_not_linked(tmp_path):
    record = make_record(build_dir=str(tmp_path / "gone"), images={"routing": "final_routing.png"},
                         gds="6_final.gds", steps=[StepInfo(step="route0", runtime_s=3.0)])
    build_site([record], tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    assert "image file missing: final_routing.png" in page
    assert "GDS file missing: 6_final.gds" in page
    assert "<img" not in page


REFERENCE = reference_path(Path(__file__).resolve().parents[1])
REFERENCE_GDS = REFERENCE / "latest/nangate45/fp_16_32_adder/results/6_final.gds"


@pytest.mark.skipif(not REFERENCE_GDS.is_file(), reason=f"reference GDS not present at {REFERENCE_GDS}")
def test_gds_without_images_is_rendered_with_klayout_and_cached(tmp_path):
    record = make_record("fp_16_32_adder", "nangate45", gds=str(REFERENCE_GDS))
    roots = ArtifactRoots(build=(REFERENCE_GDS.parent,))
    first = build_site([record], tmp_path / "site", cache_dir=tmp_path / "cache", roots=roots)
    assert first.layouts_rendered == 1 and first.layout_cache_hits == 0, first.warnings
    png = tmp_path / "site" / "runs" / slug(record.run_id) / "img" / "layout-gds.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a real drawing, not an empty canvas
    copied = tmp_path / "site" / "runs" / slug(record.run_id) / "6_final.gds"
    assert copied.stat().st_size == REFERENCE_GDS.stat().st_size
    page = (tmp_path / "site" / "index.html").read_text()
    assert "rendered with KLayout" in page and "Download GDS" in page
    second = build_site([record], tmp_path / "site", cache_dir=tmp_path / "cache", roots=roots)
    assert second.layouts_rendered == 0 and second.layout_cache_hits == 1


def test_unreadable_gds_gives_a_warning_and_a_reason(tmp_path):
    bad = tmp_path / "bad.gds"
    bad.write_bytes(b"not a gds file at all")
    summary = build_site([make_record(gds=str(bad))], tmp_path / "site", cache_dir=tmp_path / "cache",
                         roots=ArtifactRoots(build=(tmp_path,)))
    assert len(summary.warnings) == 1 and "layout render failed" in summary.warnings[0]
    assert "render failed" in (tmp_path / "site" / "index.html").read_text()


def test_build_reports_from_config_uses_configured_paths(tmp_path):
    from orchestrator.jobs import load_project
    from orchestrator.report import build_reports_from_config

    config = load_project(Path(__file__).resolve().parents[1] / "config.yaml").model_copy(update={"root": tmp_path})
    for record in synthetic_records(12):
        history.write_record(config.path("history_dir"), record)
    summary = build_reports_from_config(config)
    assert summary.out_dir == config.path("site_dir")
    assert (config.path("reports_dir") / "summary.md").is_file()
    assert (config.path("reports_dir") / "history.csv").is_file()
    index = (config.path("site_dir") / "index.html").read_text()
    assert "ASAP7 predictive 7 nm FinFET" in index
    assert "NAND2x1_ASAP7_75t_R" in index
