"""Orchestrator overhead: the share of a synthesis job's wall time spent outside tool processes.

Per PDK, one `run` of two identical halut_encoder synthesis jobs (two labels, --force, --jobs 1):
the first job starts its process cold, the second gets the process the runner pre-started while
the first ran (every job of a matrix or sweep but the first N is such a job). For each job:

  job wall      render + cache key in the parent, then the job process from start to exit
  tool time     the Yosys processes' own wall intervals (each process writes start and exit time,
                see yosys_bridge.TOOL_TIMES_ENV; this includes the launcher's start-up and
                libyosys + yosys-abc) plus the elaboration in pyslang (SC ``exetime`` of the
                elaborate node: slang runs inside SC's node process)
  overhead      job wall - tool time, split into
    SC            ``project.run()`` wall - tool time: SC's scheduler (manifest checks, node set-up,
                  pip freeze, node processes, manifests, history copy) and its per-node work
                  (task manifests, Liberty preparation unless cached, log and report parsing)
    orchestrator  job wall - ``project.run()`` wall: render + key, process start (or hand-over),
                  imports and SC project build, record scrape, result file, process exit

The Liberty cache (orchestrator.liberty_cache) is warmed first, as it is for every run after the
first on a machine; ``--cold-liberty`` measures with an empty one.

    python benchmarks/bench_overhead.py [--design halut_encoder] [--pdk asap7 nangate45] [--toy]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _harness import design_entries, pct, project, run_api

from orchestrator.yosys_bridge import TOOL_TIMES_ENV


def tool_seconds(times_file: Path, began: float, ended: float) -> float:
    """Sum of the tool process intervals that lie inside [began, ended]."""
    total = 0.0
    try:
        lines = times_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0.0
    for line in lines:
        entry = json.loads(line)
        if entry["start"] is not None and began - 0.02 <= entry["start"] and entry["end"] <= ended + 0.02:
            total += entry["end"] - entry["start"]
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default="halut_encoder")
    parser.add_argument("--pdk", nargs="+", default=["asap7", "nangate45"])
    parser.add_argument("--toy", action="store_true", help="use the toy counter instead of halut")
    parser.add_argument("--cold-liberty", action="store_true", help="start with an empty Liberty cache")
    args = parser.parse_args()
    entries = design_entries(args.toy)
    name = args.design if args.design in entries else next(iter(entries))
    params = entries[name]
    generator = ", generator: toygen" if name.startswith("counter") else ""
    design = name.split("-")[0]
    two_jobs = "".join(f"  - {{name: {design}{generator}, parameters: {params}, label: {label}}}\n"
                       for label in ("first", "second"))
    with tempfile.TemporaryDirectory(prefix="halut-bench-cache.") as cache_home:
        if args.cold_liberty:
            os.environ["XDG_CACHE_HOME"] = cache_home  # an empty cache (and a fresh Yosys launcher)
        for pdk in args.pdk:
            if not args.cold_liberty:  # warm the Liberty cache for this PDK
                with project({name: params}, [pdk]) as config:
                    run_api(config, max_parallel=1, force=True)
            with project({}, [pdk], designs_yaml=two_jobs) as config:
                times_file = config.parent / "tool-times.jsonl"
                os.environ[TOOL_TIMES_ENV] = str(times_file)
                try:
                    outcomes, _ = run_api(config, max_parallel=1, force=True)
                finally:
                    del os.environ[TOOL_TIMES_ENV]
                for outcome, kind in zip(outcomes, ("cold process", "pre-started process"), strict=False):
                    report(outcome, kind, times_file, pdk)
    return 0


def report(outcome, kind: str, times_file: Path, pdk: str) -> None:
    t = outcome.timings
    wall = outcome.elapsed_s
    yosys = tool_seconds(times_file, t["began_at"], t["ended_at"])
    elaborate = t["tool"] - t["tool:synthesis"]
    tool = yosys + elaborate
    sc = t["sc_run"] - tool
    ours = wall - t["sc_run"]
    start_exit = t["process"] - t["setup"] - t["sc_run"] - t["record"]
    job = f"{outcome.record.design}/{pdk} ({kind})"
    print(f"overhead {job}: {pct(wall - tool, wall)} of {wall:.1f} s job wall outside tool processes "
          f"({wall - tool:.2f} s; Yosys processes {yosys:.2f} s, pyslang {elaborate:.2f} s; target <= 2 %)")
    node = t["sc_task:synthesis"] - yosys
    print(f"overhead {job} SC: {sc:.2f} s = {pct(sc, wall)} (synthesis node outside Yosys {node:.2f} s, "
          f"scheduler and elaborate node {sc - node:.2f} s)")
    print(f"overhead {job} orchestrator: {ours:.2f} s = {pct(ours, wall)} (render + key {t['prepare']:.2f} s, "
          f"imports + SC project {t['setup']:.2f} s, record scrape {t['record']:.2f} s, "
          f"process start/exit {start_exit:.2f} s)")


if __name__ == "__main__":
    sys.exit(main())
