"""Matplotlib plots of the history (Agg backend, SVG files): one trend plot per (design, pdk, metric) and
one cross-design comparison per PDK. Plot jobs are plain data so they can run in worker processes.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np

from orchestrator.fsutil import atomic_write_bytes

# Bump when the look of the plots changes: cached plots of the old look are then not reused.
PLOT_STYLE_VERSION = "4"
PLOT_FORMAT = "svg"
TREND_SIZE_IN = (6.4, 3.2)
COMPARISON_SIZE_IN = (10.0, 6.4)
DPI = 96
PASS_COLOR = "#1f5f99"
FAIL_COLOR = "#b23b3b"
X_TICKS = 4  # run-order axis: at most this many date labels
# A positive quantity spanning more than this factor is drawn on a log axis: one outlier (a
# 1000 ns clock, a 100x larger import) would otherwise flatten every other point onto the floor.
LOG_SPAN = 50.0


def mpl_text(text: str) -> str:
    """Text shown literally by matplotlib ("$" would start mathtext)."""
    return text.replace("$", r"\$")


@dataclass
class Series:
    label: str
    dates: np.ndarray  # matplotlib date numbers (days)
    values: np.ndarray
    passing: np.ndarray  # bool per point
    estimate: bool = False  # post-synthesis estimates: drawn dashed with open markers
    color: str | None = None  # the series' colour on every plot of its page (``trends.assign_colors``)


@dataclass
class TrendPlot:
    path: Path
    title: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    cache: Path | None = None  # where a finished plot of exactly this data is (or will be) kept
    force_legend: bool = False  # label every series, even a single one (series are designs)
    # The x values are run positions (oldest first): each is labelled with its run's date.
    tick_labels: list[str] = field(default_factory=list)
    signed: bool = False  # the quantity may be negative; otherwise the axis never goes below 0

    def digest(self) -> str:
        """Content hash of everything drawn, so an unchanged trend is copied, not redrawn."""
        h = hashlib.sha256(
            f"{PLOT_FORMAT}|{PLOT_STYLE_VERSION}|{matplotlib.__version__}|{self.title}|{self.ylabel}|{self.force_legend}"
            f"|{self.tick_labels}|{self.signed}".encode()
        )
        for s in self.series:
            h.update(f"{s.label}|{s.estimate}|{s.color}".encode())
            for array in (s.dates, s.values, s.passing):
                h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:32]


@dataclass
class ComparisonPlot:
    path: Path
    title: str
    designs: list[str]
    # metric label -> value per design (NaN when that design has no value)
    panels: list[tuple[str, list[float]]]
    cache: Path | None = None
    colors: list[str] = field(default_factory=list)  # per design (``trends.assign_colors``)

    def digest(self) -> str:
        text = repr((PLOT_FORMAT, PLOT_STYLE_VERSION, matplotlib.__version__, self.title, self.designs, self.panels,
                     self.colors))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


_FIGURES: dict[tuple[float, float], plt.Figure] = {}
_TREND_AXES: list = []
# Fixed margins instead of tight_layout(): tight_layout draws the figure twice (about half the cost).
_TREND_RECT = (0.11, 0.16, 0.86, 0.70)  # left, bottom, width, height in figure fractions


def _figure(size: tuple[float, float]) -> plt.Figure:
    # Reusing one figure per size is several times cheaper than creating one per plot.
    fig = _FIGURES.get(size)
    if fig is None:
        fig = plt.figure(figsize=size, dpi=DPI)
        _FIGURES[size] = fig
    return fig


def _trend_axes():
    """The one trend axes of this process, emptied of the previous plot's data.

    The axes (its ticks, grid, locator and labels) are set up once and reused: creating an axes
    per plot spends most of its time building tick objects again.
    """
    fig = _figure(TREND_SIZE_IN)
    if not _TREND_AXES:
        fig.clf()
        ax = fig.add_axes(_TREND_RECT)
        ax.set_xlabel("runs, oldest to newest (start date, UTC)", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, color="#dddddd", linewidth=0.6)
        _TREND_AXES.append(ax)
    ax = _TREND_AXES[0]
    for line in list(ax.lines):
        line.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_prop_cycle(None)
    ax.set_yscale("linear")
    # The previous plot's fixed limits (run-order x, a floor at 0) must not carry over.
    ax.set_autoscale_on(True)
    return fig, ax


def render_trend(job: TrendPlot):
    """Draw ``job`` on the reused trend figure and return (figure, axes), not yet saved."""
    fig, ax = _trend_axes()
    many = len(job.series) > 1 or job.force_legend
    total_points = sum(len(s.values) for s in job.series)
    marker = "-o" if total_points <= 200 else "-"  # thousands of markers only blur the line
    for index, series in enumerate(job.series):
        color = series.color or (PASS_COLOR if not many else f"C{index % 10}")
        order = np.argsort(series.dates, kind="stable")
        dates, values, passing = series.dates[order], series.values[order], series.passing[order]
        label = mpl_text(series.label) if many else "passing runs"
        if passing.any():
            if series.estimate:  # dashed, open markers: never mistaken for the routed line
                ax.plot(dates[passing], values[passing], marker.replace("-", "--", 1), color=color, markersize=3,
                        linewidth=1.2, label=label, markerfacecolor="white")
            else:
                ax.plot(dates[passing], values[passing], marker, color=color, markersize=3, linewidth=1.2,
                        label=label)
        if (~passing).any():
            # In a legend of configurations, a series of partial runs only (synthesis-only estimates)
            # is named by its crosses.
            cross_label = (None if passing.any() else label) if many else "failed / partial runs"
            ax.plot(dates[~passing], values[~passing], "x", color=FAIL_COLOR if not many else color,
                    markersize=5, linestyle="none", label=cross_label)
    ax.relim()
    ax.autoscale_view()
    _scale_y(ax, job)
    _run_order_ticks(ax, job)
    handles, _ = ax.get_legend_handles_labels()
    left, bottom, width, height = _TREND_RECT
    # A legend takes the right third: the plot stays readable and the saved picture its width.
    ax.set_position((left, bottom, width * 0.66 if handles else width, height))
    ax.set_title(mpl_text(job.title), fontsize=10, loc="left", pad=6)
    ax.set_ylabel(mpl_text(job.ylabel), fontsize=9)
    if handles:
        # Right of the plot, outside it: never on the data nor on the title, however many lines.
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0,
                  handlelength=1.8)
    return fig, ax


def draw_trend(job: TrendPlot) -> Path:
    fig, _ = render_trend(job)
    _save(fig, job.path, tight=True)
    return job.path


def _values(job: TrendPlot) -> np.ndarray:
    values = np.concatenate([s.values for s in job.series]) if job.series else np.array([])
    return values[~np.isnan(values)]


def _scale_y(ax, job: TrendPlot) -> None:
    values = _values(job)
    if not values.size:
        return
    low, high = float(values.min()), float(values.max())
    if low > 0 and high / low > LOG_SPAN:
        ax.set_yscale("log")
        # Plain numbers ("1,000"), not "10^3": a reader compares values, not exponents.
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.4g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        return
    ax.yaxis.set_major_formatter(ticker.ScalarFormatter())
    # Offsets like "+1.234e4" hide the real magnitude from a reader skimming a trend.
    plain = float(np.abs(values).max()) < 1e7
    ax.ticklabel_format(axis="y", useOffset=False, style="plain" if plain else "sci", scilimits=(-3, 7))
    if not job.signed and low >= 0:
        ax.set_ylim(bottom=max(0.0, ax.get_ylim()[0]))


def _run_order_ticks(ax, job: TrendPlot) -> None:
    count = len(job.tick_labels)
    if not count:
        return
    ax.set_xlim(-0.5, count - 0.5)
    step = max(1, math.ceil(count / X_TICKS))
    positions = list(range(0, count, step))
    ax.set_xticks(positions, [job.tick_labels[p] for p in positions], fontsize=8)


def draw_comparison(job: ComparisonPlot) -> Path:
    fig = _figure(COMPARISON_SIZE_IN)
    fig.clf()
    columns = 2
    rows = max(1, (len(job.panels) + columns - 1) // columns)
    labels = [mpl_text(d) for d in job.designs]
    positions = np.arange(len(labels))
    for index, (ylabel, values) in enumerate(job.panels):
        ax = fig.add_subplot(rows, columns, index + 1)
        heights = np.asarray(values, dtype=float)
        present = ~np.isnan(heights)
        colors = job.colors or [f"C{i % 10}" for i in range(len(labels))]
        ax.bar(positions[present], heights[present], color=[colors[i] for i in positions[present]])
        for pos in positions[~present]:
            ax.text(pos, 0, "n/a", ha="center", va="bottom", fontsize=7, color="#777777")
        ax.set_xticks(positions, labels, fontsize=7, rotation=15, ha="right")
        ax.set_ylabel(mpl_text(ylabel), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    fig.suptitle(mpl_text(job.title), fontsize=11)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=0.1, wspace=0.3, hspace=0.55)
    _save(fig, job.path)
    return job.path


def _save(fig: plt.Figure, path: Path, *, tight: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # SVG with text left as text: crisp at any zoom and about a third cheaper to write than PNG.
    # ``tight``: the legend outside the axes widens the picture instead of being cut off.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "halut-report"}):
        fig.savefig(path, dpi=DPI, format="svg", metadata={"Date": None},
                    **({"bbox_inches": "tight", "pad_inches": 0.08} if tight else {}))


def draw(job: TrendPlot | ComparisonPlot) -> Path:
    """Draw ``job`` (or copy its cached file) to ``job.path``."""
    if job.cache is not None and job.cache.is_file():
        job.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(job.cache, job.path)
        return job.path
    if isinstance(job, TrendPlot):
        draw_trend(job)
    else:
        draw_comparison(job)
    if job.cache is not None:
        atomic_write_bytes(job.cache, job.path.read_bytes())
    return job.path


def draw_batch(jobs: list[TrendPlot | ComparisonPlot]) -> list[Path]:
    return [draw(job) for job in jobs]


def plot_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
