"""A plain SiliconCompiler script for a job matrix, written the way SC's own examples are.

The peer that benchmarks/bench_vs_sc_script.py measures the orchestrator against: one Python
process builds one ``ASIC`` project after another and calls ``run()`` and ``summary()`` on each,
with SiliconCompiler's own defaults otherwise (its console logging, its build directory reuse
between runs, no result cache of its own). It imports SiliconCompiler and lambdapdk only.

What each project gets is what the orchestrator's ``flow.build_project`` gives its job, read from
a JSON file the benchmark writes: the RTL and SDC the orchestrator rendered, the platform's SC
target, main std-cell library, core utilisation and placement density, its sign-off timing
scenarios, the offline lambdapdk data root and, where no Tcl-capable Yosys is installed (Debian
12), the directory of the Yosys to use (set as SC's tool path, as any SC user would point SC at a
Yosys outside PATH).

    python benchmarks/plain_sc_script.py JOBS.json

JOBS.json: {"to": step or null, "jobs": [{"name", "top", "inputs", "rtl": [...], "sdc",
"target", "stdcell_lib", "stdcell_lib_class", "core_utilization_pct", "placement_density",
"timing_scenarios": {name: {"libcorners", "pexcorner", "checks"}}, "syn_np", "pdk_data_root",
"yosys_dir", "build_dir"}, ...]}. Exits 1 when a job fails (after running the others).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

from siliconcompiler import ASIC, Design


def load(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def build(job: dict, to: str | None) -> ASIC:
    design = Design(job["top"])
    design.set_dataroot("rendered", job["inputs"])
    with design.active_dataroot("rendered"), design.active_fileset("rtl"):
        design.set_topmodule(job["top"])
        for path in job["rtl"]:
            design.add_file(path)
    with design.active_dataroot("rendered"), design.active_fileset("sdc"):
        design.add_file(job["sdc"])

    project = ASIC(design)
    project.add_fileset("rtl")
    project.add_fileset("sdc")
    load(job["target"])(project, syn_np=job["syn_np"])

    # One std-cell library (the demo targets add other Vt flavours).
    project.set_mainlib(load(job["stdcell_lib_class"])())
    project.set("asic", "asiclib", [job["stdcell_lib"]])
    project.get_library(job["stdcell_lib"]).set_openroad_placement_density(job["placement_density"])
    project.constraint.area.set_density(job["core_utilization_pct"])
    if job.get("resizer_dont_use"):  # latch cells kept from OpenROAD's resizer (see platforms/*.yaml)
        project.get_library(job["stdcell_lib"]).add_asic_celllist("clklogic", job["resizer_dont_use"])
    if job.get("openroad_skip_reports"):  # OpenROAD reports every P&R step skips (config flow option)
        from siliconcompiler.tools.openroad._apr import APRTask

        try:
            tasks = APRTask.find_task(project)
        except ValueError:
            tasks = []
        for task in tasks if isinstance(tasks, (set, list)) else [tasks]:
            task.add_openroad_skipreport(job["openroad_skip_reports"], clobber=True)

    timing = project.constraint.timing
    for name in list(timing.getkeys("scenario")):
        timing.remove_scenario(name)
    for name, spec in job["timing_scenarios"].items():
        scenario = timing.make_scenario(name)
        scenario.add_libcorner(spec["libcorners"])
        scenario.set_pexcorner(spec["pexcorner"])
        scenario.add_check(spec["checks"])

    if job["pdk_data_root"]:  # lambdapdk's data, offline
        for name in project.getkeys("library"):
            lib = project.get_library(name)
            if lib.valid("dataroot") and "lambdapdk" in lib.getkeys("dataroot"):
                lib.set_dataroot("lambdapdk", job["pdk_data_root"], clobber=True)
    if job["yosys_dir"]:
        flow = project.get("option", "flow")
        for step in project.getkeys("flowgraph", flow):
            for index in project.getkeys("flowgraph", flow, step):
                if project.get("flowgraph", flow, step, index, "tool") == "yosys":
                    task = project.get("flowgraph", flow, step, index, "task")
                    project.set("tool", "yosys", "task", task, "path", job["yosys_dir"])

    project.option.set_builddir(job["build_dir"])
    project.option.set_nodashboard(True)  # no live dashboard in a batch run
    if to:
        project.option.add_to(to)
    return project


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    failed = []
    for job in spec["jobs"]:
        began = time.perf_counter()
        project = build(job, spec.get("to"))
        try:
            project.run()
            project.summary()
        except Exception as exc:  # SC raises on a failed node; the other jobs still run
            failed.append(job["name"])
            print(f"{job['name']}: FAILED: {exc}", file=sys.stderr)
        print(f"{job['name']}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
