"""Design-space pages: per (design, PDK), every configuration that was run (parameter set and clock
period, e.g. the points of a sweep), as scatter plots of GE (or area) against target frequency,
achieved fmax and the size axis the design's generator defines (its ``size_axis`` hook; halut:
C*K*M), with the Pareto front highlighted and each point linked to its run page.
Points measured on an accuracy task (a sweep's ``accuracy`` block) also get GE, and power when STA
ran, against held-out accuracy: one pair of plots per task, since accuracies on different tasks
do not compare.

    design-space/index.html                 one row per (design, PDK) with its point count
    design-space/<pdk>/<design>.html        the plots and the table of points

A configuration is shown once, with its newest run that has an area figure (a nightly re-run of
the same configuration would otherwise stack identical points). The Pareto front: points no
other point beats on both axes (higher frequency or size, and lower GE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from matplotlib.ticker import MaxNLocator

from orchestrator.designs import generator_hooks
from orchestrator.record import RunRecord
from orchestrator.report import identity
from orchestrator.report.pages import SiteView
from orchestrator.report.view import format_metric, slug

POINT_COLOR = "#8aa4bd"
FRONT_COLOR = "#c2410c"
SHOWN_STATUS = ("pass", "partial")  # a failed run has no trustworthy figures


@dataclass
class Point:
    record: RunRecord
    href: str  # run page, relative to the design-space page
    label: str  # the parameters that differ between the points, and the clock period

    @property
    def y(self) -> float:
        m = self.record.metrics
        return m.ge if m.ge is not None else m.area_um2


@dataclass
class Axis:
    name: str  # short name (table column, captions)
    label: str  # x-axis label
    value: Callable[[RunRecord], float | None]


FREQUENCY_AXES = (
    Axis("target frequency", "target frequency [MHz]", lambda r: r.metrics.target_freq_mhz),
    Axis("fmax", "achieved fmax [MHz]", lambda r: r.metrics.fmax_mhz),
)


def size_axis(records: list[RunRecord]) -> Axis | None:
    """The size axis the design's generator defines (its ``size_axis`` hook, halut: C·K·M), named
    by the first record it has a value for; None without such a generator or value."""
    if not records:
        return None
    hooks = generator_hooks("size_axis", design=records[0].design)
    if not hooks:
        return None
    hook = hooks[0]
    for record in records:
        answer = hook(record.parameters)
        if answer is not None:
            name, label = answer[0], answer[1]
            break
    else:
        return None

    def value(record: RunRecord) -> float | None:
        answer = hook(record.parameters)
        return float(answer[2]) if answer is not None and answer[0] == name else None

    return Axis(name, label, value)


def hardware_axes(records: list[RunRecord]) -> list[Axis]:
    """The x axes of the GE (or area) plots: target frequency, fmax, and the size axis if any."""
    size = size_axis(records)
    return list(FREQUENCY_AXES) + ([size] if size is not None else [])


def _accuracy(record: RunRecord) -> float | None:
    return record.metrics.accuracy_pct


def accuracy_task(record: RunRecord) -> str | None:
    """The accuracy task a record was measured on (None: no accuracy figure)."""
    if record.metrics.accuracy_pct is None:
        return None
    return str(record.parameters.get("accuracy", "unnamed task"))


def _ge_or_area(point: Point) -> float | None:
    return point.y


def _power(point: Point) -> float | None:
    return point.record.metrics.power_mw


@dataclass
class Figure:
    """One scatter plot of a page: x from ``axis``, y from ``y``, over ``points``."""

    name: str  # table column "Pareto front" entries and captions
    axis: Axis
    y: Callable[[Point], float | None]
    ylabel: str
    points: list[Point]
    annotate: bool = False  # write each point's configuration beside it


def figures(points: list[Point], ylabel: str) -> list[Figure]:
    """Every plot of a page: GE (or area) vs each hardware axis, then per accuracy task GE and
    power (when any point has it) vs accuracy."""
    axes = hardware_axes([p.record for p in points])
    out = [Figure(axis.name, axis, _ge_or_area, ylabel, points) for axis in axes]
    for task in sorted({t for t in map(lambda p: accuracy_task(p.record), points) if t is not None}):
        members = [p for p in points if accuracy_task(p.record) == task]
        axis = Axis(f"accuracy on {task}", f"held-out accuracy [%] on {task}", _accuracy)
        out.append(Figure(f"accuracy ({ylabel.split(' [')[0]}) on {task}", axis, _ge_or_area, ylabel, members, True))
        if any(p.record.metrics.power_mw is not None for p in members):
            out.append(Figure(f"accuracy (power) on {task}", axis, _power, "power [mW]", members, True))
    return out


def configuration_key(record: RunRecord) -> identity.Configuration:
    """What makes two runs the same design point: ``identity.configuration``."""
    return identity.configuration(record)


def latest_per_configuration(records: list[RunRecord]) -> list[RunRecord]:
    usable = [r for r in records if r.metrics.area_um2 is not None]
    return sorted(identity.newest_per(usable, configuration_key, status=SHOWN_STATUS).values(), key=configuration_key)


def point_labels(records: list[RunRecord]) -> list[str]:
    """Per record: the parameters whose values differ between the records, and the clock period."""
    params = [identity.known_parameters(r) for r in records]
    names = sorted({name for p in params for name in p})
    differing = [n for n in names if len({repr(p.get(n)) for p in params}) > 1]
    labels = []
    for record, p in zip(records, params, strict=True):
        if not record.source == identity.OWN_SOURCE:  # an import's size is unknown: no "C=None"
            parts = [identity.source_name(record.source), *(f"{n}={p[n]}" for n in differing if n in p)]
        else:
            parts = [f"{n}={p.get(n)}" for n in differing if n in p]
        if record.metrics.clock_period_ns is not None:
            parts.append(f"{record.metrics.clock_period_ns:g} ns")
        labels.append(", ".join(parts))
    return labels


def pareto_front(xs: list[float], ys: list[float]) -> list[int]:
    """Indices of the points no other point dominates (x at least as large and y at least as
    small, one of them strictly), ordered by x. Identical points are on the front together."""
    front = [i for i in range(len(xs))
             if not any(xs[j] >= xs[i] and ys[j] <= ys[i] and (xs[j] > xs[i] or ys[j] < ys[i])
                        for j in range(len(xs)))]
    return sorted(front, key=lambda i: (xs[i], ys[i]))


def scatter_svg(points: list[Point], axis: Axis, ylabel: str, title: str,
                y: Callable[[Point], float | None] = _ge_or_area, annotate: bool = False) -> tuple[str, int] | None:
    """Inline SVG of one scatter plot (y from ``y``, GE or area by default) and the size of its
    Pareto front; None when no point has values on both axes. Each point is a link to its run with
    its configuration as tooltip.

    ``annotate`` writes each point's configuration beside it (accuracy plots: which C, K is where
    is the point of the plot), without the clock period when all points share it.

    Drawn by hand rather than with matplotlib: a few dozen circles as SVG text cost microseconds,
    a matplotlib figure ~0.1 s, and hand-made SVG gives every point its own link and tooltip."""
    chosen = [(p, axis.value(p.record), y(p)) for p in points]
    chosen = [(p, float(x), float(v)) for p, x, v in chosen if x is not None and v is not None]
    if not chosen:
        return None
    xs = [x for _, x, _ in chosen]
    ys = [v for _, _, v in chosen]
    kinds = [identity.kind_of(p.record) for p, _, _ in chosen]
    # A front only among like runs: a synthesis estimate "beating" a routed run is no trade-off.
    front = [i for kind in sorted(set(kinds)) for i in _kind_front(xs, ys, kinds, kind)]
    x_ticks, to_x = _scale(xs, PLOT_LEFT, PLOT_LEFT + PLOT_WIDTH)
    y_ticks, to_y = _scale(ys, PLOT_TOP + PLOT_HEIGHT, PLOT_TOP)
    bottom, right = PLOT_TOP + PLOT_HEIGHT, PLOT_LEFT + PLOT_WIDTH
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
           f'height="{HEIGHT}" role="img" font-family="sans-serif" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<text x="{PLOT_LEFT}" y="18" font-size="13">{escape(title)}</text>']
    for tick in x_ticks:
        x = to_x(tick)
        out.append(f'<line x1="{x:.1f}" y1="{PLOT_TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#dddddd"/>'
                   f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{_tick(tick)}</text>')
    for tick in y_ticks:
        y = to_y(tick)
        out.append(f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#dddddd"/>'
                   f'<text x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick(tick)}</text>')
    out.append(f'<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" '
               f'stroke="#555555"/>')
    out.append(f'<text x="{PLOT_LEFT + PLOT_WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
               f"{escape(axis.label)}</text>")
    out.append(f'<text transform="translate(14 {PLOT_TOP + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle">'
               f"{escape(ylabel)}</text>")
    for kind in sorted(set(kinds)):
        members = [i for i in front if kinds[i] == kind]
        if len(members) > 1:
            path = " ".join(f"{to_x(xs[i]):.1f},{to_y(ys[i]):.1f}" for i in members)
            out.append(f'<polyline points="{path}" fill="none" stroke="{FRONT_COLOR}" stroke-width="1.2"'
                       f'{_DASH.get(kind.stage, "")}/>')
    on_front = set(front)
    one_period = len({c[0].record.metrics.clock_period_ns for c in chosen}) == 1
    for i in sorted(range(len(xs)), key=lambda i: i in on_front):  # front drawn last, on top
        point = chosen[i][0]
        color, radius = (FRONT_COLOR, 5) if i in on_front else (POINT_COLOR, 4)
        tip = f"{point.label or point.record.design}: {_tick(xs[i])} / {_tick(ys[i])}"
        tip += f" ({kinds[i].label})"
        out.append(f'<a href="{escape(point.href)}">{_marker(kinds[i], to_x(xs[i]), to_y(ys[i]), radius, color)}'
                   f'<title>{escape(tip)}</title></a>')
        if annotate and point.label:
            parts = [part for part in point.label.split(", ") if not (one_period and part.endswith(" ns"))]
            dy = -6 if i in on_front else 14  # front labels above, the others below: neighbours rarely collide
            out.append(f'<text x="{to_x(xs[i]) + 7:.1f}" y="{to_y(ys[i]) + dy:.1f}" font-size="9" fill="#444444">'
                       f'{escape(",".join(parts))}</text>')
    # Legend above the plot, left to right: the kinds of run present, then the front.
    legend_x = PLOT_LEFT + 6
    for kind in sorted(set(kinds)):
        out.append(_marker(kind, legend_x, 34, 4, POINT_COLOR) +
                   f'<text x="{legend_x + 8}" y="38">{escape(kind.label)}</text>')
        legend_x += 18 + 5.6 * len(kind.label)
    out.append(f'<circle cx="{legend_x}" cy="34" r="5" fill="{FRONT_COLOR}"/>'
               f'<text x="{legend_x + 8}" y="38">Pareto front (per kind)</text>')
    out.append("</svg>")
    return "\n".join(out), len(front)


WIDTH, HEIGHT = 640, 400
PLOT_LEFT, PLOT_TOP, PLOT_WIDTH, PLOT_HEIGHT = 70, 50, 550, 304


_DASH = {"synthesis estimate": ' stroke-dasharray="4 3"'}


def _marker(kind: identity.Kind, x: float, y: float, radius: float, color: str) -> str:
    """This flow's routed runs: filled circles; its synthesis estimates: open circles; imports: squares."""
    if not kind.is_own:
        side = radius * 1.7
        return (f'<rect x="{x - side / 2:.1f}" y="{y - side / 2:.1f}" width="{side:.1f}" height="{side:.1f}" '
                f'fill="{color}"/>')
    if kind.stage == "synthesis estimate":
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="white" stroke="{color}" '
                f'stroke-width="1.8"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{color}"/>'


def _kind_front(xs: list[float], ys: list[float], kinds: list, kind) -> list[int]:
    members = [i for i, k in enumerate(kinds) if k == kind]
    return [members[j] for j in pareto_front([xs[i] for i in members], [ys[i] for i in members])]


def _scale(values: list[float], start: float, stop: float):
    """Nice tick values covering ``values`` and the map from data to SVG coordinates; an axis of
    non-negative values (every axis here: sizes, frequencies, GE) never starts below 0."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.06 or abs(lo) * 0.1 or 1.0  # keep points off the frame
    lo, hi = lo - pad if lo - pad >= 0 or lo < 0 else 0.0, hi + pad
    ticks = [t for t in MaxNLocator(nbins=6).tick_values(lo, hi)]
    if min(values) >= 0:
        ticks = [t for t in ticks if t >= 0]
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])

    def to_svg(value: float) -> float:
        return start + (value - lo) / (hi - lo) * (stop - start)

    return ticks, to_svg


def _tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def write_pages(site: SiteView) -> None:
    """Write the design-space pages: one per (design, PDK) with a shown point, and their index
    (an entry of ``pages.PAGES``)."""
    groups, run_href, write_page = site.groups, site.run_href, site.write_page
    rows = []
    size_axes: list[str] = []  # the size axes of the pages, for the index's lead
    for (pdk, design), group in sorted(groups.items()):
        records = latest_per_configuration(group)
        if not records:
            continue
        page = f"design-space/{slug(pdk)}/{slug(design)}.html"
        uses_ge = all(r.metrics.ge is not None for r in records)
        ylabel = "gate equivalents [GE]" if uses_ge else "std-cell area [µm²]"
        points = [Point(r, run_href(r, "../../"), label)
                  for r, label in zip(records, point_labels(records), strict=True)]
        size = size_axis(records)
        plots = []
        fronts = {}
        for figure in figures(points, ylabel):
            title = f"{design} on {pdk}: {figure.ylabel.split(' [')[0]} vs {figure.axis.name}"
            drawn = scatter_svg(figure.points, figure.axis, figure.ylabel, title, figure.y, figure.annotate)
            if drawn is not None:
                plots.append({"axis": figure.axis.name, "ylabel": figure.ylabel, "svg": drawn[0], "front": drawn[1]})
            fronts[figure.name] = set(_front_members(figure.points, figure.axis, figure.y))
        table = [{
            "point": p,
            "values": {name: format_metric(name, getattr(p.record.metrics, name))
                       for name in ("target_freq_mhz", "fmax_mhz", "ge", "area_um2", "stdcell_count",
                                    "power_mw", "accuracy_pct", "approx_error")},
            "size": size.value(p.record) if size is not None else None,
            "on_front": [name for name, members in fronts.items() if id(p) in members],
        } for p in points]
        write_page(page, "design_space.html", pdk=pdk, design=design, plots=plots, rows=table,
                   ylabel=ylabel, size_axis=size.name if size is not None else None,
                   has_accuracy=any(accuracy_task(p.record) for p in points),
                   has_power=any(p.record.metrics.power_mw is not None for p in points))
        rows.append({"pdk": pdk, "design": design, "href": f"{slug(pdk)}/{slug(design)}.html",
                     "points": len(points), "runs": len(group)})
        if size is not None and size.name not in size_axes:
            size_axes.append(size.name)
    write_page("design-space/index.html", "design_space_index.html", rows=rows, size_axes=size_axes)


def _front_members(points: list[Point], axis: Axis, y: Callable[[Point], float | None] = _ge_or_area) -> list[int]:
    chosen = [(p, axis.value(p.record), y(p)) for p in points]
    chosen = [(p, x, v) for p, x, v in chosen if x is not None and v is not None]
    xs, ys = [float(x) for _, x, _ in chosen], [float(v) for _, _, v in chosen]
    kinds = [identity.kind_of(p.record) for p, _, _ in chosen]
    return [id(chosen[i][0]) for kind in sorted(set(kinds)) for i in _kind_front(xs, ys, kinds, kind)]
