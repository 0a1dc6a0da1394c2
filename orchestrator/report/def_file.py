"""Reading the parts of a DEF (as OpenROAD writes it through SiliconCompiler, plain or gzipped)
that the run page's pictures draw: UNITS, DIEAREA, TRACKS, GCELLGRID, COMPONENTS, PINS and the
regular NETS with their routed wires. Other sections (VIAS, SPECIALNETS, BLOCKAGES, ...) are
skipped. The file comes from a run's build folder, so it is read with a size bound and any
statement it cannot make sense of is ignored rather than trusted.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

# A DEF of a design this flow routes in minutes is a few MB; a larger one would take longer to
# draw in Python than the site may spend on one run.
MAX_DEF_BYTES = 256 << 20
_PLACEMENT_STATUSES = {"PLACED", "FIXED", "COVER"}
_ROUTE_STATUSES = {"ROUTED", "FIXED", "COVER", "NOSHIELD"}


class DefError(Exception):
    pass


@dataclass(slots=True)
class Component:
    name: str
    macro: str
    x: int  # placement origin, DEF database units
    y: int
    orient: str


@dataclass(slots=True)
class Net:
    name: str
    use: str  # DEF "+ USE" (SIGNAL when absent)
    pins: list[tuple[str, str]]  # (component or "PIN", pin name)
    # Routed wire segments: (layer, x1, y1, x2, y2) in database units, one per straight run.
    wires: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    vias: int = 0


@dataclass(slots=True)
class Tracks:
    axis: str  # "X": vertical tracks at x = start + i*step; "Y": horizontal tracks
    start: int
    count: int
    step: int
    layers: tuple[str, ...]


@dataclass
class DefLayout:
    design: str = ""
    dbu: int = 1000  # database units per micron (UNITS DISTANCE MICRONS)
    die: tuple[int, int, int, int] = (0, 0, 0, 0)  # DIEAREA bounding box
    components: dict[str, Component] = field(default_factory=dict)
    pins: dict[str, tuple[int, int]] = field(default_factory=dict)  # I/O pin -> placed position
    nets: list[Net] = field(default_factory=list)
    tracks: list[Tracks] = field(default_factory=list)
    gcell_grid: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)  # axis -> (start, count, step)

    def um(self, value: float) -> float:
        return value / self.dbu

    @property
    def routing_layers(self) -> list[str]:
        """Layers with tracks, bottom first (OpenROAD writes TRACKS in layer order)."""
        return list(dict.fromkeys(layer for t in self.tracks for layer in t.layers))


def decode(data: bytes, limit: int = MAX_DEF_BYTES, name: str = "DEF") -> str:
    """The DEF's text from the file's bytes, gunzipped when gzipped; DefError when the text would
    be larger than ``limit`` (a small .def.gz may inflate to gigabytes)."""
    if data[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            text = inflater.decompress(data, limit + 1)
        except zlib.error as exc:
            raise DefError(f"{name}: not a readable gzip file: {exc}") from exc
    else:
        text = data
    if len(text) > limit:
        raise DefError(f"{name}: larger than {limit >> 20} MiB, not drawn")
    return text.decode("utf-8", errors="replace")


def read_def(path: Path, limit: int = MAX_DEF_BYTES) -> DefLayout:
    with open(path, "rb") as handle:
        return parse_def(decode(handle.read(limit + 1), limit, path.name))


def parse_def(text: str) -> DefLayout:
    tokens = text.split()
    layout = DefLayout()
    i, n = 0, len(tokens)
    while i < n:
        word = tokens[i]
        if word == "DESIGN" and i + 1 < n:
            layout.design = tokens[i + 1]
            i = _skip_statement(tokens, i)
        elif word == "UNITS" and tokens[i + 1:i + 3] == ["DISTANCE", "MICRONS"]:
            layout.dbu = max(1, _int(tokens[i + 3], 1000))
            i = _skip_statement(tokens, i)
        elif word == "DIEAREA":
            end = _skip_statement(tokens, i)
            points = _points(tokens[i + 1:end - 1])
            if points:
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                layout.die = (min(xs), min(ys), max(xs), max(ys))
            i = end
        elif word == "TRACKS":
            end = _skip_statement(tokens, i)
            _tracks(tokens[i + 1:end - 1], layout)
            i = end
        elif word == "GCELLGRID":
            end = _skip_statement(tokens, i)
            part = tokens[i + 1:end - 1]  # X start DO count STEP step
            if len(part) >= 6 and part[0] in ("X", "Y"):
                layout.gcell_grid.setdefault(part[0], []).append((_int(part[1]), _int(part[3]), _int(part[5])))
            i = end
        elif word == "COMPONENTS":
            i = _section(tokens, _skip_statement(tokens, i), "COMPONENTS", lambda s: _component(s, layout))
        elif word == "PINS":
            i = _section(tokens, _skip_statement(tokens, i), "PINS", lambda s: _pin(s, layout))
        elif word == "NETS":
            i = _section(tokens, _skip_statement(tokens, i), "NETS", lambda s: _net(s, layout))
        elif word in ("SPECIALNETS", "VIAS", "NONDEFAULTRULES", "BLOCKAGES", "REGIONS", "GROUPS", "FILLS",
                      "PROPERTYDEFINITIONS", "SCANCHAINS", "STYLES", "SLOTS", "PINPROPERTIES"):
            i = _skip_section(tokens, i + 1, word)
        else:
            i += 1
    return layout


def _int(token: str, default: int = 0) -> int:
    try:
        return int(float(token))
    except ValueError:
        return default


def _skip_statement(tokens: list[str], i: int) -> int:
    """Index just past the ';' that ends the statement starting at ``i``."""
    n = len(tokens)
    while i < n and tokens[i] != ";":
        i += 1
    return i + 1


def _skip_section(tokens: list[str], i: int, name: str) -> int:
    n = len(tokens)
    while i < n - 1 and not (tokens[i] == "END" and tokens[i + 1] == name):
        i += 1
    return i + 2


def _section(tokens: list[str], i: int, name: str, handle) -> int:
    """Hand each "- ... ;" statement of a section to ``handle`` until "END <name>"."""
    n = len(tokens)
    while i < n:
        if tokens[i] == "END" and i + 1 < n and tokens[i + 1] == name:
            return i + 2
        if tokens[i] == "-":
            end = _skip_statement(tokens, i)
            handle(tokens[i + 1:end - 1])
            i = end
        else:
            i += 1
    return i


def _points(tokens: list[str]) -> list[tuple[int, int]]:
    points = []
    for k, token in enumerate(tokens):
        if token == "(" and k + 2 < len(tokens):
            points.append((_int(tokens[k + 1]), _int(tokens[k + 2])))
    return points


def _tracks(part: list[str], layout: DefLayout) -> None:
    # X start DO count STEP step [MASK n [SAMEMASK]] LAYER l1 [l2 ...]
    if len(part) < 8 or part[0] not in ("X", "Y") or "LAYER" not in part:
        return
    layers = tuple(part[part.index("LAYER") + 1:])
    layout.tracks.append(Tracks(part[0], _int(part[1]), _int(part[3]), _int(part[5]), layers))


def _placement(part: list[str]) -> tuple[int, int, str] | None:
    for k, token in enumerate(part):
        if token in _PLACEMENT_STATUSES and k + 5 < len(part) and part[k + 1] == "(":
            return _int(part[k + 2]), _int(part[k + 3]), part[k + 5]
    return None


def _component(part: list[str], layout: DefLayout) -> None:
    if len(part) < 2:
        return
    placed = _placement(part)
    if placed is not None:
        layout.components[part[0]] = Component(part[0], part[1], *placed)


def _pin(part: list[str], layout: DefLayout) -> None:
    placed = _placement(part)
    if part and placed is not None:
        layout.pins[part[0]] = placed[:2]


def _net(part: list[str], layout: DefLayout) -> None:
    if not part:
        return
    net = Net(name=part[0], use="SIGNAL", pins=[])
    k, n = 1, len(part)
    while k < n and part[k] == "(":  # connections: ( comp pin [+ SYNTHESIZED] )
        close = k
        while close < n and part[close] != ")":
            close += 1
        if close - k >= 3:
            net.pins.append((part[k + 1], part[k + 2]))
        k = close + 1
    while k < n:
        token = part[k]
        if token == "+" and k + 1 < n:
            keyword = part[k + 1]
            if keyword == "USE" and k + 2 < n:
                net.use = part[k + 2]
                k += 3
                continue
            if keyword in _ROUTE_STATUSES:
                k = _route(part, k + 2, net)
                continue
        k += 1
    layout.nets.append(net)


def _route(part: list[str], k: int, net: Net) -> int:
    """Read one regular wiring statement (``layer ( x y ) ( x * ) via ... NEW layer ...``) from
    ``k``; returns where the next "+" option starts."""
    n = len(part)
    layer: str | None = None
    last: tuple[int, int] | None = None
    expect_layer = True
    while k < n and part[k] != "+":
        token = part[k]
        if expect_layer:
            layer, last, expect_layer = token, None, False
            k += 1
            continue
        if token == "NEW":
            expect_layer = True
            k += 1
        elif token == "(":
            close = k
            while close < n and part[close] != ")":
                close += 1
            coords = part[k + 1:close]
            k = close + 1
            if len(coords) < 2 or layer is None:
                continue
            x = last[0] if coords[0] == "*" and last else _int(coords[0])
            y = last[1] if coords[1] == "*" and last else _int(coords[1])
            if last is not None and (x, y) != last:
                net.wires.append((layer, last[0], last[1], x, y))
            last = (x, y)
        elif token in ("RECT", "VIRTUAL"):
            # A patch, or a jump without metal to the next point: no wire either way.
            close = k + 1
            while close < n and part[close] != ")":
                close += 1
            coords = part[k + 2:close]
            k = close + 1
            if token == "VIRTUAL" and len(coords) >= 2 and last is not None:
                last = (last[0] if coords[0] == "*" else _int(coords[0]),
                        last[1] if coords[1] == "*" else _int(coords[1]))
        elif token in ("MASK", "TAPERRULE", "STYLE"):
            k += 2
        elif token == "TAPER":
            k += 1
        else:  # a via name (optionally followed by an orientation)
            net.vias += 1
            k += 1
    return k
