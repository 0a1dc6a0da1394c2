"""Pictures of a run's own chip, drawn without a GUI (the OpenROAD here has none, so its
``save_image`` and SC's image reports never appear): placement density, routing per layer,
routing congestion and the clock tree, drawn with matplotlib from the DEFs OpenROAD wrote at
each step and from global routing's reports, each with a title, a scale bar in µm and a legend,
as a full-size PNG and a thumbnail. Standard-cell sizes come from the run's GDS (KLayout's
Python module), which holds every cell the DEF places.
"""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from orchestrator.fsutil import atomic_write_bytes
from orchestrator.report.def_file import DefLayout

# Bumped when a picture's look changes, so cached pictures of the older look are redrawn.
PICTURE_VERSION = "1"
FIGURE_IN = (9.0, 8.0)
FULL_PX = 1800  # wide: every wire of a small block visible when opened
THUMB_PX = 900  # wide: tens to a few hundred kB, two a row on the run page
# Above this many cells the outlines are left out of the placement picture (the density map
# says the same, and drawing 10^6 rectangles takes minutes).
MAX_OUTLINED_CELLS = 60_000
MAX_GDS_BYTES = 1 << 30
MAX_REPORT_BYTES = 64 << 20
DENSITY_BINS = 40  # placement density bins along the longer side of the core, at most
DENSITY_MIN_ROWS = 3  # and each at least this many rows high: a bin of one cell says nothing
LAYER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#393b79", "#637939")


class PictureError(Exception):
    pass


@dataclass(frozen=True)
class Drawn:
    """One picture: ``png`` full size and ``thumb``, both PNG bytes."""

    png: bytes
    thumb: bytes


# ---- inputs --------------------------------------------------------------------------------

def cell_sizes_from_gds(gds: Path) -> dict[str, tuple[float, float]]:
    """Width and height in µm of every cell of ``gds``: the box of its PR boundary, the one
    layer whose shapes form a single box with a corner at the cell origin in the most cells
    (235/0 in NanGate45, 100/0 in ASAP7; the cells' full extent also covers well overlap); cells
    without it get their full extent."""
    if gds.stat().st_size > MAX_GDS_BYTES:
        raise PictureError(f"{gds.name}: larger than {MAX_GDS_BYTES >> 20} MiB")
    try:
        import klayout.db as kdb
    except ImportError as exc:  # pragma: no cover - klayout is a declared dependency
        raise PictureError(f"klayout Python module not available: {exc}") from exc
    layout = kdb.Layout()
    try:
        layout.read(str(gds))
    except RuntimeError as exc:
        raise PictureError(f"{gds.name}: KLayout cannot read it: {exc}") from exc
    dbu = layout.dbu
    boxes: dict[str, dict[int, tuple[float, float]]] = {}
    votes: dict[int, int] = defaultdict(int)
    for cell in layout.each_cell():
        per_layer = {}
        for index in layout.layer_indexes():
            shapes = cell.shapes(index)
            if shapes.size() != 1:
                continue
            box = next(iter(shapes.each())).bbox()
            if box.left == 0 and box.bottom == 0 and box.width() > 0 and box.height() > 0:
                per_layer[index] = (box.width() * dbu, box.height() * dbu)
                votes[index] += 1
        full = cell.bbox()
        per_layer[-1] = (full.width() * dbu, full.height() * dbu)
        boxes[cell.name] = per_layer
    boundary = max(votes, key=lambda index: votes[index]) if votes else -1
    return {name: sizes.get(boundary, sizes[-1]) for name, sizes in boxes.items()}


_CONGESTION_BBOX = re.compile(r"bbox\s*=\s*\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)\s*\)\s*-\s*"
                              r"\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)\s*\)")
_CONGESTION_INFO = re.compile(r"capacity:\s*(\d+)\s+usage:\s*(\d+)\s+overflow:\s*(\d+)")


def read_congestion_report(text: str) -> list[tuple[float, float, float, float, int]]:
    """The overflowing GCells of global routing's ``-congestion_report_file`` (SC 0.38:
    ``route.global/0/reports/route/<top>.congestion.rpt``, written only when routing left
    overflow): (x1, y1, x2, y2 in µm, overflow) per violation."""
    found = []
    for block in text.split("violation type:")[1:]:
        box = _CONGESTION_BBOX.search(block)
        if box is None:
            continue
        info = _CONGESTION_INFO.search(block)
        overflow = int(info.group(3)) if info else 1
        x1, y1, x2, y2 = (float(v) for v in box.groups())
        found.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2), overflow))
    return found


_USAGE_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+\d+\s*/\s*\d+\s*/\s*\d+\s*$")


def read_global_route_usage(log_text: str) -> dict[str, tuple[int, int]]:
    """Per routing layer (resource, demand) from the global router's "Final congestion report"
    table (GRT-0096) in the route.global log; the last table when the log has several."""
    usage: dict[str, tuple[int, int]] = {}
    position = log_text.rfind("Final congestion report")
    if position < 0:
        return usage
    for line in log_text[position:].splitlines()[1:]:
        match = _USAGE_ROW.match(line.strip())
        if match:
            if match.group(1) != "Total":
                usage[match.group(1)] = (int(match.group(2)), int(match.group(3)))
            else:
                break
    return usage


# ---- drawing helpers -----------------------------------------------------------------------

def _nice_length(span_um: float) -> float:
    """A 1/2/5 x 10^k µm length near a fifth of ``span_um``."""
    target = max(span_um / 5.0, 1e-3)
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return step * power
    return power


def _format_um(value: float) -> str:
    return f"{value:g} µm"


def _chip_axes(layout: DefLayout, title: str):
    fig, ax = plt.subplots(figsize=FIGURE_IN)
    x0, y0, x1, y1 = (layout.um(v) for v in layout.die)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x [µm]")
    ax.set_ylabel("y [µm]")
    ax.set_title(title, fontsize=11)
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#444444", linewidth=0.8))
    length = _nice_length(x1 - x0)
    ax.add_artist(AnchoredSizeBar(ax.transData, length, _format_um(length), "lower right", pad=0.4,
                                  color="black", frameon=True, size_vertical=(y1 - y0) / 150,
                                  fontproperties={"size": 9}))
    return fig, ax


def _render(fig) -> Drawn:
    # Resolution chosen so every picture comes out FULL_PX / THUMB_PX wide, whatever its legends
    # and insets add to the figure's width.
    width_in = fig.get_tightbbox(fig.canvas.get_renderer()).width + 0.2  # savefig's pad_inches, both sides
    out = []
    for width_px in (FULL_PX, THUMB_PX):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=width_px / width_in, bbox_inches="tight", metadata={"Software": None})
        out.append(buffer.getvalue())
    plt.close(fig)
    return Drawn(png=_optimise(out[0]), thumb=_optimise(out[1]))


def _optimise(png: bytes, colors: int = 256) -> bytes:
    """Re-encode as a palette PNG of ``colors`` colours (these drawings have few): a third of the
    size of matplotlib's RGBA output, a quarter of a KLayout render's."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return png
    with Image.open(io.BytesIO(png)) as image:
        palette = image.convert("RGB").quantize(colors=colors)
        buffer = io.BytesIO()
        palette.save(buffer, format="PNG", optimize=True)
    smaller = buffer.getvalue()
    return smaller if len(smaller) < len(png) else png


def _cell_boxes(layout: DefLayout, sizes: dict[str, tuple[float, float]], only: set[str] | None = None):
    """(x, y, w, h, macro) in µm of every placed component (of ``only``, when given) whose macro
    the GDS sizes; rotated orientations swap width and height."""
    boxes = []
    for comp in layout.components.values():
        size = sizes.get(comp.macro)
        if size is None or (only is not None and comp.name not in only):
            continue
        w, h = size
        if comp.orient in ("E", "W", "FE", "FW"):
            w, h = h, w
        boxes.append((layout.um(comp.x), layout.um(comp.y), w, h, comp.macro))
    return boxes


def _core_extent(layout: DefLayout, boxes) -> tuple[float, float, float, float]:
    if not boxes:
        return tuple(layout.um(v) for v in layout.die)  # type: ignore[return-value]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes))


# ---- the pictures --------------------------------------------------------------------------

def placement_density(layout: DefLayout, sizes: dict[str, tuple[float, float]]):
    """(x0, y0, bin side in µm, density [%] per bin (rows: y), placed cell boxes) over the
    extent of the placed cells, each cell spread over the bins it overlaps by overlap area."""
    boxes = _cell_boxes(layout, sizes)
    if not boxes:
        raise PictureError("no placed cell of the DEF is in the GDS")
    cx0, cy0, cx1, cy1 = _core_extent(layout, boxes)
    # Bins of whole rows (the most common cell height), so a bin never holds part of a row.
    heights = np.round([h for _, _, _, h, _ in boxes], 4)
    values, counts = np.unique(heights, return_counts=True)
    row = float(values[np.argmax(counts)])
    bin_um = row * max(DENSITY_MIN_ROWS, round(max(cx1 - cx0, cy1 - cy0) / DENSITY_BINS / row))
    nx, ny = max(1, math.ceil((cx1 - cx0) / bin_um - 1e-9)), max(1, math.ceil((cy1 - cy0) / bin_um - 1e-9))
    covered = np.zeros((ny, nx))
    for x, y, w, h, _ in boxes:
        for ix in range(max(0, int((x - cx0) // bin_um)), min(nx, int((x + w - cx0) // bin_um) + 1)):
            ox = min(x + w, cx0 + (ix + 1) * bin_um) - max(x, cx0 + ix * bin_um)
            if ox <= 0:
                continue
            for iy in range(max(0, int((y - cy0) // bin_um)), min(ny, int((y + h - cy0) // bin_um) + 1)):
                oy = min(y + h, cy0 + (iy + 1) * bin_um) - max(y, cy0 + iy * bin_um)
                if oy > 0:
                    covered[iy, ix] += ox * oy
    return cx0, cy0, bin_um, 100.0 * covered / (bin_um * bin_um), boxes


def draw_placement(layout: DefLayout, sizes: dict[str, tuple[float, float]], step: str) -> Drawn:
    """Cell density: the share of each bin covered by placed cells, with the cells' outlines."""
    cx0, cy0, bin_um, density, boxes = placement_density(layout, sizes)
    ny, nx = density.shape
    total = sum(w * h for _, _, w, h, _ in boxes)
    ex0, ey0, ex1, ey1 = _core_extent(layout, boxes)
    fig, ax = _chip_axes(layout, f"{layout.design}: placement density after {step} ({len(boxes)} cells "
                                 f"covering {total / ((ex1 - ex0) * (ey1 - ey0)):.0%} of the rows they span)")
    image = ax.imshow(np.clip(density, 0, 100), origin="lower", cmap="viridis", vmin=0, vmax=100,
                      extent=(cx0, cx0 + nx * bin_um, cy0, cy0 + ny * bin_um), interpolation="nearest")
    if len(boxes) <= MAX_OUTLINED_CELLS:
        ax.add_collection(PatchCollection([Rectangle((x, y), w, h) for x, y, w, h, _ in boxes],
                                          facecolor="none", edgecolor="white", linewidth=0.15, alpha=0.6))
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label(f"cell area / bin area [%], bins of {bin_um:.2g} µm")
    return _render(fig)


def draw_routing(layout: DefLayout, step: str) -> Drawn:
    """Every routed wire of the regular nets, one colour per routing layer, lowest drawn first."""
    per_layer: dict[str, list] = defaultdict(list)
    for net in layout.nets:
        for layer, x1, y1, x2, y2 in net.wires:
            per_layer[layer].append(((layout.um(x1), layout.um(y1)), (layout.um(x2), layout.um(y2))))
    if not per_layer:
        raise PictureError(f"the {step} DEF has no routed wires")
    order = [layer for layer in layout.routing_layers if layer in per_layer]
    order += sorted(set(per_layer) - set(order))
    fig, ax = _chip_axes(layout, f"{layout.design}: routing after {step} "
                                 f"({sum(len(v) for v in per_layer.values())} wire segments)")
    handles = []
    for position, layer in enumerate(order):
        color = LAYER_COLORS[position % len(LAYER_COLORS)]
        ax.add_collection(LineCollection(per_layer[layer], colors=color, linewidths=0.4, alpha=0.8,
                                         zorder=2 + position))
        length = sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in per_layer[layer])
        handles.append(Patch(color=color, label=f"{layer}: {length:,.0f} µm"))
    ax.legend(handles=handles, title="layer: wire length", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=8, title_fontsize=9, frameon=False)
    return _render(fig)


def _gcell_edges(layout: DefLayout, axis: str) -> np.ndarray:
    """GCell boundaries along ``axis`` from GCELLGRID (µm); a 15-track pitch grid without it."""
    lines = []
    for start, count, step in layout.gcell_grid.get(axis, []):
        lines.extend(start + k * step for k in range(count))
    lo, hi = (layout.die[0], layout.die[2]) if axis == "X" else (layout.die[1], layout.die[3])
    if len(lines) < 2:
        pitch = next((t.step for t in layout.tracks if t.axis == axis), 0) * 15 or max(1, (hi - lo) // 20)
        lines = list(range(lo, hi, pitch))
    edges = sorted({min(max(v, lo), hi) for v in lines} | {lo, hi})
    return np.array([layout.um(v) for v in edges])


_DIRECTION_ROW = re.compile(r"^(\S+)\s+(Horizontal|Vertical)\s+\d+\s+\d+\s+[\d.]+%$")


def read_layer_directions(log_text: str) -> dict[str, str]:
    """Routing layer -> "Horizontal"/"Vertical", its preferred direction, from the global router's
    "Routing resources analysis" table (GRT-0053) in the route.global log."""
    position = log_text.find("Routing resources analysis")
    if position < 0:
        return {}
    directions = {}
    for line in log_text[position:].splitlines()[1:40]:
        match = _DIRECTION_ROW.match(line.strip())
        if match:
            directions[match.group(1)] = match.group(2)
    return directions


def routing_usage(layout: DefLayout, directions: dict[str, str] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x edges, y edges, usage [%]) per GCell: on each layer, the wire length running in its
    preferred direction inside the GCell over the length of its tracks in that direction there;
    the busiest layer per GCell. Preferred directions come from global routing's log
    (``directions``), else from the direction most of the layer's wire length runs in."""
    xs, ys = _gcell_edges(layout, "X"), _gcell_edges(layout, "Y")
    shape = (len(ys) - 1, len(xs) - 1)
    horizontal: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(shape))
    vertical: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(shape))
    for net in layout.nets:
        for layer, x1, y1, x2, y2 in net.wires:
            a, b = sorted((layout.um(x1), layout.um(x2))), sorted((layout.um(y1), layout.um(y2)))
            if a[0] == a[1]:  # vertical run: split over the GCells of its column it crosses
                column = min(max(int(np.searchsorted(xs, a[0], side="right")) - 1, 0), shape[1] - 1)
                vertical[layer][:, column] += np.clip(np.minimum(ys[1:], b[1]) - np.maximum(ys[:-1], b[0]), 0, None)
            elif b[0] == b[1]:
                row = min(max(int(np.searchsorted(ys, b[0], side="right")) - 1, 0), shape[0] - 1)
                horizontal[layer][row, :] += np.clip(np.minimum(xs[1:], a[1]) - np.maximum(xs[:-1], a[0]), 0, None)
    usage = np.zeros(shape)
    for tracks in layout.tracks:
        # "TRACKS Y": tracks at fixed y, running horizontally; "TRACKS X" run vertically.
        runs = "Horizontal" if tracks.axis == "Y" else "Vertical"
        positions = layout.um(tracks.start + np.arange(tracks.count) * tracks.step)
        for layer in tracks.layers:
            demand = horizontal.get(layer) if runs == "Horizontal" else vertical.get(layer)
            preferred = (directions or {}).get(layer)
            if preferred is None:
                h, v = horizontal.get(layer), vertical.get(layer)
                preferred = "Horizontal" if (h.sum() if h is not None else 0) >= (v.sum() if v is not None else 0) \
                    else "Vertical"
            if demand is None or preferred != runs:
                continue
            if runs == "Horizontal":
                capacity = np.histogram(positions, bins=ys)[0][:, None] * np.diff(xs)[None, :]
            else:
                capacity = np.histogram(positions, bins=xs)[0][None, :] * np.diff(ys)[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(capacity > 0, 100.0 * demand / capacity, 0.0)
            usage = np.maximum(usage, share)
    return xs, ys, usage


def draw_congestion(layout: DefLayout, step: str, overflow: list[tuple[float, float, float, float, int]],
                    layer_usage: dict[str, tuple[int, int]], directions: dict[str, str] | None = None) -> Drawn:
    """Routing usage per GCell from the routed DEF, global routing's overflowing GCells (its
    congestion report) outlined, and its per-layer usage table beside it."""
    xs, ys, usage = routing_usage(layout, directions)
    if not usage.any():
        raise PictureError(f"the {step} DEF has no routed wires on layers with tracks")
    fig, ax = _chip_axes(layout, f"{layout.design}: routing congestion (wires of {step} per GCell, "
                                 f"{'no' if not overflow else len(overflow)} overflowing GCells in global routing)")
    cmap = ListedColormap(plt.get_cmap("inferno_r")(np.linspace(0.0, 0.9, 256)))
    mesh = ax.pcolormesh(xs, ys, np.clip(usage, 0, 100), cmap=cmap, vmin=0, vmax=100, shading="flat")
    if overflow:
        ax.add_collection(PatchCollection([Rectangle((x1, y1), x2 - x1, y2 - y1) for x1, y1, x2, y2, _ in overflow],
                                          facecolor="none", edgecolor="#00c0ff", linewidth=1.2, zorder=5))
        ax.legend(handles=[Patch(facecolor="none", edgecolor="#00c0ff", label="overflow (global routing report)")],
                  loc="upper left", fontsize=8)
    bar = fig.colorbar(mesh, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label("wire length / track length in the preferred direction, busiest layer per GCell [%]")
    if layer_usage:
        inset = ax.inset_axes((1.32, 0.0, 0.35, 1.0))
        names = [name for name, (resource, _) in layer_usage.items() if resource > 0]
        shares = [100.0 * layer_usage[n][1] / layer_usage[n][0] for n in names]
        inset.barh(range(len(names)), shares, color="#b5563a")
        inset.set_yticks(range(len(names)), names, fontsize=8)
        inset.set_xlim(0, max(100.0, *shares) if shares else 100.0)
        inset.set_xlabel("demand / resource [%]", fontsize=8)
        inset.set_title("global routing,\nper layer (GRT-0096)", fontsize=9)
        inset.tick_params(axis="x", labelsize=8)
    return _render(fig)


def clock_levels(layout: DefLayout) -> dict[str, int]:
    """Clock net -> its depth in the tree: 0 for nets on a top-level pin, then one more per
    buffer (a component on two clock nets) passed."""
    clock_nets = [net for net in layout.nets if net.use == "CLOCK"]
    by_component: dict[str, list[str]] = defaultdict(list)
    for net in clock_nets:
        for component, _ in net.pins:
            if component != "PIN":
                by_component[component].append(net.name)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for nets in by_component.values():
        for a in nets:
            neighbours[a].update(b for b in nets if b != a)
    roots = [net.name for net in clock_nets if any(component == "PIN" for component, _ in net.pins)]
    if not roots and clock_nets:
        roots = [clock_nets[0].name]
    level = {name: 0 for name in roots}
    frontier = list(roots)
    while frontier:
        following = []
        for name in frontier:
            for other in neighbours[name]:
                if other not in level:
                    level[other] = level[name] + 1
                    following.append(other)
        frontier = following
    return level


def draw_clock_tree(layout: DefLayout, sizes: dict[str, tuple[float, float]], step: str) -> Drawn:
    """The clock nets (their routed wires, else a line from each net's buffer to its sinks),
    coloured by depth in the tree, over the placed cells in grey; clock buffers as squares."""
    levels = clock_levels(layout)
    if not levels:
        raise PictureError(f"the {step} DEF has no clock nets (USE CLOCK)")
    clock_nets = [net for net in layout.nets if net.name in levels]
    nets_of: dict[str, list[str]] = defaultdict(list)
    for net in clock_nets:
        for component, _ in net.pins:
            nets_of[component].append(net.name)
    # Buffers, inverters and clock gates: on two clock nets (input and output).
    drivers = {component for component, nets in nets_of.items() if component != "PIN" and len(nets) > 1}
    depth = max(levels.values())
    # Plasma without its palest yellow, which vanishes on the grey cells.
    cmap = ListedColormap(plt.get_cmap("plasma")(np.linspace(0.0, 0.82, depth + 1)))
    # Cells on a signal or clock net: fillers and tap cells (on power nets only) would grey the whole core.
    connected = {component for net in layout.nets for component, _ in net.pins}
    boxes = _cell_boxes(layout, sizes, only=connected)
    fig, ax = _chip_axes(layout, f"{layout.design}: clock tree after {step} "
                                 f"({len(drivers)} clock buffers, {len(clock_nets)} clock nets, depth {depth})")
    if boxes and len(boxes) <= MAX_OUTLINED_CELLS:
        ax.add_collection(PatchCollection([Rectangle((x, y), w, h) for x, y, w, h, _ in boxes],
                                          facecolor="#e4e4e4", edgecolor="#c8c8c8", linewidth=0.1))
    half = {name: (w / 2, h / 2) for name, (w, h) in sizes.items()}

    def centre(component: str) -> tuple[float, float] | None:
        if component in layout.components:
            comp = layout.components[component]
            w, h = half.get(comp.macro, (0.0, 0.0))
            return layout.um(comp.x) + w, layout.um(comp.y) + h
        return None

    routed = any(net.wires for net in clock_nets)
    for level in range(depth + 1):
        segments = []
        for net in clock_nets:
            if levels[net.name] != level:
                continue
            if routed:
                segments.extend(((layout.um(x1), layout.um(y1)), (layout.um(x2), layout.um(y2)))
                                for _, x1, y1, x2, y2 in net.wires)
                continue
            ends = [p for component, pin in net.pins
                    if (p := centre(component) if component != "PIN" else
                        (tuple(layout.um(v) for v in layout.pins[pin]) if pin in layout.pins else None))]
            # The net's driver: the buffer it shares with the level above (the pin for a root net).
            hub = next((centre(c) for c, _ in net.pins if c != "PIN"
                        and any(levels.get(other, level) < level for other in nets_of[c])), None)
            if hub is None:
                hub = next((tuple(layout.um(v) for v in layout.pins[p]) for c, p in net.pins
                            if c == "PIN" and p in layout.pins), ends[0] if ends else None)
            segments.extend((hub, end) for end in ends if hub is not None and end != hub)
        ax.add_collection(LineCollection(segments, colors=[cmap(level)], linewidths=0.9, zorder=3 + level))
    sinks = [centre(c) for net in clock_nets for c, _ in net.pins if c != "PIN" and c not in drivers]
    sinks = [p for p in sinks if p]
    if sinks:
        ax.scatter(*zip(*sinks, strict=True), s=3, color="#2b8cbe", zorder=20, label=f"clock sinks ({len(sinks)})")
    buffers = [p for p in (centre(c) for c in drivers) if p]
    if buffers:
        ax.scatter(*zip(*buffers, strict=True), s=18, marker="s", color="black", zorder=21,
                   label=f"clock buffers ({len(buffers)})")
    handles = [Patch(color=cmap(level), label=f"level {level}") for level in range(depth + 1)]
    handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, title="routed clock nets" if routed else "clock nets (driver to sinks)",
              loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title_fontsize=9, frameon=False)
    return _render(fig)


def write(drawn: Drawn, full: Path, thumb: Path) -> None:
    atomic_write_bytes(full, drawn.png)
    atomic_write_bytes(thumb, drawn.thumb)


def _pil():
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # a decompression bomb is refused, not decoded
    return Image


def png_width(png: Path) -> int:
    """The image's width from its header (nothing decoded)."""
    Image = _pil()  # noqa: N806 - the module's own name
    try:
        with Image.open(png) as image:
            return image.width
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PictureError(f"{png.name}: cannot be read as an image: {exc}") from exc


def thumbnail_of(png: Path, *, width_px: int, max_bytes_in: int = 64 << 20) -> bytes:
    """A PNG of ``png`` at most ``width_px`` wide (a 4096 px KLayout render is 11 MB)."""
    if png.stat().st_size > max_bytes_in:
        raise PictureError(f"{png.name}: larger than {max_bytes_in >> 20} MiB")
    Image = _pil()  # noqa: N806 - the module's own name
    try:
        with Image.open(png) as image:
            image.thumbnail((width_px, width_px * 4))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PictureError(f"{png.name}: cannot be read as an image: {exc}") from exc
    # 64 colours: a KLayout render's hatching needs no more, and 900 px of it stays near 300 kB.
    return _optimise(buffer.getvalue(), colors=64)


# ---- which DEF each picture is drawn from ----------------------------------------------------

# Picture key -> the stages whose last DEF it is drawn from, first choice first. Placement before
# CTS fills the rows with filler cells; the clock tree is best seen routed.
PICTURE_SOURCES: dict[str, tuple[str, ...]] = {
    "placement density": ("place",),
    "clock tree": ("route", "cts"),
    "routing layers": ("route",),
    "congestion": ("route",),
}
NEEDS_CELL_SIZES = {"placement density", "clock tree"}


def plan(defs: dict[str, str], step_order: list[str]) -> list[tuple[str, str, str]]:
    """(picture key, step, DEF path) for each picture the record's DEFs (``record.defs``) can
    give: the last DEF, in the flow's ``step_order``, of the first stage in ``PICTURE_SOURCES``
    that wrote one. (The history stores the mapping with sorted keys: route.global would come
    after route.detailed.)"""
    rank = {step: position for position, step in enumerate(step_order)}
    ordered = sorted(defs, key=lambda step: rank.get(step, len(rank)))
    chosen = []
    for key, stages in PICTURE_SOURCES.items():
        for stage in stages:
            steps = [step for step in ordered if step.split(".", 1)[0] == stage]
            if steps:
                chosen.append((key, steps[-1], defs[steps[-1]]))
                break
    return chosen


def draw(key: str, layout: DefLayout, step: str, *, sizes: dict[str, tuple[float, float]] | None = None,
         congestion_report: str = "", global_route_log: str = "") -> Drawn:
    if key in NEEDS_CELL_SIZES and not sizes:
        raise PictureError("no GDS to size the cells")
    if key == "placement density":
        return draw_placement(layout, sizes or {}, step)
    if key == "clock tree":
        return draw_clock_tree(layout, sizes or {}, step)
    if key == "routing layers":
        return draw_routing(layout, step)
    if key == "congestion":
        return draw_congestion(layout, step, read_congestion_report(congestion_report),
                               read_global_route_usage(global_route_log), read_layer_directions(global_route_log))
    raise PictureError(f"no picture called {key!r}")
