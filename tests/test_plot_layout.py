"""Every plot kind the site draws keeps its legend off its title and off its data, with labels
as long and as many as real histories give (an imported archive: two dozen configurations)."""

from __future__ import annotations

import numpy as np

from orchestrator.report import plots, trends


def _series(count: int, points: int = 5) -> list[plots.Series]:
    colors = trends.assign_colors(str(n) for n in range(count))
    return [plots.Series(f"halut_decoder: ORFS import, EncUnits=4, {n} ns", np.arange(points, dtype=float),
                         np.linspace(1.0, 2.0, points) * (n + 1), np.ones(points, dtype=bool), color=colors[str(n)])
            for n in range(count)]


def _assert_apart(fig, ax) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    title = ax.title.get_window_extent(renderer)
    assert not legend.overlaps(title), (legend, title)
    assert not legend.overlaps(ax.get_window_extent(renderer)), "the legend covers the data"


def test_trend_legend_overlaps_neither_title_nor_axes(tmp_path):
    for count in (1, 3, 8):
        job = plots.TrendPlot(path=tmp_path / f"t{count}.svg", title="halut_decoder on nangate45: Std-cell area",
                              ylabel="Std-cell area [µm²]", series=_series(count), force_legend=True,
                              tick_labels=[f"2023-0{i + 1}-01" for i in range(5)])
        plots.draw_trend(job)
        _assert_apart(plots._FIGURES[plots.TREND_SIZE_IN], plots._TREND_AXES[0])


def test_cross_design_trend_legend_of_two_dozen_configurations_stays_apart(tmp_path):
    job = plots.TrendPlot(path=tmp_path / "cross.svg", title="nangate45: Gate equivalents of every design",
                          ylabel="Gate equivalents [GE]", series=_series(24), force_legend=True,
                          tick_labels=[f"2023-0{i + 1}-01" for i in range(5)])
    plots.draw_trend(job)
    _assert_apart(plots._FIGURES[plots.TREND_SIZE_IN], plots._TREND_AXES[0])


def test_comparison_title_overlaps_no_panel(tmp_path):
    designs = ["fp_16_32_adder", "halut_decoder", "halut_encoder", "halut_matmul", "register_file_latch", "scm"]
    job = plots.ComparisonPlot(path=tmp_path / "c.svg", title="nangate45, ORFS import, post-route: latest passing run",
                               designs=designs,
                               panels=[(f"metric {i} [unit]", [float(j + i) for j in range(6)]) for i in range(6)])
    plots.draw_comparison(job)
    fig = plots._FIGURES[plots.COMPARISON_SIZE_IN]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        assert not title.overlaps(ax.get_tightbbox(renderer))


def test_one_series_keeps_its_colour_on_every_plot_of_a_page():
    keys = ["ORFS 3 ns", "ORFS 6 ns", "C=4"]
    assert trends.assign_colors(keys) == trends.assign_colors(reversed(keys))
    assert len(set(trends.assign_colors(keys).values())) == 3


def test_an_outlier_gets_a_log_axis_and_a_size_never_starts_below_zero(tmp_path):
    clock = plots.Series("x", np.arange(4, dtype=float), np.array([3.0, 3.0, 6.0, 1000.0]), np.ones(4, dtype=bool))
    plots.draw_trend(plots.TrendPlot(path=tmp_path / "clock.svg", title="t", ylabel="y", series=[clock]))
    assert plots._TREND_AXES[0].get_yscale() == "log"
    area = plots.Series("x", np.arange(3, dtype=float), np.array([100.0, 900.0, 1400.0]), np.ones(3, dtype=bool))
    plots.draw_trend(plots.TrendPlot(path=tmp_path / "area.svg", title="t", ylabel="y", series=[area]))
    ax = plots._TREND_AXES[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] >= 0
