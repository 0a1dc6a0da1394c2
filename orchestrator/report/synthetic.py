"""Deterministic synthetic history for the report tests and ``benchmarks/bench_report.py``.

The numbers are plausible (ASAP7/NanGate45 sized) but invented; they never enter real reports.
"""

from __future__ import annotations

import random
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
    synthesis-only (P&R skipped), a failing design, hostile text, and (given ``gds``) a run whose layout must be rendered.
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
