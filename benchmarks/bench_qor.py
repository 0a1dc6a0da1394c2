"""QoR of the halut reference configurations against the halutmatmul project's published Yosys statistics.

Synthesizes the three reference configurations (config.yaml: encoder and decoder at C=32, matmul
at C=16 M=8 DU=4, INT8, latch memories) on each PDK through the real job runner (to
``synthesis.timing`` when OpenSTA is on PATH, else to ``synthesis``) and prints per design and
PDK: std cells, area, latches / flops / logic cells, GE, fmax at ``synthesis.timing`` and the
ratio of cells and area to the reference's ``synth_stat.txt`` from the archive
(``$HALUT_ORFS_REFERENCE``, default ../shared/reference/halutmatmul-openroad-reports).

Latches and flops are counted from the Yosys stat report SC writes for the synthesis node
(``reports/stat.json``), each cell type classified by its Liberty group (``latch`` / ``ff``);
the reference's cell types are classified with the same Liberty.

The reference is compared only where it is the same function at the same parameters: NanGate45
(2023 RTL) always; ASAP7 (2022 RTL) only when its storage latch count is what the reference RTL
stores at our parameters (C*K 16-bit thresholds per encoder, C*K LUT words per decoder), else the
line says "different RTL".

``--hier`` adds the per-block breakdown: the rendered RTL synthesized by Yosys (pyosys) with
its hierarchy kept (``synth`` without ``-flatten``, ``dfflibmap`` + ``abc`` on the platform's
Liberty), ``stat`` per module: instances, cells and area of one instance and of all of them.
Cross-module optimisation is off in that view, so its total is above the flat netlist's.

    python benchmarks/bench_qor.py [--pdk nangate45 asap7] [--design halut_decoder ...] [--hier] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from _harness import HALUT_DESIGNS, REPO_ROOT, pdk_data_root, project, run_api

from orchestrator import flow, tools
from orchestrator.fsutil import open_maybe_gzip
from orchestrator.jobs import load_project
from tests.orfs_reference import find_reference

# Our design -> the reference's unit name in the archive.
REFERENCE_UNIT = {"halut_encoder": "halut_encoder_4", "halut_decoder": "halut_decoder", "halut_matmul": "halut_matmul"}


def reference_root() -> Path | None:
    root = find_reference(REPO_ROOT)
    return root if root is not None and (root / "latest").is_dir() else None


# ----------------------------------------------------------------------------- Liberty classes


@cache
def liberty_cells(files: tuple[str, ...]) -> dict[str, tuple[str, float]]:
    """Cell name -> ("latch" | "flop" | "logic", area) from the Liberty files' cell groups."""
    cell_start = re.compile(r"^\s*cell\s*\(\s*\"?([\w$]+)\"?\s*\)", re.MULTILINE)
    classes: dict[str, tuple[str, float]] = {}
    for path in files:
        with open_maybe_gzip(path, "rt", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        starts = list(cell_start.finditer(text))
        for i, match in enumerate(starts):
            body = text[match.end(): starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            area = re.search(r"^\s*area\s*:\s*([0-9.eE+-]+)", body, re.MULTILINE)
            if re.search(r"^\s*latch\s*\(", body, re.MULTILINE):
                kind = "latch"
            elif re.search(r"^\s*ff\s*\(", body, re.MULTILINE):
                kind = "flop"
            else:
                kind = "logic"
            classes[match.group(1)] = (kind, float(area.group(1)) if area else 0.0)
    return classes


def liberty_classes(files: tuple[str, ...]) -> dict[str, str]:
    return {cell: kind for cell, (kind, _) in liberty_cells(files).items()}


def area_by_class(by_type: dict[str, int], cells: dict[str, tuple[str, float]]) -> dict[str, float]:
    areas = {"latch": 0.0, "flop": 0.0, "logic": 0.0}
    for cell, count in by_type.items():
        kind, area = cells.get(cell, ("logic", 0.0))
        areas[kind] += area * count
    return areas


def split_cells(by_type: dict[str, int], classes: dict[str, str]) -> dict[str, int]:
    counts = {"latch": 0, "flop": 0, "logic": 0}
    for cell, count in by_type.items():
        counts[classes.get(cell, "logic")] += int(count)
    return counts


# ----------------------------------------------------------------------------- reference


@dataclass
class Stat:
    cells: int
    area_um2: float
    latches: int
    flops: int
    logic: int
    by_type: dict[str, int]


def parse_yosys_stat_text(text: str) -> tuple[int, float, dict[str, int]]:
    """Cells, area and cells by type of the last (top or whole-hierarchy) section of a Yosys stat log."""
    section = re.split(r"^=== .* ===$", text, flags=re.MULTILINE)[-1]
    cells = int(re.search(r"Number of cells:\s+(\d+)", section).group(1))
    area = float(re.search(r"Chip area for (?:top )?module '[^']*':\s+([0-9.]+)", section).group(1))
    by_type: dict[str, int] = {}
    after = section.split("Number of cells:", 1)[1].splitlines()[1:]
    for line in after:
        match = re.match(r"^\s{5}(\S+)\s+(\d+)\s*$", line)
        if match:
            by_type[match.group(1)] = int(match.group(2))
        elif line.strip():
            break
    return cells, area, by_type


def reference_stat(root: Path, pdk: str, design: str, classes: dict[str, str]) -> tuple[Stat, Path] | None:
    unit = REFERENCE_UNIT[design]
    base = root / "latest" / pdk / unit
    path = base / "reports" / "synth_stat.txt"
    if not path.is_file():
        path = base / "reports" / pdk / unit / "base" / "synth_stat.txt"
    if not path.is_file():
        return None
    cells, area, by_type = parse_yosys_stat_text(path.read_text(encoding="utf-8"))
    split = split_cells(by_type, classes)
    return Stat(cells, area, split["latch"], split["flop"], split["logic"], by_type), path


def reference_storage_latches(design: str, params: dict) -> int:
    """Data latches the reference RTL holds at these parameters: its threshold memory keeps K
    words per codebook (one unused), its LUT C*K words per decoder."""
    C, K, M = params["C"], params["K"], params["M"]
    lw = 8 if params["dtype"] == "int8" else 16
    thresholds = C * K * 16 if design in ("halut_encoder", "halut_matmul") else 0
    decoders = {"halut_encoder": 0, "halut_decoder": 1, "halut_matmul": M}[design]
    return thresholds + decoders * C * K * lw


def data_latches(by_type: dict[str, int], classes: dict[str, str]) -> int:
    """Latches that hold data (active-high enable); the active-low ones are the clock gates."""
    return sum(n for cell, n in by_type.items()
               if classes.get(cell) == "latch" and re.match(r"^(DLH_X|DHLx)", cell))


# ----------------------------------------------------------------------------- ours


def our_stat(record, classes: dict[str, str]) -> Stat:
    stat_json = Path(record.build_dir) / record.top / flow.SC_JOBNAME / "synthesis" / "0" / "reports" / "stat.json"
    design = json.loads(stat_json.read_text(encoding="utf-8"))["design"]
    by_type = {cell.lstrip("\\"): int(n) for cell, n in design["num_cells_by_type"].items()}
    split = split_cells(by_type, classes)
    return Stat(int(design["num_cells"]), float(design["area"]), split["latch"], split["flop"], split["logic"], by_type)


def synthesis_liberty(record) -> tuple[str, ...]:
    """The Liberty files the synthesis node read (SC copies its prepared files into inputs/)."""
    inputs = Path(record.build_dir) / record.top / flow.SC_JOBNAME / "synthesis" / "0" / "inputs"
    files = sorted(str(p) for p in inputs.glob("*.lib*"))
    if not files:
        raise SystemExit(f"ERROR: no Liberty files in {inputs}")
    return tuple(files)


# ----------------------------------------------------------------------------- hierarchy


@contextmanager
def quiet_stdout():
    """Yosys logs every pass to file descriptor 1: send it to /dev/null for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def hierarchy_breakdown(design: str, params: dict,
                        liberty: tuple[str, ...]) -> list[tuple[str, int, int, float, float]]:
    """(module, instances in the design, cells of one instance, area of one instance, of which
    latches and flops) per module, from a Yosys synthesis that keeps the hierarchy."""
    from pyosys import libyosys as ys

    import halut

    with tempfile.TemporaryDirectory() as tmp, quiet_stdout():
        rendered = halut.render(design, params, Path(tmp) / "rtl")
        ys_design = ys.Design()
        libs = " ".join(f"-liberty {lib}" for lib in liberty)
        script = [f"read_verilog -sv {path}" for path in rendered.files] + [
            f"hierarchy -check -top {rendered.top}",
            f"synth -top {rendered.top}",
            f"dfflibmap {libs}",
            f"abc {libs}",
            "opt_clean -purge",
            f"tee -q -o {tmp}/stat.json stat -json {libs}",
        ]
        for command in script:
            ys.run_pass(command, ys_design)
        stat = json.loads(Path(f"{tmp}/stat.json").read_text())
    modules = stat["modules"]

    def module_key(cell: str) -> str | None:
        return cell if cell in modules else ("\\" + cell if "\\" + cell in modules else None)

    def submodules(name: str) -> list[tuple[str, int]]:
        return [(module_key(cell), int(n)) for cell, n in modules[name]["num_cells_by_type"].items()
                if module_key(cell)]

    instances: dict[str, int] = {}

    def walk(name: str, times: int) -> None:
        instances[name] = instances.get(name, 0) + times
        for sub, count in submodules(name):
            walk(sub, times * count)

    walk("\\" + rendered.top, 1)
    rows = []
    for name, count in instances.items():
        info = modules[name]
        subs = submodules(name)
        # stat's module area includes its submodules': take them off to get the block's own area
        own_area = float(info.get("area", 0.0)) - sum(n * float(modules[sub].get("area", 0.0)) for sub, n in subs)
        own_cells = int(info["num_cells"]) - sum(n for _, n in subs)
        own_types = {cell: int(n) for cell, n in info["num_cells_by_type"].items() if not module_key(cell)}
        split = area_by_class(own_types, liberty_cells(liberty))
        rows.append((name.lstrip("\\"), count, own_cells, own_area, split["latch"] + split["flop"]))
    return rows


def short_module(name: str) -> str:
    """'$paramod$<hash>\\halut_scm' -> 'halut_scm#<hash[:6]>' (one line per parameter set)."""
    match = re.match(r"^\$paramod\$([0-9a-f]+)\\(\w+)$", name)
    if match:
        return f"{match.group(2)}#{match.group(1)[:6]}"
    match = re.match(r"^\$paramod\\(\w+)\\(.*)$", name)
    return f"{match.group(1)}({match.group(2)})" if match else name


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdk", nargs="+", default=["nangate45", "asap7"])
    parser.add_argument("--design", nargs="+", default=list(HALUT_DESIGNS), choices=list(HALUT_DESIGNS))
    parser.add_argument("--hier", action="store_true",
                        help="also print the per-block breakdown (Yosys, hierarchy kept)")
    parser.add_argument("--json", type=Path, help="write the figures to this file as well")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project (netlists, reports)")
    parser.add_argument("--platform-setting", action="append", default=[], metavar="PDK:KEY=VALUE",
                        help="add a setting to the project's copy of platforms/PDK.yaml, e.g. "
                             "nangate45:synthesis_strategy=AREA3 (repeatable)")
    args = parser.parse_args()

    root = reference_root()
    if root is None:
        print("note: reference archive not found (set HALUT_ORFS_REFERENCE); no ratios", file=sys.stderr)
    toolchain = tools.detect_all()
    to = "synthesis.timing" if toolchain.has("sta") else "synthesis"
    if to == "synthesis":
        print("note: sta (OpenSTA) not on PATH: no fmax", file=sys.stderr)
    pdk_data_root()  # exits with a message when the PDK data is not available offline

    entries = {name: HALUT_DESIGNS[name] for name in args.design}
    results = []
    with project(entries, args.pdk, keep=args.keep) as config_path:
        if args.keep:
            print(f"project kept in {config_path.parent}", file=sys.stderr)
        for setting in args.platform_setting:
            pdk, _, assignment = setting.partition(":")
            key, _, value = assignment.partition("=")
            platform_file = config_path.parent / "platforms" / f"{pdk}.yaml"
            if not (pdk and key and value) or not platform_file.is_file():
                sys.exit(f"ERROR: --platform-setting {setting!r}: expected PDK:KEY=VALUE for a known PDK")
            with platform_file.open("a", encoding="utf-8") as handle:
                handle.write(f"\n{key}: {value}\n")
            print(f"platform {pdk}: {key}: {value}")
        outcomes, _ = run_api(config_path, max_parallel=1, to=to, force=True)
        config = load_project(config_path)
        for outcome in outcomes:
            record = outcome.record
            pdk, design = record.pdk, record.design
            liberty = synthesis_liberty(record)
            cells = liberty_cells(liberty)
            classes = liberty_classes(liberty)
            ours = our_stat(record, classes)
            platform = config.platform(pdk)
            row = {
                "design": design, "pdk": pdk, "parameters": record.parameters, "ours": asdict(ours),
                "ge": ours.area_um2 / platform.ge_reference_area_um2, "fmax_mhz": record.metrics.fmax_mhz,
                "clock_period_ns": record.metrics.clock_period_ns, "reference": None, "comparison": "no reference",
                "area_by_class_um2": area_by_class(ours.by_type, cells),
            }
            ref = reference_stat(root, pdk, design, classes) if root else None
            if ref is not None:
                stat, path = ref
                row["reference"] = {**asdict(stat), "file": str(path),
                                    "area_by_class_um2": area_by_class(stat.by_type, cells)}
                same = data_latches(stat.by_type, classes) == reference_storage_latches(design, record.parameters)
                row["comparison"] = "same parameters" if same else "different RTL"
            results.append(row)
            fmax = f"{row['fmax_mhz']:.0f} MHz" if row["fmax_mhz"] else "n/a"
            split = row["area_by_class_um2"]
            print(f"qor {design}/{pdk}: {ours.cells} cells, {ours.area_um2:.0f} um2, {row['ge'] / 1000:.2f} kGE; "
                  f"latches {ours.latches} ({split['latch']:.0f} um2), flops {ours.flops} ({split['flop']:.0f} um2), "
                  f"logic {ours.logic} ({split['logic']:.0f} um2); fmax {fmax} "
                  f"(target {1000 / row['clock_period_ns']:.0f} MHz)")
            if ref is not None:
                stat, _ = ref
                if row["comparison"] == "same parameters":
                    ref_split = row["reference"]["area_by_class_um2"]
                    print(f"    reference: {stat.cells} cells, {stat.area_um2:.0f} um2; latches {stat.latches} "
                          f"({ref_split['latch']:.0f} um2), flops {stat.flops} ({ref_split['flop']:.0f} um2), "
                          f"logic {stat.logic} ({ref_split['logic']:.0f} um2); "
                          f"ratio cells {ours.cells / stat.cells:.3f}, area {ours.area_um2 / stat.area_um2:.3f}")
                else:
                    print(f"    reference: different RTL ({stat.cells} cells, {stat.area_um2:.0f} um2, "
                          f"{data_latches(stat.by_type, classes)} data latches vs "
                          f"{reference_storage_latches(design, record.parameters)} at our parameters)")
            if args.hier:
                rows = hierarchy_breakdown(design, record.parameters, liberty)
                total = sum(n * a for _, n, _, a, _ in rows)
                print(f"    hierarchy kept: {total:.0f} um2 in all")
                for name, count, cells, area, seq in rows:
                    print(f"    {short_module(name):<34} x{count:<3} {cells:>6} cells {area:>9.1f} um2 each "
                          f"({seq:>8.1f} latches+flops, {area - seq:>8.1f} logic); all {count * area:>9.1f} um2 "
                          f"({100 * count * area / total:.1f} %)")
                row["hierarchy"] = [{"module": n, "instances": c, "cells": k, "area_um2": a, "sequential_area_um2": q}
                                    for n, c, k, a, q in rows]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
