"""The gallery on records of the full SiliconCompiler flow: routed layouts and sign-off figures in the
index, scenarios and images on the run page, estimates apart from routed values in the trends,
and the comparison with imported ORFS runs at the same clock."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from orchestrator.record import Metrics, RunRecord
from orchestrator.report import ArtifactRoots, build_site, orfs_compare, plots, trends
from orchestrator.report.view import slug
from tests.synthetic_history import ROUTED_DECODER_METRICS, routed_record, synthesis_timing_record

T0 = datetime(2026, 12, 1, 22, 44, 44, tzinfo=UTC)


def orfs_record(clock_ns: float | None, *, days: int = 0, status: str = "pass", area: float = 24667.5,
                cells: int = 12256, util: float = 52.07, tns: float = -0.154, origin: str = "finish") -> RunRecord:
    """Shaped like an ``import-orfs`` record of halut_decoder on NanGate45 (no RTL parameters)."""
    metrics = Metrics(area_um2=area, stdcell_count=cells, utilization_pct=util, tns_ns=tns,
                      clock_period_ns=clock_ns, target_freq_mhz=1000 / clock_ns if clock_ns else None, voltage_v=1.1)
    step = "synth" if origin == "synthesis" else "finish"
    return RunRecord(
        run_id=f"2023{days:04d}-halut_decoder-nangate45-orfs-{clock_ns}-{status}", source="orfs",
        design="halut_decoder", top="halut_decoder", pdk="nangate45", parameters={"orfs_design": "halut_decoder"},
        timestamp=datetime(2023, 9, 1, tzinfo=UTC) + timedelta(days=days), status=status,
        reason=None if status == "pass" else "no metrics file", metrics_origin=origin, metrics=metrics,
        metric_steps={"area_um2": step, "stdcell_count": step, "utilization_pct": "finish", "tns_ns": "finish",
                      "clock_period_ns": "constraints", "target_freq_mhz": "constraints", "voltage_v": "platform"},
        stage_reached="finish" if status == "pass" else None,
    )


def table_cells(page: str, css_class: str) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(pdk, metric, design) -> (td class, data-value or "", text) of ``<table class=css_class>``."""
    cells = {}
    for table in re.finditer(rf'<table class="{css_class}" data-pdk="([^"]*)">(.*?)</table>', page, re.DOTALL):
        for row in re.finditer(r'<tr data-metric="([^"]*)">(.*?)</tr>', table.group(2), re.DOTALL):
            for cell in re.finditer(r'<td class="([^"]*)" data-design="([^"]*)"(?: data-value="([^"]*)")?([^>]*)>'
                                    r'(.*?)</td>', row.group(2), re.DOTALL):
                text = html.unescape(re.sub(r"<[^>]+>", "", cell.group(5))).strip()
                cells[(table.group(1), row.group(1), html.unescape(cell.group(2)))] = (
                    cell.group(1), cell.group(3) or "", text, html.unescape(cell.group(4)))
    return cells


@pytest.fixture
def routed(tmp_path):
    return routed_record(tmp_path / "build", timestamp=T0)


def test_index_shows_our_klayout_layout_and_the_post_route_figures(routed, tmp_path):
    build_site([routed], tmp_path / "site", roots=ArtifactRoots(build=(tmp_path / "build",)))
    page = (tmp_path / "site" / "index.html").read_text()
    run = slug(routed.run_id)
    image = tmp_path / "site" / "runs" / run / "img" / "layout.png"
    # The index shows a thumbnail linking to the record's own PNG (copied: it is narrower than 1600 px).
    assert f'<a href="runs/{run}/img/layout.png"><img src="runs/{run}/img/layout-thumb.png"' in page
    assert image.read_bytes() == open(routed.images["layout"], "rb").read()
    assert "final GDS, rendered with KLayout" in page

    signoff = table_cells(page, "signoff")
    expected = {"fmax_mhz": 613.672, "wns_ns": 0.0, "tns_ns": 0.0, "hold_wns_ns": 0.0, "hold_tns_ns": 0.0,
                "power_mw": 0.993364, "leakage_power_mw": 0.0293673, "utilization_pct": 44.8765, "drc_count": 0,
                "drv_count": 0, "flop_count": 84, "latch_count": 144}
    for metric, value in expected.items():
        css, shown, text, _ = signoff[("nangate45", metric, "halut_decoder")]
        assert float(shown) == pytest.approx(value), metric
        assert css == "num" and "†" not in text, (metric, css, text)  # routed figures carry no estimate mark
    assert signoff[("nangate45", "fmax_mhz", "halut_decoder")][2] == "613.7"
    assert signoff[("nangate45", "power_mw", "halut_decoder")][2] == "0.993"
    assert "at the typical scenario" in signoff[("nangate45", "wns_ns", "halut_decoder")][3]
    summary = table_cells(page, "summary")
    assert all("synth" not in css for css, *_ in summary.values())
    assert "post-synthesis estimate" not in page


def test_synthesis_only_run_marks_its_estimates_and_only_them(tmp_path):
    record = synthesis_timing_record(tmp_path / "build", timestamp=T0)
    build_site([record], tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    signoff = table_cells(page, "signoff")
    fmax = signoff[("nangate45", "fmax_mhz", "halut_decoder")]
    assert fmax[0] == "num synth" and fmax[2] == "712.9†" and "from synthesis.timing" in fmax[3]
    assert signoff[("nangate45", "drc_count", "halut_decoder")][2] == "no P&R: openroad not installed"
    assert signoff[("nangate45", "utilization_pct", "halut_decoder")][2] == "no P&R: openroad not installed"
    summary = table_cells(page, "summary")
    assert summary[("nangate45", "area_um2", "halut_decoder")][0] == "num synth"
    # The constraint and the Liberty voltage are no estimates.
    assert summary[("nangate45", "target_freq_mhz", "halut_decoder")][0] == "num"
    assert summary[("nangate45", "voltage_v", "halut_decoder")][0] == "num"


def test_imported_runs_get_no_post_route_table_of_this_flow(tmp_path):
    build_site([orfs_record(3.0)], tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    assert '<table class="summary" data-pdk="nangate45">' in page
    assert 'class="signoff"' not in page


def test_run_page_names_the_scenario_of_each_timing_figure_and_the_images(routed, tmp_path):
    build_site([routed], tmp_path / "site", roots=ArtifactRoots(build=(tmp_path / "build",)))
    page = (tmp_path / "site" / "runs" / f"{slug(routed.run_id)}.html").read_text()
    rows = dict(re.findall(r'<tr data-metric="([^"]+)">(.*?)</tr>', page))
    assert rows["wns_ns"].endswith("<td>write.views</td><td>typical</td>")
    assert rows["power_mw"].endswith("<td>typical</td>")
    assert rows["area_um2"].endswith("<td>write.views</td><td></td>")  # no scenario for a size
    scenario = re.search(r'<tr data-scenario="typical">(.*?)</tr>', page).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", scenario)
    assert cells[:4] == ["typical", "typical", "setup, hold, power", "1.10"]
    assert set(cells[4].split(", ")) == set(routed.metric_scenarios)
    figure = re.search(r'<figure data-image="layout">(.*?)</figure>', page, re.DOTALL).group(1)
    assert "<strong>layout</strong>: final GDS, rendered with KLayout (write.gds)" in figure
    assert "<code>halut_decoder.png</code>" in figure and 'src="' in figure


def test_trend_lines_keep_estimates_apart_and_name_imports_by_what_is_known(tmp_path):
    group = [orfs_record(6.0, days=0), orfs_record(3.0, days=1), orfs_record(None, days=2, status="fail",
                                                                            origin="synthesis", area=20000.0),
             synthesis_timing_record(tmp_path / "a", timestamp=T0),
             routed_record(tmp_path / "b", timestamp=T0 + timedelta(hours=2))]
    values = np.array([r.metrics.area_um2 for r in group], dtype=float)
    series = trends.trend_series(group, "area_um2", np.arange(len(group), dtype=float), values,
                                 np.array([r.status == "pass" for r in group]))
    by_label = {s.label: s for s in series}
    assert set(by_label) == {"ORFS import, 3 ns", "ORFS import, 6 ns", "ORFS import, clock unknown · post-synthesis",
                             "this flow · post-synthesis", "this flow"}
    assert list(by_label["this flow"].values) == [1507.42]
    assert list(by_label["this flow · post-synthesis"].values) == [1405.012]
    assert by_label["this flow · post-synthesis"].estimate and not by_label["this flow"].estimate
    assert not any(re.search(r"=[-–]", label) for label in by_label)  # no "C=–" for unknown parameters
    # The constraint is never an estimate: one line per configuration.
    clock = trends.trend_series(group, "clock_period_ns", np.arange(len(group), dtype=float),
                                np.array([np.nan if r.metrics.clock_period_ns is None else r.metrics.clock_period_ns
                                          for r in group]), np.ones(len(group), dtype=bool))
    assert not any(s.estimate for s in clock)


def test_a_lone_configuration_with_estimates_gets_a_legend_and_a_dashed_line(tmp_path):
    group = [synthesis_timing_record(tmp_path / "a", timestamp=T0),
             routed_record(tmp_path / "b", timestamp=T0 + timedelta(hours=2)),
             routed_record(tmp_path / "c", timestamp=T0 + timedelta(hours=4))]
    values = np.array([r.metrics.fmax_mhz for r in group])
    series = trends.trend_series(group, "fmax_mhz", np.array([20000.0, 20000.1, 20000.2]), values,
                                 np.array([True, True, True]))
    assert [s.label for s in series] == ["post-route", "post-synthesis estimate"] and trends.needs_legend(series)
    job = plots.TrendPlot(path=tmp_path / "fmax.svg", title="t", ylabel="fmax_mhz [MHz]", series=series,
                          force_legend=trends.needs_legend(series))
    plots.draw_trend(job)
    ax = plots._TREND_AXES[0]
    assert [line.get_linestyle() for line in ax.lines] == ["-", "--"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["post-route", "post-synthesis estimate"]


def test_history_page_labels_imports_without_placeholder_parameters(tmp_path):
    records = [orfs_record(3.0), orfs_record(6.0, days=1), routed_record(tmp_path / "b", timestamp=T0)]
    build_site(records, tmp_path / "site")
    page = (tmp_path / "site" / "history" / "nangate45" / "halut_decoder" / "index.html").read_text()
    assert "ORFS import, 3 ns" in page and "ORFS import, 6 ns" in page and "this flow" in page
    assert "C=-" not in page and "C=–" not in page
    # Each configuration has one area: a sentence per configuration, not a plot of flat lines.
    assert not (tmp_path / "site" / "history" / "nangate45" / "halut_decoder" / "area_um2.svg").exists()
    constant = re.search(r'<li class="constant" data-metric="area_um2">(.*?)</li>', page).group(1)
    assert "ORFS import, 3 ns: 24,667.50 µm²" in html.unescape(constant) and "this flow: 1,507.42" in constant


def test_comparison_matches_same_design_pdk_and_clock_and_says_when_orfs_has_no_such_clock(tmp_path):
    older = orfs_record(3.0, days=0, area=69000.0)
    newer = orfs_record(3.0, days=5, area=68940.8, cells=34394, util=58.85, tns=-1.67)
    other_clock = orfs_record(6.0, days=9)
    failed = orfs_record(3.0, days=10, status="fail")
    ours = routed_record(tmp_path / "a", timestamp=T0)
    ours_25 = routed_record(tmp_path / "b", timestamp=T0 + timedelta(hours=1), clock_period_ns=2.5)
    ours_asap7 = routed_record(tmp_path / "c", timestamp=T0).model_copy(update={"pdk": "asap7", "run_id": "asap7-run"})
    comparison = orfs_compare.compare_with_orfs([ours_25, newer, failed, ours, older, other_clock, ours_asap7])
    rows = {(r.pdk, r.clock_period_ns): r for r in comparison.rows}
    assert set(rows) == {("nangate45", 3.0), ("nangate45", 2.5), ("asap7", 3.0)}
    match = rows[("nangate45", 3.0)]
    assert match.ours is ours and match.theirs is newer and match.note == ""
    values = {v.metric: v for v in match.values}
    assert values["area_um2"].ours_value == 1507.42 and values["area_um2"].theirs_value == 68940.8
    # A C=4 run beside an import of unknown size: shown, never given a ratio.
    assert values["area_um2"].ratio == "" and values["area_um2"].no_ratio == "size of the import unknown: not compared"
    assert values["stdcell_count"].theirs == "34,394" and values["tns_ns"].theirs == "-1.670"
    assert values["utilization_pct"].ours == "44.9" and values["utilization_pct"].theirs == "58.9"
    assert rows[("nangate45", 2.5)].theirs is None
    assert rows[("nangate45", 2.5)].note == "no ORFS run at 2.5 ns (ORFS ran halut_decoder on nangate45 at 3, 6 ns)"
    assert rows[("asap7", 3.0)].note == "no ORFS run of halut_decoder on asap7"

    build_site([ours_25, newer, failed, ours, older, other_clock], tmp_path / "site",
               roots=ArtifactRoots(build=(tmp_path,)))
    page = (tmp_path / "site" / "vs-orfs.html").read_text()
    row = re.search(r'<tr data-design="halut_decoder" data-clock="3.0">(.*?)</tr>', page, re.DOTALL).group(1)
    for record in (ours, newer):  # linked to both runs, and the pages are there
        href = f"runs/{slug(record.run_id)}.html"
        assert f'href="{href}"' in row and (tmp_path / "site" / href).is_file()
    assert 'data-metric="area_um2" data-side="theirs" data-value="68940.8"' in row
    assert 'data-metric="area_um2" data-side="ours" data-value="1507.42"' in row
    assert f'runs/{slug(ours.run_id)}/img/layout.png' in row
    unmatched = re.search(r'<tr data-design="halut_decoder" data-clock="2.5">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "no ORFS run at 2.5 ns (ORFS ran halut_decoder on nangate45 at 3, 6 ns)" in unmatched
    assert 'href="vs-orfs.html">vs ORFS</a>' in (tmp_path / "site" / "index.html").read_text()


def test_ratio_only_for_a_post_route_run_at_the_size_the_archive_was_made_at(tmp_path):
    theirs = orfs_record(3.0, days=5, area=68940.8)
    ours = routed_record(tmp_path / "a", timestamp=T0)
    reference = {"halut_decoder": dict(ours.parameters)}
    (row,) = orfs_compare.compare_with_orfs([ours, theirs], reference).rows
    assert {v.metric: v.ratio for v in row.values}["area_um2"] == f"{1507.42 / 68940.8:.2f}×"
    bigger = {"halut_decoder": dict(ours.parameters, C=32)}
    (row,) = orfs_compare.compare_with_orfs([ours, theirs], bigger).rows
    assert {v.metric: v.no_ratio for v in row.values}["area_um2"] == "different size from the import"
    estimate = synthesis_timing_record(tmp_path / "b", timestamp=T0)
    (row,) = orfs_compare.compare_with_orfs([estimate, theirs], reference).rows
    area = {v.metric: v for v in row.values}["area_um2"]
    assert area.ratio == "" and area.no_ratio == "synthesis estimate vs post-route: not compared"


def test_comparison_shows_a_partial_run_only_without_a_passing_one_and_marks_its_estimates(tmp_path):
    estimate = synthesis_timing_record(tmp_path / "a", timestamp=T0 + timedelta(hours=5))
    comparison = orfs_compare.compare_with_orfs([estimate, orfs_record(3.0)])
    (row,) = comparison.rows
    assert row.ours is estimate and comparison.has_estimates
    assert {v.metric: v.ours_estimate for v in row.values} == {"area_um2": True, "stdcell_count": True,
                                                                "utilization_pct": False, "tns_ns": True}
    assert {v.metric: v.ours for v in row.values}["utilization_pct"] == "not reported"
    routed = routed_record(tmp_path / "b", timestamp=T0)  # older, but it passed
    (row,) = orfs_compare.compare_with_orfs([estimate, routed, orfs_record(3.0)]).rows
    assert row.ours is routed


def test_comparison_page_without_imports_says_how_to_get_them(routed, tmp_path):
    build_site([routed], tmp_path / "site")
    page = (tmp_path / "site" / "vs-orfs.html").read_text()
    assert "No ORFS runs are imported" in page and "no ORFS run of halut_decoder on nangate45" in page


def test_routed_record_helper_is_the_real_record_shape():
    # Guards the fixture against drifting from what metrics.collect writes (record.METRIC_SPECS).
    # Every metric a flow run produces; the accuracy figures come from a sweep's accuracy task.
    assert set(ROUTED_DECODER_METRICS) == set(Metrics.model_fields) - {"accuracy_pct", "approx_error"}


def test_summary_markdown_carries_the_sign_off_figures_of_this_flow(routed, tmp_path):
    from orchestrator.report import build_reports

    build_reports([routed, orfs_record(3.0)], reports_dir=tmp_path / "reports")
    markdown = (tmp_path / "reports" / "summary.md").read_text()
    section = markdown.split("### Sign-off figures of this flow (nangate45)", 1)[1]
    assert "| fmax \\[MHz\\] | 613.7 |" in section and "| Latches \\[\\#\\] | 144 |" in section
    assert "| DRC \\[\\#\\] | 0 |" in section and "†" not in section


def test_a_legend_of_many_configurations_covers_neither_title_nor_data(tmp_path):
    days = np.array([20000.0, 20001.0, 20002.0])
    series = [plots.Series(f"ORFS import, {n} ns", days, np.array([1.0, 2.0, 3.0]) * n, np.ones(3, dtype=bool))
              for n in range(1, 7)]
    plots.draw_trend(plots.TrendPlot(path=tmp_path / "many.svg", title="halut_decoder on nangate45: area_um2",
                                     ylabel="area_um2 [µm²]", series=series))
    fig, ax = plots._FIGURES[plots.TREND_SIZE_IN], plots._TREND_AXES[0]
    renderer = fig.canvas.get_renderer()
    title, legend = ax.title.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
    plot_area, page = ax.get_window_extent(renderer), fig.bbox
    assert not title.overlaps(legend) and not legend.overlaps(plot_area)
    assert title.y1 <= page.y1 and legend.y1 <= page.y1  # nothing cut off at the top
    # The next plot, with one legend row, gets the full-height axes back.
    plots.draw_trend(plots.TrendPlot(path=tmp_path / "one.svg", title="t", ylabel="y", series=series[:1]))
    assert ax.get_position().height == pytest.approx(plots._TREND_RECT[3])


def test_run_page_lists_the_closure_attempts_and_each_steps_peak_memory(routed, tmp_path):
    from orchestrator.record import ClosureAttempt

    steps = [s.model_copy(update={"peak_memory_mib": 953.4}) if s.step == "route.detailed" else s
             for s in routed.steps]
    attempts = [ClosureAttempt(attempt=1, core_utilization_pct=45, placement_density=0.6, stage_reached="cts.fillcell",
                               outcome="congestion", reason="global routing failed for congestion (GRT-0116)",
                               runtime_s=600.0),
                ClosureAttempt(attempt=2, core_utilization_pct=40, placement_density=0.55, stage_reached="write.views",
                               outcome="routed", drc_count=0, runtime_s=900.0)]
    record = routed.model_copy(update={"steps": steps, "closure_attempts": attempts})
    build_site([record], tmp_path / "site")
    page = (tmp_path / "site" / "runs" / f"{slug(record.run_id)}.html").read_text()
    rows = re.findall(r'<tr data-outcome="([^"]+)">(.*?)</tr>', page, re.DOTALL)
    assert [outcome for outcome, _ in rows] == ["congestion", "routed"]
    first = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0][1])]
    assert first[:5] == ["1", "45", "0.6", "cts.fillcell", "congestion"] and "GRT-0116" in first[-1]
    detailed = re.search(r"<tr><td>route.detailed</td>(.*?)</tr>", page).group(1)
    assert '<td class="num">953</td>' in detailed


def test_run_page_of_a_run_routed_at_once_has_no_closure_table(routed, tmp_path):
    build_site([routed], tmp_path / "site")
    page = (tmp_path / "site" / "runs" / f"{slug(routed.run_id)}.html").read_text()
    assert "Routing closure" not in page and "Peak memory [MiB]" in page
