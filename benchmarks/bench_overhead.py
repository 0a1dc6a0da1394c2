"""Orchestrator overhead: the share of a synthesis job's wall time spent outside tool processes.

Definitions (per job, from the runner's own clocks and SC's manifest):

  job wall     render + cache key in the parent, then the job process from start to exit
  tool time    sum of SC ``exetime`` over the job's nodes: time inside tool executables
               (slang, the Yosys launcher with libyosys and yosys-abc)
  overhead     job wall - tool time, split into
    SC internal   ``project.run()`` wall - tool time: SC's per-node preparation (``tasktime`` -
                  ``exetime``, mostly Liberty preprocessing) and its scheduler (node set-up, node
                  processes, manifests, pip freeze, history copy)
    orchestrator  job wall - ``project.run()`` wall: render + key, process start, imports and SC
                  project build, record scrape, process exit

Jobs run one at a time (--jobs 1), so no job waits for a core.

    python benchmarks/bench_overhead.py [--design halut_encoder] [--pdk asap7 nangate45] [--toy]
"""

from __future__ import annotations

import argparse
import sys

from _harness import design_entries, pct, project, run_api


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default="halut_encoder")
    parser.add_argument("--pdk", nargs="+", default=["asap7", "nangate45"])
    parser.add_argument("--toy", action="store_true", help="use the toy counter instead of halut")
    args = parser.parse_args()
    entries = design_entries(args.toy)
    name = args.design if args.design in entries else next(iter(entries))
    with project({name: entries[name]}, args.pdk) as config:
        outcomes, _ = run_api(config, max_parallel=1)
    for outcome in outcomes:
        t = outcome.timings
        wall = outcome.elapsed_s
        tool = t["tool"]
        sc_internal = t["sc_run"] - tool
        node_prep = t["sc_task"] - tool
        ours = wall - t["sc_run"]
        start_exit = t["process"] - t["setup"] - t["sc_run"] - t["record"]
        job = f"{outcome.record.design}/{outcome.record.pdk}"
        print(f"overhead {job}: {pct(wall - tool, wall)} of {wall:.1f} s job wall outside tool processes "
              f"({wall - tool:.1f} s; tool time {tool:.1f} s; target <= 2 %)")
        print(f"overhead {job} SC internal: {sc_internal:.1f} s = {pct(sc_internal, wall)} "
              f"(node preparation {node_prep:.1f} s, scheduler {sc_internal - node_prep:.1f} s)")
        print(f"overhead {job} orchestrator: {ours:.2f} s = {pct(ours, wall)} (render + key {t['prepare']:.2f} s, "
              f"imports + SC project {t['setup']:.2f} s, record scrape {t['record']:.2f} s, "
              f"process start/exit {start_exit:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
