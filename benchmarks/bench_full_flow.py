"""Full RTL-to-GDS flow per design and PDK: wall time per stage and the post-route figures, beside
the halutmatmul OpenROAD-flow-scripts (ORFS) archive.

Runs the three reference configurations of config.yaml (or ``--params small``: C=4 K=4 M=2 DU=1,
seconds to minutes per job) through the orchestrator's job runner, one job after another by
default, on ASAP7 and NanGate45, to ``write.gds``/``write.views`` (or ``--to STEP``), and prints
per (design, PDK):

  stage wall    SC node wall times (``tasktime``: the tool plus SC's preparation of the node)
                summed per stage: synthesis (elaborate, synthesis, cleanup.clean,
                synthesis.timing), floorplan, place, cts, route (incl. dfm), write; "rest" =
                job wall - the nodes (SC's scheduler, our job process, project build, record)
  figures       area (std cells, fillers excluded), cells, utilisation, setup WNS/TNS, fmax,
                power, DRC count, with the step they come from
  ORFS          the same figures of the archive's run of that design and platform: a passing run
                at the same clock if there is one (the newest), else the newest passing run at
                any clock (flagged); its stage runtimes grouped the same way

The archive ($HALUT_ORFS_REFERENCE, else ../shared/reference/halutmatmul-openroad-reports) is
read with orchestrator.orfs_import. Its halut_encoder is halutmatmul's 4-encoder wrapper
(halut_encoder_4) and its parameter sets are not recorded: compare orders of magnitude and
trends, not cell for cell.

Times (this machine, 2 cores): a small-preset job takes 70-140 s (halut_decoder/nangate45) on
an idle machine, 22 min (halut_encoder/asap7) at a load of 10-14; the reference configurations
are 10-60x larger (ORFS: 12 k-68 k cells) and the matrix takes hours. Needs yosys (or the
pyosys bridge), OpenSTA, OpenROAD and KLayout on PATH, e.g.
PATH=../shared/tools/opensta/bin:../shared/tools/openroad/bin:$PATH.

    python benchmarks/bench_full_flow.py [--pdk asap7 nangate45] [--design halut_decoder ...]
        [--params reference|small] [--to STEP] [--jobs 1] [--keep]
    python benchmarks/bench_full_flow.py --history /tmp/halut-bench.XXXX/reports/history
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from _harness import HALUT_DESIGNS, REPO_ROOT, project

from orchestrator import history, orfs_import, runner, tools
from orchestrator.config import load_config
from orchestrator.jobs import load_project, select_jobs
from orchestrator.record import METRIC_UNITS, RunRecord
from tests.orfs_reference import find_reference

SMALL_DESIGNS = {name: "{C: 4, K: 4, M: 2, DU: 1, dtype: int8, mem_style: latch}" for name in HALUT_DESIGNS}
PRESETS = {"reference": HALUT_DESIGNS, "small": SMALL_DESIGNS}

STAGES = ("synthesis", "floorplan", "place", "cts", "route", "write")
# SC asicflow step prefix -> stage. dfm (metal fill) finishes the routed layout: counted as route.
SC_STAGE = {"elaborate": "synthesis", "synthesis": "synthesis", "cleanup": "synthesis", "floorplan": "floorplan",
            "place": "place",
            "cts": "cts", "route": "route", "dfm": "route", "write": "write"}
# ORFS metric stage -> stage (orfs_import.ORFS_STAGES).
ORFS_STAGE = {"synth": "synthesis", "floorplan": "floorplan", "floorplan_io": "floorplan",
              "floorplan_tdms": "floorplan", "floorplan_macro": "floorplan", "floorplan_tap": "floorplan",
              "floorplan_pdn": "floorplan", "globalplace_skip_io": "place", "globalplace_io": "place",
              "globalplace": "place", "placeopt": "place", "detailedplace": "place", "cts": "cts",
              "cts_fill": "cts", "globalroute": "route", "detailedroute": "route", "finish_merge": "write",
              "finish": "write"}

FIGURES = ("clock_period_ns", "area_um2", "stdcell_count", "utilization_pct", "wns_ns", "tns_ns", "fmax_mhz",
           "power_mw", "drc_count")


def stage_times(record: RunRecord, mapping: dict[str, str], split=lambda step: step.split(".")[0]) -> dict[str, float]:
    """Step wall times summed per stage ("other" for a step no stage claims)."""
    times: dict[str, float] = {}
    for step in record.steps:
        if step.runtime_s is None:
            continue
        stage = mapping.get(split(step.step), "other")
        times[stage] = times.get(stage, 0.0) + step.runtime_s
    return times


def orfs_reference(archive: Path | None, platforms) -> list[RunRecord]:
    if archive is None:
        return []
    records = []
    for run in orfs_import.discover_runs(archive):
        try:
            records.append(orfs_import.run_to_record(run, platforms))
        except orfs_import.OrfsImportError:
            continue  # a platform we do not have
    return records


def matching_orfs(records: list[RunRecord], design: str, pdk: str,
                  period_ns: float | None) -> tuple[RunRecord | None, bool]:
    """(newest passing ORFS run of design/pdk at the same clock, True), else (newest at any clock, False)."""
    candidates = [r for r in records if r.design == design and r.pdk == pdk and r.status == "pass"]
    same = [r for r in candidates if period_ns is not None and r.metrics.clock_period_ns is not None
            and abs(r.metrics.clock_period_ns - period_ns) < 1e-6]
    pool = same or candidates
    if not pool:
        return None, False
    return max(pool, key=lambda r: r.timestamp), bool(same)


def fmt(value, name: str) -> str:
    if value is None:
        return "–"
    if name in ("stdcell_count", "drc_count"):
        return f"{int(value)}"
    if name in ("area_um2", "core_area_um2", "wirelength_um", "total_runtime_s", "peak_memory_mib"):
        return f"{value:.0f}"
    if name in ("wns_ns", "tns_ns", "clock_period_ns"):
        return f"{value:.3f}"
    if name == "power_mw":
        return f"{value:.3f}"
    return f"{value:.1f}"


def report(record: RunRecord, wall: float | None, orfs: list[RunRecord]) -> None:
    """Print one job's stage times and figures beside its ORFS match (``wall``: the job's wall
    time, None when only its record is known)."""
    params = " ".join(f"{k}={v}" for k, v in record.parameters.items() if k in ("C", "K", "M", "DU"))
    print(f"\n== {record.design} / {record.pdk} ({params}) ==")
    print(f"  status {record.status}{': ' + record.reason if record.reason else ''}; "
          f"reached {record.stage_reached}; job wall " + (f"{wall:.1f} s" if wall is not None else "not known"))
    ref, same_clock = matching_orfs(orfs, record.design, record.pdk, record.metrics.clock_period_ns)
    ours = stage_times(record, SC_STAGE)
    columns = [*STAGES, *(["other"] if "other" in ours else [])]
    header = "".join(f"{c:>10}" for c in (*columns, "nodes", "rest", "total"))
    print(f"  {'stage wall (s)':<28}{header}")
    nodes = sum(ours.values())
    rest, total = (f"{wall - nodes:.1f}", f"{wall:.1f}") if wall is not None else ("–", "–")
    print(f"  {'this flow':<28}" + "".join(f"{ours[c]:>10.1f}" if c in ours else f"{'–':>10}" for c in columns)
          + f"{nodes:>10.1f}{rest:>10}{total:>10}")
    if ref is not None:
        theirs = stage_times(ref, ORFS_STAGE, split=lambda step: step)
        # Some archive runs lack some stages' runtimes: their sum is then a lower bound.
        bound = "≥" if any(s.runtime_s is None for s in ref.steps) else ""
        total = f"{bound}{sum(theirs.values()):.1f}"
        print(f"  {'ORFS ' + ref.timestamp.strftime('%Y-%m-%d'):<28}"
              + "".join(f"{theirs[c]:>10.1f}" if c in theirs else f"{'–':>10}" for c in columns)
              + f"{total:>10}{'':>10}{total:>10}")
    if ref is None:
        ref_label = "ORFS: no run of this design/platform"
    else:
        clock = "same clock" if same_clock else f"other clock: {fmt(ref.metrics.clock_period_ns, 'clock_period_ns')} ns"
        ref_label = f"ORFS {ref.top} {ref.timestamp:%Y-%m-%d} ({clock})"
    print(f"  {'figure':<28}{'this flow':>14}  {'from step':<22}{ref_label}")
    for name in FIGURES:
        value = getattr(record.metrics, name)
        step = record.metric_steps.get(name, "")
        scenario = record.metric_scenarios.get(name)
        where = f"{step}@{scenario}" if scenario else step
        theirs = fmt(getattr(ref.metrics, name), name) if ref is not None else ""
        if ref is not None and name not in ("clock_period_ns",):
            theirs += f"  ({ref.metric_steps.get(name, '')})" if getattr(ref.metrics, name) is not None else ""
        print(f"  {name + ' [' + METRIC_UNITS[name] + ']':<28}{fmt(value, name):>14}  {where:<22}{theirs}")
    if record.gds:
        print(f"  gds: {record.gds}")


# The seed's table: post-route figures of ours beside the archive's run, and their ratio.
TABLE = (("area_um2", "area µm²"), ("core_area_um2", "core µm²"), ("stdcell_count", "cells"),
         ("utilization_pct", "util %"), ("fmax_mhz", "fmax MHz"), ("wns_ns", "WNS ns"), ("tns_ns", "TNS ns"),
         ("power_mw", "power mW"), ("drc_count", "DRC"), ("wirelength_um", "wire µm"),
         ("total_runtime_s", "wall s"), ("peak_memory_mib", "peak MiB"))


def figure(record: RunRecord, name: str) -> float | None:
    if name in ("total_runtime_s", "peak_memory_mib"):
        return getattr(record, name)
    return getattr(record.metrics, name)


def ratio(ours: float | None, theirs: float | None, name: str) -> str:
    if ours is None or theirs is None:
        return "–"
    if name in ("wns_ns", "tns_ns", "drc_count"):  # zero is the goal: a ratio says nothing
        return "–"
    return f"{ours / theirs:.2f}x" if theirs else "–"


def table(records: list[RunRecord], orfs: list[RunRecord]) -> None:
    """One block per job: ours, the archive's (same design and platform, newest passing run, its
    clock named), and ours / theirs."""
    print("\n== the seed's table: post-route, ours / halutmatmul ORFS (its newest passing run of the design: "
          "config.yaml's parameters; NanGate45's at 6 ns) ==")
    print(f"  {'job':<28}{'':<10}" + "".join(f"{label:>12}" for _, label in TABLE))
    for record in sorted(records, key=lambda r: (r.pdk, r.design)):
        # Not matching_orfs: the archive's NanGate45 runs at our 3 ns clock are another parameter set
        # (decoder: 34 692 cells against 12 256 at config.yaml's C=32 K=16).
        ref, _same = matching_orfs(orfs, record.design, record.pdk, None)
        clock = record.metrics.clock_period_ns
        name = f"{record.design}/{record.pdk}"
        print(f"  {name:<28}{f'{clock:g} ns':<10}" + "".join(
            f"{fmt(figure(record, n), n):>12}" for n, _ in TABLE)
            + f"  {record.status}" + (" (reused: an earlier run, same key)" if record.cached else ""))
        if ref is None:
            print(f"  {'  ORFS: no run':<38}")
            continue
        ref_clock = ref.metrics.clock_period_ns
        print(f"  {'  ORFS ' + ref.timestamp.strftime('%Y-%m-%d'):<28}{f'{ref_clock:g} ns':<10}" + "".join(
            f"{fmt(figure(ref, n), n):>12}" for n, _ in TABLE))
        print(f"  {'  ratio':<38}" + "".join(f"{ratio(figure(record, n), figure(ref, n), n):>12}" for n, _ in TABLE))


# The archive's ASAP7 runs used ORFS's default CORNER=BC (the FF Liberty, 0.77 V); we sign setup off
# at SS (0.63 V). To compare TNS like with like, the routed netlist is timed again at the
# archive's corner with OpenSTA, from the SDF SC's write.views wrote for that corner's scenario.
ORFS_CORNER = {"asap7": "fast"}
_STA_NUMBER = re.compile(r"^(tns|wns) max (-?[0-9.]+)", re.MULTILINE)


def corner_timing(record: RunRecord, platform, data_root: Path | None, scenario: str) -> dict[str, float] | None:
    """{"tns_ns", "wns_ns"} of a routed record at ``scenario``'s library corner, or None when the
    files, the corner or ``sta`` are not there."""
    import importlib
    import shutil
    import subprocess

    from orchestrator import flow

    sta = shutil.which("sta")
    if sta is None or record.build_dir is None or record.top is None or data_root is None:
        return None
    outputs = Path(record.build_dir) / record.top / "job0" / "write.views" / "0" / "outputs"
    netlist, sdc, sdf = (outputs / f"{record.top}{suffix}" for suffix in (".vg", ".sdc", f".{scenario}.sdf"))
    if not all(p.is_file() for p in (netlist, sdc, sdf)):
        return None
    module, _, name = platform.stdcell_lib_class.partition(":")
    library = getattr(importlib.import_module(module), name)()
    library.set_dataroot("lambdapdk", str(data_root), clobber=True)
    corner = platform.timing_scenarios[scenario].libcorners[0]
    reads = "\n".join(f"read_liberty {{{path}}}" for path in flow.liberty_files(library, corner))
    script = (f"{reads}\nread_verilog {{{netlist}}}\nlink_design {record.top}\nread_sdc {{{sdc}}}\n"
              f"read_sdf {{{sdf}}}\nreport_tns -digits 4\nreport_wns -digits 4\nexit\n")
    proc = subprocess.run([sta, "-no_init", "-no_splash", "-exit"], input=script, capture_output=True, text=True,
                          timeout=1800)
    found = dict(_STA_NUMBER.findall(proc.stdout))
    if set(found) != {"tns", "wns"}:
        return None
    scale = platform.to_ns(1.0)  # the SDC's (the platform's) time unit
    return {"tns_ns": float(found["tns"]) * scale, "wns_ns": float(found["wns"]) * scale}


def corner_table(records: list[RunRecord], orfs: list[RunRecord], platforms, data_root: Path | None) -> None:
    rows = [r for r in records if r.pdk in ORFS_CORNER and r.status == "pass"]
    if not rows:
        return
    print("\n== setup timing at the archive's corner (ORFS default CORNER=BC: FF) beside our sign-off corner ==")
    print(f"  {'job':<28}{'our sign-off':>24}{'ours at the archive corner':>30}{'ORFS':>24}")
    for record in sorted(rows, key=lambda r: r.design):
        platform = platforms[record.pdk]
        scenario = ORFS_CORNER[record.pdk]
        at_corner = corner_timing(record, platform, data_root, scenario)
        ref, _ = matching_orfs(orfs, record.design, record.pdk, None)
        ours = f"TNS {fmt(record.metrics.tns_ns, 'tns_ns')} ({record.metric_scenarios.get('tns_ns', '?')})"
        there = (f"TNS {fmt(at_corner['tns_ns'], 'tns_ns')} ({scenario})" if at_corner else "not measured")
        theirs = f"TNS {fmt(ref.metrics.tns_ns, 'tns_ns')}" if ref is not None else "–"
        print(f"  {record.design + '/' + record.pdk:<28}{ours:>24}{there:>30}{theirs:>24}")


def _shown_path(path: Path | None) -> str:
    """A path as the report prints it: relative to the checkout, so that no machine's layout ends up
    in a pasted result (docs/benchmarks-full-flow.md)."""
    if path is None:
        return "not found"
    return os.path.relpath(path, REPO_ROOT) if path.is_relative_to(REPO_ROOT.parent) else str(path)


def report_history(history_dir: Path, archive: Path | None) -> int:
    """The report for records already written (job wall times are not in a record)."""
    config = load_config(REPO_ROOT / "config.yaml")
    orfs = orfs_reference(archive, config.platforms)
    records = sorted((history.load_record(p) for p in history.iter_record_files(history_dir)),
                     key=lambda r: r.timestamp)
    if not records:
        sys.exit(f"ERROR: {history_dir}: no history records")
    newest: dict[tuple[str, str, float | None], RunRecord] = {}
    for record in records:
        report(record, None, orfs)
        newest[(record.design, record.pdk, record.metrics.clock_period_ns)] = record
    table(list(newest.values()), orfs)
    corner_table(list(newest.values()), orfs, config.platforms, config.resolved_pdk_data_root())
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="The reference configurations (default) take hours in total on 2 cores; "
                                            "--params small takes minutes per job on an idle machine and tens of "
                                            "minutes when it is busy.")
    parser.add_argument("--pdk", nargs="+", default=["asap7", "nangate45"])
    parser.add_argument("--design", nargs="+", default=list(HALUT_DESIGNS), choices=list(HALUT_DESIGNS))
    parser.add_argument("--params", default="reference", choices=sorted(PRESETS),
                        help="parameter preset: reference (config.yaml's) or small (C=4 K=4 M=2 DU=1)")
    parser.add_argument("--to", default=None, help="last SC step (default: as far as the installed tools go)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel jobs (default 1: stage times without contention)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project (build dirs, history)")
    parser.add_argument("--project", type=Path, default=None, metavar="DIR",
                        help="run in DIR and keep it; a later run with the same DIR takes the jobs that are "
                             "unchanged since (same cache key) from its history instead of running them again "
                             "(a reference matrix that does not fit one sitting finishes over several)")
    parser.add_argument("--clock", action="append", default=[], metavar="PDK=PERIOD",
                        help="clock period for every design on PDK, in the platform's time unit (e.g. "
                             "nangate45=6: the archive's NanGate45 runs are at 6 ns); repeatable")
    parser.add_argument("--history", type=Path, default=None, metavar="DIR",
                        help="run nothing: report the records in a history directory (e.g. of a --keep project)")
    args = parser.parse_args()

    entries = {name: PRESETS[args.params][name] for name in args.design}
    clock_period = {}
    for item in args.clock:
        pdk, _, period = item.partition("=")
        try:
            clock_period[pdk] = float(period)
        except ValueError:
            parser.error(f"--clock: expected PDK=PERIOD, e.g. nangate45=6 (value: {item!r})")
    archive = find_reference(REPO_ROOT)
    if args.history is not None:
        return report_history(args.history, archive)
    with project(entries, args.pdk, keep=args.keep, at=args.project, clock_period=clock_period) as config_path:
        if args.keep or args.project:
            print(f"project: {config_path.parent}", file=sys.stderr)
        config = load_project(config_path)
        orfs = orfs_reference(archive, config.platforms)
        toolchain = tools.detect_all()
        print("tools: " + ", ".join(f"{n} {v}" for n, v in sorted(toolchain.versions().items())), file=sys.stderr)
        jobs = select_jobs(config, pdks=list(config.pdks))
        seen: dict[str, str] = {}
        written: set[str] = set()

        def progress(state: runner.Progress) -> None:  # one stderr line per step change
            for outcome in state.done:  # into the project's history at once (--keep, --history)
                if outcome.record is not None and outcome.record.run_id not in written:
                    written.add(outcome.record.run_id)
                    history.write_record(config.path("history_dir"), outcome.record)
            for name, (step, elapsed) in state.running.items():
                if seen.get(name) != step:
                    seen[name] = step
                    print(f"  [{elapsed:7.1f} s] {name}: {step}", file=sys.stderr, flush=True)

        began = time.perf_counter()
        try:
            outcomes = runner.run_jobs(config, jobs, toolchain, max_parallel=args.jobs, to=args.to,
                                       force=args.project is None, on_progress=progress)
        except runner.Interrupted as stopped:  # Ctrl-C: report the jobs that finished
            outcomes = [o for o in stopped.outcomes if not o.interrupted]
            print(f"interrupted: {len(stopped.outcomes) - len(outcomes)} jobs not finished", file=sys.stderr)
        wall = time.perf_counter() - began
        for outcome in outcomes:
            if outcome.record is None:
                print(f"\n== {outcome.job.name}: no record: {outcome.error}")
            else:
                # A reused record's job wall was spent in an earlier run (its node times are in it).
                report(outcome.record, None if outcome.cached else outcome.elapsed_s, orfs)
    table([o.record for o in outcomes if o.record is not None], orfs)
    corner_table([o.record for o in outcomes if o.record is not None], orfs, config.platforms,
                 config.resolved_pdk_data_root())
    failed = [o.job.name for o in outcomes if o.record is None or o.record.status != "pass"]
    print(f"\nfull flow: {len(outcomes)} jobs in {wall:.1f} s wall (--jobs {args.jobs}); "
          f"ORFS archive: {_shown_path(archive)}" + (f"; not pass: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
