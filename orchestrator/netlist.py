"""Cell census of a gate-level netlist: how many flip-flops and latches it instantiates.

SC's ``registers`` metric means different things per tool (Yosys counts flip-flops, OpenROAD every
sequential cell, latches included), so the record counts both kinds itself, the same way after
synthesis and after routing: each instance's cell is classified by its Liberty definition (an
``ff`` group is a flip-flop, a ``latch`` group a latch; integrated clock gates have neither).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestrator.fsutil import atomic_write_json, open_maybe_gzip, user_cache_dir

Sequential = Literal["ff", "latch"]

_CELL = re.compile(rb"^\s*cell\s*\(\s*\"?([A-Za-z0-9_$.\[\]-]+)\"?\s*\)", re.MULTILINE)
_SEQ_GROUP = re.compile(rb"^\s*(ff|latch|ff_bank|latch_bank)\s*\(", re.MULTILINE)

# Bumped when the classification changes, so cached tables are rebuilt.
_CLASSIFIER_VERSION = 1


def _read(path: str | Path) -> bytes:
    with open_maybe_gzip(path) as handle:
        return handle.read()


def liberty_sequential_cells(path: str | Path) -> dict[str, Sequential]:
    """Cell name -> "ff" / "latch" for every sequential cell a Liberty file defines."""
    data = _read(path)
    cells = list(_CELL.finditer(data))
    table: dict[str, Sequential] = {}
    for i, match in enumerate(cells):
        end = cells[i + 1].start() if i + 1 < len(cells) else len(data)
        group = _SEQ_GROUP.search(data, match.end(), end)
        if group is not None:
            table[match.group(1).decode()] = "ff" if group.group(1).startswith(b"ff") else "latch"
    return table


def _cache_path(path: Path) -> Path:
    stat = path.stat()
    key = f"{_CLASSIFIER_VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return user_cache_dir() / "liberty-seq" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def sequential_cells(liberty_files: Iterable[str | Path]) -> dict[str, Sequential]:
    """The union over ``liberty_files``; cached per file (ASAP7's Liberty is 46 MB of text)."""
    table: dict[str, Sequential] = {}
    for name in liberty_files:
        path = Path(name)
        cache = _cache_path(path)
        try:
            part = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            part = liberty_sequential_cells(path)
            try:
                atomic_write_json(cache, part)
            except OSError:
                pass  # a read-only cache only costs time
        table.update(part)
    return table


@dataclass(frozen=True)
class Census:
    flops: int
    latches: int

    @property
    def registers(self) -> int:
        return self.flops + self.latches


# A module header; its name may be an escaped identifier (Yosys: "\\$paramod$<hash>\\halut_scm_bank").
_MODULE = re.compile(r"^\s*module\s+(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)", re.MULTILINE)
_ENDMODULE = re.compile(r"^\s*endmodule\b", re.MULTILINE)
# An instance of a module: "<cell> <name> (" with either name escaped.
_MODULE_INSTANCE = re.compile(r"^\s*(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)\s+(?:\\\S+|[A-Za-z_][A-Za-z0-9_$\[\].]*)\s*\(",
                              re.MULTILINE)


def census(netlist: str | Path, classes: dict[str, Sequential]) -> Census:
    """Count the flip-flop and latch instances of a structural Verilog netlist, through its
    hierarchy: a synthesized netlist keeps the modules marked keep_hierarchy (the memory banks),
    and one module definition may be instantiated many times."""
    text = _read(netlist).decode("utf-8", errors="replace")
    modules: dict[str, tuple[int, int, dict[str, int]]] = {}
    for header in _MODULE.finditer(text):
        end = _ENDMODULE.search(text, header.end())
        body = text[header.end():end.start() if end else len(text)]
        flops = latches = 0
        children: dict[str, int] = {}
        for match in _MODULE_INSTANCE.finditer(body):
            cell = match.group(1)
            kind = classes.get(cell)
            if kind == "ff":
                flops += 1
            elif kind == "latch":
                latches += 1
            elif kind is None:
                children[cell] = children.get(cell, 0) + 1
        modules[header.group(1)] = (flops, latches, children)
    if not modules:
        return Census(0, 0)
    instantiated = {child for _, _, children in modules.values() for child in children}
    tops = [name for name in modules if name not in instantiated] or list(modules)[-1:]

    totals: dict[str, tuple[int, int]] = {}

    def total(name: str, depth: int = 0) -> tuple[int, int]:
        if name in totals:
            return totals[name]
        if depth > 64:  # a netlist instantiating itself is not a netlist
            raise ValueError(f"{netlist}: module hierarchy deeper than 64 levels at {name}")
        flops, latches, children = modules[name]
        for child, count in children.items():
            if child in modules:
                child_flops, child_latches = total(child, depth + 1)
                flops += count * child_flops
                latches += count * child_latches
        totals[name] = (flops, latches)
        return totals[name]

    counted = [total(name) for name in tops]
    return Census(sum(f for f, _ in counted), sum(latch for _, latch in counted))


def step_netlist(node_dir: Path, top: str) -> Path | None:
    """The gate-level netlist a node wrote (``outputs/<top>.vg``), if any."""
    candidate = node_dir / "outputs" / f"{top}.vg"
    return candidate if candidate.is_file() and os.access(candidate, os.R_OK) else None
