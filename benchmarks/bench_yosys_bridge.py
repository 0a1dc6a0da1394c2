"""Synthesis time of a counter through SiliconCompiler + the pyosys bridge, per PDK.

Prints, for each PDK: wall time of ``project.run()`` up to synthesis, SC's node time for
synthesis, how much of it is SC's liberty preprocessing (``_prepare_synthesis_libraries``)
and how much is the yosys process (SC's ``exetime``: the bridge, libyosys and yosys-abc),
plus the bridge's bare start-up cost (``yosys --version``, which SC also runs).

    python benchmarks/bench_yosys_bridge.py [--width 16] [--pdk asap7 nangate45] [--repeat 1]

Needs the lambdapdk data root: HALUT_PDK_ROOT, else ../shared/pdk beside the checkout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from orchestrator.yosys_bridge import configure_project, install_shim  # noqa: E402

TARGETS = {"asap7": "asap7_demo", "nangate45": "freepdk45_demo"}

COUNTER_V = """\
module counter #(parameter WIDTH = 16) (
    input clk, input rst, input en, output reg [WIDTH-1:0] q
);
  always @(posedge clk)
    if (rst) q <= 0;
    else if (en) q <= q + 1;
endmodule
"""


def pdk_data_root() -> Path:
    for candidate in (os.environ.get("HALUT_PDK_ROOT"), REPO_ROOT.parent / "shared" / "pdk"):
        if candidate and (Path(candidate) / "lambdapdk").is_dir():
            return Path(candidate).resolve()
    sys.exit("ERROR: lambdapdk data not available offline (set HALUT_PDK_ROOT)")


def time_liberty_prep(timings_file: Path) -> None:
    """Record each call of SC's liberty preprocessing (runs in SC's forked node process)."""
    from siliconcompiler.tools.yosys import syn_asic

    original = syn_asic._ASICTask._prepare_synthesis_libraries

    def timed(self):
        start = time.perf_counter()
        try:
            return original(self)
        finally:
            with open(timings_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"liberty_prep_s": time.perf_counter() - start}) + "\n")

    syn_asic._ASICTask._prepare_synthesis_libraries = timed


def synthesize(pdk: str, width: int, workdir: Path, data_root: Path, timings_file: Path) -> dict:
    from siliconcompiler import ASIC, Design

    verilog = workdir / "counter.v"
    verilog.write_text(COUNTER_V, encoding="utf-8")
    design = Design("counter")
    with design.active_fileset("rtl"):
        design.set_topmodule("counter")
        design.add_file(str(verilog))
        design.set_param("WIDTH", str(width))
    project = ASIC(design)
    project.add_fileset("rtl")
    target = TARGETS[pdk]
    getattr(importlib.import_module(f"siliconcompiler.targets.{target}"), target)(project)
    for name in project.getkeys("library"):
        library = project.get_library(name)
        if "lambdapdk" in library.getkeys("dataroot"):
            library.set_dataroot("lambdapdk", str(data_root), clobber=True)
    configure_project(project, install_shim(workdir / "bin").parent)
    project.option.add_to("synthesis", clobber=True)
    project.option.set_builddir(str(workdir / "build"))
    project.option.set_nodashboard(True)
    project.option.set_quiet(True)

    timings_file.unlink(missing_ok=True)
    start = time.perf_counter()
    project.run()
    wall = time.perf_counter() - start

    job = project.history(project.option.get_jobname())

    def metric(name: str):
        return job.get("metric", name, step="synthesis", index="0")

    preps = [json.loads(line)["liberty_prep_s"] for line in timings_file.read_text().splitlines()]
    return {
        "wall_s": wall,
        "node_s": metric("tasktime"),
        "yosys_s": metric("exetime"),
        "liberty_prep_s": sum(preps) if preps else float("nan"),
        "cells": metric("cells"),
        "cellarea_um2": metric("cellarea"),
    }


def bridge_startup_s(workdir: Path) -> float:
    shim = install_shim(workdir / "bin")
    start = time.perf_counter()
    subprocess.run([str(shim), "--version"], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdk", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    data_root = pdk_data_root()

    with tempfile.TemporaryDirectory(prefix="bench-yosys-bridge.") as tmp:
        tmp_path = Path(tmp)
        timings_file = tmp_path / "timings.jsonl"
        time_liberty_prep(timings_file)
        print(f"bridge start-up (yosys --version): {bridge_startup_s(tmp_path):.2f} s")
        print(f"{'pdk':10} {'wall s':>7} {'node s':>7} {'lib prep s':>10} {'yosys s':>8} "
              f"{'other s':>8} {'cells':>6} {'area um2':>9}")
        for pdk in args.pdk:
            runs = []
            for n in range(args.repeat):
                workdir = tmp_path / f"{pdk}-{n}"
                workdir.mkdir()
                runs.append(synthesize(pdk, args.width, workdir, data_root, timings_file))
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            other = median["node_s"] - median["liberty_prep_s"] - median["yosys_s"]
            print(f"{pdk:10} {median['wall_s']:7.2f} {median['node_s']:7.2f} "
                  f"{median['liberty_prep_s']:10.2f} {median['yosys_s']:8.2f} {other:8.2f} "
                  f"{median['cells']:6.0f} {median['cellarea_um2']:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
