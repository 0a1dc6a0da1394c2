"""The orchestrator beside a plain SiliconCompiler script: the same job matrix, cold and unchanged.

The matrix is config.yaml's three reference designs x the PDKs (6 jobs), or ``--params small``
(C=4 K=4 M=2 DU=1). Both sides get the same rendered RTL and SDC and the same SC target and
settings (see benchmarks/plain_sc_script.py, the peer: one process, one ASIC project after
another, ``run()`` + ``summary()`` each, as SC's examples do). Four whole-command runs, in order:

  SC script    cold       empty build directory
  SC script    unchanged  the same script again on its build directory (SC's own node reuse)
  orchestrator cold       ``python -m orchestrator run --jobs N`` (N = cores), empty build dir
                          and history; the user cache (Liberty cache, Yosys launcher) as it is,
                          or empty with ``--cold-cache``
  orchestrator unchanged  the same command again (its job cache)

Each run's wall time is the command's, interpreter start included. Tool time is the union of
the tool processes' wall intervals inside the run: every Yosys process (the pyosys bridge
writes its own, yosys_bridge.TOOL_TIMES_ENV, as in bench_overhead.py), every OpenROAD, OpenSTA
and KLayout process (through PATH wrappers that record start and exit, sh + date: a few ms per
process, counted as tool time), and slang's elaboration, which runs inside SC's node process
(SC ``exetime`` of each elaborate node that ended inside the run). "Outside tools" is
wall - tool time: interpreter and imports, SC's scheduler and node set-up, Liberty preparation,
manifests, log parsing, our render/key/record/history work, and idle cores.

How long (2 cores, measured at a load of 4-14): ``--params small --to synthesis`` ~6 min;
``--params small --pdk nangate45`` through P&R ~50 min (SC script ~20 min cold and about as long
unchanged, since SC re-runs P&R from floorplan.macro_placement; orchestrator ~10 min cold, 1.5 s
unchanged); both PDKs take longer (ASAP7 routes slower); the reference configurations through
P&R (the default) take many hours. ``--runs`` does a subset of the four runs.

    python benchmarks/bench_vs_sc_script.py [--params small] [--to synthesis] [--pdk ...]
        [--design ...] [--jobs N] [--cold-cache] [--keep] [--runs sc-cold ... orchestrator-unchanged]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _harness import HALUT_DESIGNS, REPO_ROOT, TOYGEN, pct, project

from orchestrator import designs, runner, tools
from orchestrator.jobs import load_project, select_jobs
from orchestrator.sc_manifest import Manifest
from orchestrator.yosys_bridge import TOOL_TIMES_ENV

SMALL_DESIGNS = {name: "{C: 4, K: 4, M: 2, DU: 1, dtype: int8, mem_style: latch}" for name in HALUT_DESIGNS}
PRESETS = {"reference": HALUT_DESIGNS, "small": SMALL_DESIGNS}
WRAPPED_TOOLS = ("openroad", "sta", "klayout")
PLAIN_SCRIPT = Path(__file__).resolve().parent / "plain_sc_script.py"
RUNS = ("sc-cold", "sc-unchanged", "orchestrator-cold", "orchestrator-unchanged")

WRAPPER = """#!/bin/sh
# Benchmark wrapper: run the real {tool}, then append its wall interval to ${env}.
start=$(date +%s.%N)
"{real}" "$@"
status=$?
end=$(date +%s.%N)
[ -n "${env}" ] && printf '{{"tool": "{tool}", "start": %s, "end": %s}}\\n' "$start" "$end" >> "${env}"
exit $status
"""


def write_wrappers(directory: Path) -> list[str]:
    """PATH wrappers for the P&R/STA/layout tools that are installed; returns their names."""
    directory.mkdir(parents=True)
    wrapped = []
    for tool in WRAPPED_TOOLS:
        real = shutil.which(tool)
        if real is None:
            continue
        path = directory / tool
        path.write_text(WRAPPER.format(tool=tool, real=str(Path(real).resolve()), env=TOOL_TIMES_ENV),
                        encoding="utf-8")
        path.chmod(0o755)
        wrapped.append(tool)
    return wrapped


def plain_jobs(config, jobs, toolchain, root: Path, to: str | None) -> Path:
    """Render every job's RTL/SDC as the orchestrator does and describe the SC projects; returns
    the JSON file plain_sc_script.py reads."""
    yosys = toolchain.tools.get("yosys")
    yosys_dir = yosys.sc_path_dir if yosys is not None and yosys.found and yosys.sc_path_dir else None
    data_root = config.resolved_pdk_data_root()
    described = []
    for job in jobs:
        inputs = root / job.name / "inputs"
        rendered = designs.render_design(config, job.spec, job.platform, inputs)
        platform = job.platform
        described.append({
            "name": job.name,
            "top": rendered.top,
            "inputs": str(inputs),
            "rtl": [str(p.relative_to(inputs)) for p in rendered.rtl_files],
            "sdc": str(rendered.sdc_file.relative_to(inputs)),
            "target": platform.sc_target,
            "stdcell_lib": platform.stdcell_lib,
            "stdcell_lib_class": platform.stdcell_lib_class,
            "core_utilization_pct": platform.core_utilization_pct,
            "placement_density": platform.placement_density,
            "resizer_dont_use": list(platform.resizer_dont_use),
            "openroad_skip_reports": list(config.flow.openroad_skip_reports),
            "timing_scenarios": {name: {"libcorners": list(s.libcorners), "pexcorner": s.pexcorner,
                                        "checks": list(s.checks)} for name, s in platform.timing_scenarios.items()},
            "syn_np": config.flow.syn_np,
            "pdk_data_root": str(data_root) if data_root else None,
            "yosys_dir": yosys_dir,
            "build_dir": str(root / job.name / "build"),
        })
    path = root / "jobs.json"
    path.write_text(json.dumps({"to": to, "jobs": described}, indent=1), encoding="utf-8")
    return path


def timed(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[float, float, float]:
    """Run ``command``; (wall seconds, start, end as Unix times). Exits on failure."""
    start, began = time.time(), time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.run(command, check=False, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        sys.exit(f"ERROR: {' '.join(command[:4])} ... exited {proc.returncode} (log {log}):\n" + "\n".join(tail))
    return wall, start, start + wall


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def in_process_tool_intervals(build_root: Path, start: float, end: float) -> list[tuple[float, float]]:
    """slang's elaboration (inside SC's node process): [end - exetime, end] of every elaborate
    node that ended inside the run, read from the job manifests under ``build_root``."""
    intervals = []
    for path in build_root.rglob("*.pkg.json"):
        if path.parent.name != "job0":  # job manifests only (node copies sit under outputs/)
            continue
        manifest = Manifest.load(path)
        exetimes = (manifest.parameter("metric", "exetime") or {}).get("node", {}) if manifest else {}
        for step, indices in exetimes.items():
            for index in indices:
                if manifest.node_tool(step, index) != "slang":
                    continue
                seconds = manifest.get("metric", "exetime", step=step, index=index)
                ended = _epoch(manifest.get("record", "endtime", step=step, index=index))
                if seconds is not None and ended is not None and start <= ended <= end + 1.0:
                    intervals.append((ended - float(seconds), ended))
    return intervals


def tool_busy(times_file: Path, extra: list[tuple[float, float]], start: float, end: float) -> tuple[float, int]:
    """Seconds of [start, end] in which at least one tool process ran, and the process count."""
    intervals = list(extra)
    try:
        lines = times_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        entry = json.loads(line)
        if entry.get("start") is not None and start - 0.05 <= entry["start"] and entry["end"] <= end + 0.05:
            intervals.append((float(entry["start"]), float(entry["end"])))
    busy, reach = 0.0, float("-inf")
    for lo, hi in sorted(intervals):
        lo = max(lo, reach)
        if hi > lo:
            busy += hi - lo
        reach = max(reach, hi)
    return busy, len(intervals)


def synthesis_areas(build_root: Path) -> dict[str, float]:
    """top/pdk-less job label -> SC ``cellarea`` after synthesis (to show both sides did the same work)."""
    areas = {}
    for path in build_root.rglob("*.pkg.json"):
        if path.parent.name != "job0":
            continue
        manifest = Manifest.load(path)
        value = manifest.get("metric", "cellarea", step="synthesis", index="0") if manifest else None
        pdk = manifest.get("asic", "mainlib") if manifest else None
        if value is not None:
            areas[f"{path.parent.parent.name}/{pdk}"] = float(value)
    return areas


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Time on 2 cores: --params small --to synthesis ~6 min; --params small --pdk nangate45 through P&R "
               "~50 min; the reference configurations through P&R (the default) many hours.")
    parser.add_argument("--pdk", nargs="+", default=["asap7", "nangate45"])
    parser.add_argument("--design", nargs="+", default=list(HALUT_DESIGNS), choices=list(HALUT_DESIGNS))
    parser.add_argument("--params", default="reference", choices=sorted(PRESETS),
                        help="parameter preset: reference (config.yaml's) or small (C=4 K=4 M=2 DU=1)")
    parser.add_argument("--to", default=None, help="last SC step, e.g. synthesis (default: the whole flow)")
    parser.add_argument("--jobs", type=int, default=runner.default_parallel_jobs(),
                        help="orchestrator parallel jobs (default: cores)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and logs")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS),
                        help="which of the four runs to do (default: all, in this order)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="the orchestrator's runs start with an empty user cache (Liberty cache, Yosys "
                             "launcher), as on a machine's first run; default: the user's cache as it is")
    args = parser.parse_args()
    for side in ("sc", "orchestrator"):  # each invocation starts from an empty project
        if f"{side}-unchanged" in args.runs and f"{side}-cold" not in args.runs:
            parser.error(f"--runs {side}-unchanged needs {side}-cold (the project starts empty)")

    entries = {name: PRESETS[args.params][name] for name in args.design}
    with project(entries, args.pdk, keep=args.keep) as config_path:
        root = config_path.parent
        if args.keep:
            print(f"project: {root}", file=sys.stderr)
        config = load_project(config_path)
        jobs = select_jobs(config, pdks=list(config.pdks))
        toolchain = tools.detect_all()
        spec = plain_jobs(config, jobs, toolchain, root / "plain", args.to)
        wrapped = write_wrappers(root / "wrappers")
        times_file = root / "tool-times.jsonl"
        env = {**os.environ, TOOL_TIMES_ENV: str(times_file),
               "PATH": os.pathsep.join([str(root / "wrappers"), os.environ.get("PATH", "")]),
               "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "designs"), str(TOYGEN),
                                              os.environ.get("PYTHONPATH", "")])}
        orchestrator_env = {**env, "XDG_CACHE_HOME": str(root / "cache")} if args.cold_cache else env
        orchestrator = [sys.executable, "-m", "orchestrator", "--config", str(config_path), "run",
                        "--jobs", str(args.jobs), *(["--to", args.to] if args.to else [])]
        plain = [sys.executable, str(PLAIN_SCRIPT), str(spec)]
        runs = [("SC script", "cold", plain, env, root / "plain"),
                ("SC script", "unchanged", plain, env, root / "plain"),
                ("orchestrator", "cold", orchestrator, orchestrator_env, root / "build"),
                ("orchestrator", "unchanged", orchestrator, orchestrator_env, root / "build")]
        results = {}
        for name, (side, kind, command, run_env, build_root) in zip(RUNS, runs, strict=True):
            if name not in args.runs:
                continue
            load = os.getloadavg()[0]
            print(f"{side} {kind}: running ({len(jobs)} jobs, load {load:.1f})", file=sys.stderr, flush=True)
            log = root / f"{side.replace(' ', '_')}-{kind}.log"
            wall, start, end = timed(command, run_env, root, log)
            busy, processes = tool_busy(times_file, in_process_tool_intervals(build_root, start, end), start, end)
            results[(side, kind)] = (wall, busy)
            print(f"{side:<12} {kind:<9}: {wall:8.1f} s wall, tool processes busy {busy:7.1f} s ({processes} "
                  f"intervals), outside tools {wall - busy:7.1f} s = {pct(wall - busy, wall)} of wall "
                  f"(load {load:.1f} at start)", flush=True)
        plain_areas, ours_areas = synthesis_areas(root / "plain"), synthesis_areas(root / "build")
        same = sorted(plain_areas.values()) == sorted(ours_areas.values()) and len(plain_areas) == len(jobs)
        both = bool(plain_areas) and bool(ours_areas)

    what = f"{len(jobs)} jobs ({', '.join(args.design)} x {', '.join(args.pdk)}; {args.params} parameters; " \
           f"to {args.to or 'the end of the flow'})"
    cache = "empty" if args.cold_cache else "as it was"
    print(f"\nmatrix: {what}; orchestrator --jobs {args.jobs}, user cache {cache}; "
          f"wrapped tools: {', '.join(wrapped) or 'none'}")
    for kind in ("cold", "unchanged"):
        if ("SC script", kind) in results and ("orchestrator", kind) in results:
            sc, ours = results[("SC script", kind)][0], results[("orchestrator", kind)][0]
            print(f"{kind:<9}: SC script {sc:.1f} s / orchestrator {ours:.1f} s = {sc / ours:.2f}x")
    for side in ("SC script", "orchestrator"):
        if (side, "cold") in results and (side, "unchanged") in results:
            cold, warm = results[(side, "cold")][0], results[(side, "unchanged")][0]
            print(f"unchanged vs cold: {side} {cold / warm:.1f}x faster")
    if not both:
        return 0
    print(f"same synthesis results (SC cellarea per job): {'yes' if same else 'NO'}"
          + ("" if same else f" (SC script {sorted(plain_areas.values())}, "
                             f"orchestrator {sorted(ours_areas.values())})"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
