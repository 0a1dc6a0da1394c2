"""Deterministic synthetic history for the report tests and ``benchmarks/bench_report.py``
(imported as ``tests.synthetic_history``, with the repository root on ``sys.path``).

The numbers are plausible (ASAP7/NanGate45 sized) but invented; they never enter real reports.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.record import Metrics, RunRecord, SkippedStage, StepInfo, make_run_id

DESIGNS = ("halut_encoder", "halut_decoder", "halut_matmul")
PDKS = ("asap7", "nangate45")
# (area um^2, clock period ns, voltage V, GE reference area um^2) per PDK.
_PDK_SCALE = {"asap7": (1200.0, 1.5, 0.7, 0.08748), "nangate45": (24000.0, 3.0, 1.1, 0.798)}
_DESIGN_SCALE = {"halut_encoder": 1.0, "halut_decoder": 0.8, "halut_matmul": 4.0}
_STEPS = (("syn", "yosys"), ("floorplan", "openroad"), ("place", "openroad"), ("cts", "openroad"),
          ("route", "openroad"), ("write_gds", "klayout"))


def synthetic_record(index: int, rng: random.Random, *, design: str, pdk: str, timestamp: datetime,
                     status: str | None = None) -> RunRecord:
    area0, period, voltage, ge_ref = _PDK_SCALE.get(pdk, (1000.0, 2.0, 1.0, 1.0))
    drift = 1.0 + 0.05 * rng.uniform(-1, 1)
    area = area0 * _DESIGN_SCALE.get(design, 1.0) * drift
    roll = rng.random()
    status = status or ("pass" if roll < 0.85 else "partial" if roll < 0.95 else "fail")
    params = {"C": 32, "K": 16, "M": 4 if index % 7 else 8, "DU": 2, "dtype": "int8"}
    steps = [StepInfo(step=f"{name}0", tool=tool, runtime_s=round(rng.uniform(1, 120), 2)) for name, tool in _STEPS]
    common = {
        "run_id": make_run_id(design, pdk, params, timestamp, salt=str(index)),
        "design": design, "top": design, "pdk": pdk, "parameters": params, "timestamp": timestamp,
        "tool_versions": {"yosys": "0.48", "openroad": "2.0-17000", "siliconcompiler": "0.38.11"},
        "ge_reference_area_um2": ge_ref, "orchestrator_version": "0.1.0",
    }
    if status == "fail":
        return RunRecord(**common, status="fail", reason="syn0: yosys exited with code 1", steps=steps[:1])
    if status == "partial":
        metrics = Metrics(area_um2=area * 0.9, stdcell_count=int(area * 0.9 / (ge_ref * 1.6)),
                          ge=area * 0.9 / ge_ref, clock_period_ns=period, target_freq_mhz=1000 / period,
                          voltage_v=voltage)
        return RunRecord(
            **common, status="partial", reason="P&R skipped", stage_reached="syn0", metrics_origin="synthesis",
            metrics=metrics, steps=steps[:1],
            skipped_stages=[SkippedStage(step="floorplan0", reason="openroad not installed (install OpenROAD)")],
            metric_steps={m: "syn0" for m in ("area_um2", "stdcell_count", "ge")},
        )
    tns = min(0.0, rng.gauss(0.0, 0.3))
    metrics = Metrics(
        area_um2=area, stdcell_count=int(area / (ge_ref * 1.6)), register_count=int(area / 40), ge=area / ge_ref,
        clock_period_ns=period, target_freq_mhz=1000 / period, fmax_mhz=1000 / (period - min(tns, 0) * 0.1 + 0.01),
        wns_ns=tns / 10, tns_ns=tns, utilization_pct=rng.uniform(35, 55), voltage_v=voltage,
        power_mw=area * 1e-3 * rng.uniform(0.8, 1.2), die_area_um2=area * 2.4, core_area_um2=area * 2.2,
    )
    return RunRecord(
        **common, status="pass", stage_reached="write_gds0", metrics_origin="finish", metrics=metrics, steps=steps,
        metric_steps={m: ("route0" if m in ("area_um2", "stdcell_count") else "sta0") for m in Metrics.model_fields},
    )


def synthetic_records(count: int, *, seed: int = 1, designs: tuple[str, ...] = DESIGNS,
                      pdks: tuple[str, ...] = PDKS, start: datetime | None = None) -> list[RunRecord]:
    """``count`` records spread round-robin over designs x PDKs, one every few hours."""
    rng = random.Random(seed)
    start = start or datetime(2023, 1, 1, tzinfo=UTC)
    pairs = [(d, p) for p in pdks for d in designs]
    records = []
    for index in range(count):
        design, pdk = pairs[index % len(pairs)]
        timestamp = start + timedelta(hours=3 * index, seconds=index % 60)
        records.append(synthetic_record(index, rng, design=design, pdk=pdk, timestamp=timestamp))
    return records


HOSTILE_TEXT = "<script>window.__halut_xss = 1</script>"


def showcase_records(build_root: Path, *, count: int = 24, gds: Path | None = None) -> list[RunRecord]:
    """A small history that exercises every page element: trends, a run with logs, reports and
    layout images on disk (written under ``build_root``), a design whose only run is
    synthesis-only (P&R skipped), a failing design, hostile text, and (given ``gds``) a run whose
    layout must be rendered.
    """
    records = synthetic_records(count)
    rng = random.Random(7)
    newest = max(r.timestamp for r in records)
    build_root = Path(build_root)

    build = build_root / "halut_encoder-asap7"
    (build / "logs").mkdir(parents=True, exist_ok=True)
    (build / "images").mkdir(parents=True, exist_ok=True)
    (build / "logs" / "route.log").write_text(
        "[INFO GRT-0001] routing\nslack < 0 & fanout > 8 <b>not bold</b>\n", encoding="utf-8"
    )
    (build / "reports").mkdir(exist_ok=True)
    (build / "reports" / "synth_stat.txt").write_text("Chip area for module '\\halut_encoder': 1234.5\n",
                                                       encoding="utf-8")
    for key, color in (("cts", (0.2, 0.4, 0.8)), ("routing", (0.8, 0.3, 0.2))):
        _write_png(build / "images" / f"final_{key}.png", color)
    with_files = synthetic_record(10_001, rng, design="halut_encoder", pdk="asap7",
                                  timestamp=newest + timedelta(hours=1), status="pass")
    with_files = with_files.model_copy(update={
        "build_dir": str(build),
        "logs": {"route0": "logs/route.log", "floorplan0": "logs/missing.log"},
        "reports": ["reports/synth_stat.txt"],
        "images": {"cts": "images/final_cts.png", "routing": "images/final_routing.png"},
        "steps": [s.model_copy(update={"log": "logs/route.log"}) if s.step == "route0" else s
                  for s in with_files.steps],
    })
    records.append(with_files)

    # A design only ever synthesised (P&R skipped: no OpenROAD): the index shows its partial run.
    records.append(synthetic_record(10_002, rng, design="halut_synth_only", pdk="asap7",
                                    timestamp=newest + timedelta(hours=2), status="partial"))

    failing = synthetic_record(10_003, rng, design="halut_failing", pdk="nangate45",
                               timestamp=newest + timedelta(hours=3), status="fail")
    records.append(failing.model_copy(update={"reason": f"syn0: yosys error near {HOSTILE_TEXT}"}))

    hostile = synthetic_record(10_004, rng, design=HOSTILE_TEXT, pdk="nangate45",
                               timestamp=newest + timedelta(hours=4), status="pass")
    records.append(hostile.model_copy(update={
        "parameters": {"note": HOSTILE_TEXT},
        "tool_versions": {"yosys": HOSTILE_TEXT},
        "metric_steps": {"area_um2": HOSTILE_TEXT},
    }))

    if gds is not None:
        rendered = synthetic_record(10_005, rng, design="fp_16_32_adder", pdk="nangate45",
                                    timestamp=newest + timedelta(hours=5), status="pass")
        records.append(rendered.model_copy(update={"gds": str(gds)}))
    return records


def _write_png(path: Path, color: tuple[float, float, float]) -> None:
    import matplotlib.image
    import numpy as np

    pixels = np.empty((48, 64, 3))
    pixels[...] = color
    pixels[8:40, 8:56] = 1.0
    matplotlib.image.imsave(path, pixels)


# ---- records shaped like the ones the full SiliconCompiler flow writes ---------------------------
# Field for field what ``metrics.collect`` recorded for halut_decoder (C=4 K=4 M=2 DU=1, latch
# memories) on NanGate45 with OpenROAD 26Q3, OpenSTA 3.1.0 and KLayout 0.28.5 (Debian 12): every
# step through write.views, one sign-off scenario ("typical"), the layout PNG KLayout writes next
# to the GDS in write.gds. Only the paths are rebased onto ``build_root``.
ROUTED_DECODER_PARAMETERS = {"C": 4, "DU": 1, "K": 4, "M": 2, "dtype": "int8", "mem_style": "latch"}
ROUTED_DECODER_METRICS = {
    "area_um2": 1507.42, "clock_period_ns": 3.0, "core_area_um2": 3359.05, "die_area_um2": 3681.46,
    "drc_count": 0, "drv_count": 0, "flop_count": 84, "fmax_mhz": 613.672, "ge": 1507.42 / 0.798,
    "hold_slack_ns": 0.0157372, "hold_tns_ns": 0.0, "hold_wns_ns": 0.0, "latch_count": 144,
    "leakage_power_mw": 0.0293673, "power_mw": 0.993364, "register_count": 228, "setup_slack_ns": 0.0,
    "stdcell_count": 890, "target_freq_mhz": 1000 / 3.0, "tns_ns": 0.0, "utilization_pct": 44.8765,
    "voltage_v": 1.1, "wirelength_um": 7328.0, "wns_ns": 0.0,
}
_TIMING_METRICS = ("fmax_mhz", "hold_slack_ns", "hold_tns_ns", "hold_wns_ns", "leakage_power_mw", "power_mw",
                   "setup_slack_ns", "tns_ns", "voltage_v", "wns_ns")
_SC_STEPS = (  # (step, tool, runtime s) of the real run; None: skipped by SC (nothing to do)
    ("elaborate", "slang", 0.10), ("synthesis", "yosys", 3.34), ("cleanup.clean", "openroad", 3.08),
    ("synthesis.timing", "opensta", 3.17), ("floorplan.init", "openroad", 3.58),
    ("floorplan.macro_placement", "openroad", None), ("floorplan.tapcell", "openroad", 2.58),
    ("floorplan.power_grid", "openroad", 2.37), ("floorplan.pin_placement", "openroad", 4.17),
    ("place.global", "openroad", 3.62), ("place.repair_design", "openroad", 1.57),
    ("place.detailed", "openroad", 1.25), ("cts.clock_tree_synthesis", "openroad", 7.87),
    ("cts.repair_timing", "openroad", 3.19), ("cts.fillcell", "openroad", 4.16), ("route.global", "openroad", 3.40),
    ("route.repair_timing", "openroad", None), ("route.antenna_repair", "openroad", 5.98),
    ("route.detailed", "openroad", 55.35), ("route.detailed_antenna_repair", "openroad", 2.77),
    ("dfm.metal_fill", "openroad", None), ("write.gds", "klayout", 10.47), ("write.views", "openroad", 2.94),
)
_SC_VERSIONS = {"klayout": "0.28.5", "openroad": "26Q3-1551-g5c9e487120", "opensta": "3.1.0", "slang": "11.0.0",
                "yosys": "0.70"}


# DEFs OpenROAD wrote in that run (place.detailed, route.detailed_antenna_repair) and the tables of its
# route.global log (GRT-0053 routing resources, GRT-0096 final congestion report).
PICTURE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pictures"
RUN_DEFS = {"place.detailed": "halut_decoder.place.detailed.def.gz",
            "route.detailed_antenna_repair": "halut_decoder.route.def.gz"}


def routed_record(build_root: Path, *, timestamp: datetime | None = None, clock_period_ns: float = 3.0,
                  parameters: dict | None = None, gds: Path | None = None, with_defs: bool = False) -> RunRecord:
    """A passing full-flow record of halut_decoder on NanGate45, with its KLayout layout PNG
    written under ``build_root`` (``gds``: a real GDS to point the record at; ``with_defs``: the
    run's DEFs and route.global log put where SC 0.38 writes them, and named in ``record.defs``)."""
    from orchestrator.record import TimingScenario

    timestamp = timestamp or datetime(2026, 12, 1, 22, 44, 44, tzinfo=UTC)
    parameters = dict(parameters or ROUTED_DECODER_PARAMETERS)
    job = Path(build_root) / f"halut_decoder-{clock_period_ns:g}ns" / "sc" / "halut_decoder" / "job0"
    png = job / "write.gds" / "0" / "outputs" / "halut_decoder.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    _write_png(png, (0.35, 0.55, 0.35))
    logs = {}
    steps = []
    for step, tool, runtime in _SC_STEPS:
        if runtime is None:
            steps.append(StepInfo(step=step, tool=tool, status="skipped",
                                  note="skipped by SiliconCompiler: nothing to do in this design"))
            continue
        log = job / step / "0" / f"{step}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        if with_defs and step == "route.global":
            shutil.copyfile(PICTURE_FIXTURES / "route.global.log", log)
        else:
            log.write_text(f"{step}: done\n", encoding="utf-8")
        logs[step] = str(log)
        steps.append(StepInfo(step=step, tool=tool, runtime_s=runtime, log=str(log)))
    defs = {}
    for step, name in (RUN_DEFS.items() if with_defs else ()):
        target = job / step / "0" / "outputs" / "halut_decoder.def.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PICTURE_FIXTURES / name, target)
        defs[step] = str(target)
    metrics = dict(ROUTED_DECODER_METRICS, clock_period_ns=clock_period_ns, target_freq_mhz=1000 / clock_period_ns)
    metric_steps = {name: "write.views" for name in metrics}
    metric_steps.update({"clock_period_ns": "sdc", "target_freq_mhz": "sdc", "voltage_v": "liberty",
                         "drc_count": "route.detailed", "wirelength_um": "route.detailed"})
    return RunRecord(
        run_id=make_run_id("halut_decoder", "nangate45", parameters, timestamp),
        source="siliconcompiler", design="halut_decoder", top="halut_decoder", pdk="nangate45",
        stdcell_lib="nangate45", parameters=parameters, timestamp=timestamp, status="pass",
        stage_reached="write.views", metrics_origin="finish", metrics=Metrics(**metrics), metric_steps=metric_steps,
        metric_scenarios={name: "typical" for name in _TIMING_METRICS},
        timing_scenarios={"typical": TimingScenario(libcorner="typical", checks=["setup", "hold", "power"],
                                                    voltage_v=1.1)},
        steps=steps, tool_versions=dict(_SC_VERSIONS), orchestrator_version="0.1.0",
        ge_reference_cell="NAND2_X1", ge_reference_area_um2=0.798, build_dir=str(job.parent.parent), logs=logs,
        gds=str(gds) if gds is not None else None, images={"layout": str(png)}, defs=defs,
    )


def synthesis_timing_record(build_root: Path, *, timestamp: datetime | None = None) -> RunRecord:
    """The same configuration on a machine with OpenSTA but no OpenROAD: synthesis and
    synthesis.timing ran, P&R was skipped (``partial``), timing and power are estimates."""
    from orchestrator.record import TimingScenario

    full = routed_record(build_root, timestamp=timestamp)
    estimates = ("area_um2", "stdcell_count", "register_count", "flop_count", "latch_count", "ge", "fmax_mhz",
                 "wns_ns", "tns_ns", "setup_slack_ns", "hold_slack_ns", "hold_wns_ns", "hold_tns_ns", "power_mw",
                 "leakage_power_mw")
    kept = {"clock_period_ns", "target_freq_mhz", "voltage_v", *estimates}
    metrics = {k: v for k, v in full.metrics.model_dump().items() if k in kept}
    # What synthesis.timing recorded in that run (the netlist before placement's buffering and resizing).
    metrics.update(area_um2=1405.012, stdcell_count=760, ge=1405.012 / 0.798, fmax_mhz=712.94, power_mw=0.805,
                   leakage_power_mw=0.027, hold_slack_ns=0.04)
    openroad = "openroad not installed (install OpenROAD >= 24Q3-2011)"
    done = [s for s in full.steps if s.step in ("elaborate", "synthesis", "synthesis.timing")]
    return full.model_copy(update={
        "run_id": full.run_id + "-sta", "status": "partial",
        "reason": "stopped after synthesis.timing: openroad not installed",
        "stage_reached": "synthesis.timing", "metrics_origin": "synthesis", "metrics": Metrics(**metrics),
        "metric_steps": {name: ("synthesis.timing" if name in estimates else full.metric_steps[name])
                         for name in metrics},
        "metric_scenarios": {k: v for k, v in full.metric_scenarios.items() if k in metrics},
        "timing_scenarios": {"typical": TimingScenario(libcorner="typical", checks=["setup", "hold", "power"],
                                                       voltage_v=1.1)},
        "steps": done, "logs": {s.step: s.log for s in done if s.log},
        "skipped_stages": [SkippedStage(step="floorplan.init", reason=openroad)],
        "images": {}, "gds": None,
    })
