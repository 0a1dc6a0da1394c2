"""Synthesis time per design and PDK through SC and the pyosys Yosys launcher, and where it goes.

Runs the nightly matrix to synthesis one job at a time (no job waits for a core) and prints per
(design, PDK): the job's wall time, time inside Yosys (SC ``exetime`` of the synthesis node: the
launcher, libyosys and yosys-abc), SC's preparation of that node (``tasktime`` - ``exetime``:
Liberty preparation, served from orchestrator.liberty_cache once a job of the PDK has filled it,
and the task's set-up), elaboration (slang), and the rest (SC's scheduler, our process, project
build and record scrape). Per PDK it also times SC's Liberty preparation
(``prepareLib.process_liberty_file`` on the synthesis corner's Liberty files) on its own, uncached.

    python benchmarks/bench_synthesis.py [--pdk asap7 nangate45] [--toy]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _harness import design_entries, pct, project, run_api

from orchestrator import flow, job_process, metrics, tools
from orchestrator.designs import render_design
from orchestrator.jobs import load_project, select_jobs


def liberty_prep_alone(config_path: Path, pdk: str) -> tuple[float, int]:
    """Seconds SC's Liberty preprocessing takes for the platform's synthesis corner, and the file count."""
    from siliconcompiler.tools.yosys.prepareLib import process_liberty_file

    config = load_project(config_path)
    job = select_jobs(config, pdks=[pdk])[0]
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_design(config, job.spec, job.platform, Path(tmp) / "inputs")
        project = flow.build_project(config, job, rendered, tools.detect_all(), Path(tmp) / "sc")
        # SC's syn_asic picks the libcorner of the first scenario with a setup check.
        scenarios = project.constraint.timing.get_scenario().values()
        corner = next(s.get_libcorner() for s in scenarios if s.get_libcorner() and "setup" in s.get_check())
        corner = corner[0] if isinstance(corner, list) else corner
        files = flow.liberty_files(project.get_library(job.platform.stdcell_lib), corner)
    began = time.perf_counter()
    for path in files:
        process_liberty_file(path)
    return time.perf_counter() - began, len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdk", nargs="+", default=["asap7", "nangate45"])
    parser.add_argument("--toy", action="store_true", help="use the toy counter instead of halut")
    args = parser.parse_args()
    entries = design_entries(args.toy)
    with project(entries, args.pdk) as config:
        for pdk in args.pdk:
            seconds, count = liberty_prep_alone(config, pdk)
            print(f"synthesis {pdk}: SC Liberty preprocessing alone {seconds:.1f} s ({count} Liberty files)")
        outcomes, _ = run_api(config, max_parallel=1)
        for outcome in outcomes:
            record = outcome.record
            build_dir = Path(record.build_dir)
            manifest = metrics.load_job_manifest(build_dir, record.top, flow.SC_JOBNAME)
            syn = job_process.sc_node_times(manifest, [("synthesis", "0")])
            elab = job_process.sc_node_times(manifest, [("elaborate", "0")])
            wall = outcome.elapsed_s
            yosys, prep = syn["tool"], syn["sc_task"] - syn["tool"]
            rest = wall - syn["sc_task"] - elab["sc_task"]
            label = f"{record.design}/{record.pdk}"
            print(f"synthesis {label}: {wall:.1f} s job wall ({record.metrics.stdcell_count} cells); "
                  f"inside Yosys {yosys:.1f} s ({pct(yosys, wall)}), SC node preparation {prep:.1f} s "
                  f"({pct(prep, wall)}), elaborate {elab['sc_task']:.1f} s ({pct(elab['sc_task'], wall)}), "
                  f"rest {rest:.1f} s ({pct(rest, wall)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
