"""Parallel efficiency: 4 independent synthesis jobs with --jobs 2 vs --jobs 1.

The 4 jobs are a clock-period sweep of one design on one PDK (same RTL, 4 SDCs): independent
jobs of near-equal size, so the ideal speed-up on 2 cores is 2x. Both runs start from an empty
build directory and history; efficiency = (wall at --jobs 1) / (2 x wall at --jobs 2).

    python benchmarks/bench_parallel.py [--design halut_decoder] [--pdk nangate45] [--toy]
"""

from __future__ import annotations

import argparse
import sys

from _harness import design_entries, project, run_api

PERIODS = {"asap7": "[1300, 1400, 1500, 1600]", "nangate45": "[2.7, 2.9, 3.1, 3.3]"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default="halut_decoder")
    parser.add_argument("--pdk", default="nangate45", choices=sorted(PERIODS))
    parser.add_argument("--toy", action="store_true", help="use the toy counter instead of halut")
    args = parser.parse_args()
    entries = design_entries(args.toy)
    name = args.design if args.design in entries else next(iter(entries))
    design = "counter" if name.startswith("counter") else name
    generator = "\n    generator: toygen" if design == "counter" else ""
    sweep = (f"sweeps:\n  - name: periods\n    design: {design}{generator}\n    parameters: {entries[name]}\n"
             f"    clock_period: {{{args.pdk}: {PERIODS[args.pdk]}}}\n")
    walls = {}
    for jobs in (2, 1):
        with project({name: entries[name]}, [args.pdk], extra=sweep) as config:
            outcomes, walls[jobs] = run_api(config, max_parallel=jobs, include_matrix=False, sweeps=["periods"])
            assert len(outcomes) == 4 and not any(o.cached for o in outcomes)
    speedup = walls[1] / walls[2]
    print(f"parallel: 4 {design}/{args.pdk} synthesis jobs, --jobs 2 {walls[2]:.1f} s vs --jobs 1 {walls[1]:.1f} s: "
          f"{speedup:.2f}x = {100 * speedup / 2:.0f} % of the ideal 2x (target >= 90 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
