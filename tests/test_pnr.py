"""The full flow through OpenSTA, OpenROAD and KLayout, on both PDKs, for small halut variants.

Each case is one real `run` to `write.gds`/`write.views` (one to three minutes here) whose record
is checked against the tools' own output files and against the design (its storage latches).
Skips, naming the missing tool, where the tools are absent; the scrape itself is also covered
without the tools in test_flow.py.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

import halut
from orchestrator import history
from tests.conftest import PNR_TOOLS, write_design_project
from tests.test_cli import run_cli

missing = [tool for tool in PNR_TOOLS if shutil.which(tool) is None]

SMALL = {
    "halut_decoder": {"C": 4, "K": 4, "M": 2, "DU": 1, "dtype": "int8", "mem_style": "latch"},
    "halut_encoder": {"C": 4, "K": 4, "M": 2, "DU": 1, "dtype": "int8", "mem_style": "latch"},
    "halut_matmul": {"C": 4, "K": 4, "M": 2, "DU": 1, "dtype": "int8", "mem_style": "latch"},
}
CASES = [(design, pdk) for design in SMALL for pdk in ("nangate45", "asap7")]
# Sign-off scenario per check, and the voltage the record quotes (the setup corner's nom_voltage).
SIGNOFF = {
    "nangate45": ({"setup": "typical", "hold": "typical", "power": "typical"}, 1.1),
    "asap7": ({"setup": "slow", "hold": "fast", "power": "typical"}, 0.63),
}
# Steps SC decides to skip in a design without macros, timing violations after global routing, or
# fill rules: the run still passes.
SC_MAY_SKIP = {"floorplan.macro_placement", "route.repair_timing", "dfm.metal_fill"}


@pytest.mark.slow
@pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed (needed for P&R, STA and GDS export)")
@pytest.mark.parametrize("design, pdk", CASES, ids=[f"{d}-{p}" for d, p in CASES])
def test_full_flow_reaches_gds_with_signoff_metrics(tmp_path, pdk_data_root, design, pdk):
    params = SMALL[design]
    config = write_design_project(tmp_path, pdk_data_root, pdk, design, params)
    proc = run_cli(config, "run", "--require-all-stages", "--jobs", "1", timeout=3600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (record,) = history.load_records(tmp_path / "reports" / "history")
    m = record.metrics

    assert record.status == "pass" and record.reason is None and record.skipped_stages == []
    assert record.stage_reached == "write.views" and record.metrics_origin == "finish"
    statuses = {s.step: s.status for s in record.steps}
    assert {step for step, status in statuses.items() if status != "success"} <= SC_MAY_SKIP
    assert statuses["floorplan.macro_placement"] == "skipped"  # no macros in these designs

    # Figures against the files the tools wrote.
    job = Path(record.build_dir) / design / "job0"
    openroad = json.loads((job / "write.views/0/reports/metrics.json").read_text())
    assert m.stdcell_count == openroad["sc__metric__design__instance__count__stdcell"]  # fillers excluded
    assert m.core_area_um2 == openroad["sc__metric__design__core__area"]
    assert m.die_area_um2 > m.core_area_um2 > m.area_um2 > 0
    assert m.utilization_pct == pytest.approx(100 * m.area_um2 / m.core_area_um2, rel=0.01)
    storage = halut.expected_storage_bits(design, params)
    # One latch per stored bit plus each memory's write enable/address latches (synthesis may merge
    # the address latches memories share); none added or lost by P&R.
    assert storage["memory_bits"] <= m.latch_count <= storage["memory_bits"] + storage["write_address_latches"]
    assert m.flop_count > 0 and m.register_count == m.flop_count + m.latch_count
    assert m.ge == pytest.approx(m.area_um2 / record.ge_reference_area_um2)

    # Timing and power at the platform's sign-off scenarios, with the corner named per figure.
    assert m.fmax_mhz > 0 and m.setup_slack_ns is not None
    assert m.wns_ns == min(0.0, m.setup_slack_ns) and m.tns_ns <= 0
    assert m.hold_wns_ns is not None and m.hold_wns_ns <= 0 and m.hold_tns_ns <= 0
    assert m.power_mw > m.leakage_power_mw > 0
    assert m.drc_count == 0 and record.metric_steps["drc_count"] == "route.detailed"
    checks, voltage = SIGNOFF[pdk]
    assert record.metric_scenarios["wns_ns"] == checks["setup"]
    assert record.metric_scenarios["hold_wns_ns"] == checks["hold"]
    assert record.metric_scenarios["power_mw"] == checks["power"]
    assert m.voltage_v == pytest.approx(voltage)

    # Every SC metric the registry reads was really recorded by some step of this run: a wrong
    # name (SC's STA records setupslack, not setupwns; no task records averagepower) fails here.
    from orchestrator.metrics import SC_METRICS
    from orchestrator.sc_manifest import Manifest

    manifest = Manifest.load(job / f"{design}.pkg.json")
    steps = [(s.step, "0") for s in record.steps]
    unrecorded = [spec.sc.name for spec in SC_METRICS
                  if all(manifest.get("metric", spec.sc.name, step=st, index=i) is None for st, i in steps)]
    assert unrecorded == []

    # The layout: a GDS from KLayout and its render, by name.
    gds = Path(record.gds)
    assert gds.name == f"{design}.gds.gz" and gzip.open(gds).read(4) == b"\x00\x06\x00\x02"  # GDSII HEADER
    layout = Path(record.images["layout"])
    assert layout.name == f"{design}.png" and layout.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "(syn)" not in proc.stdout  # post-route figures are not labelled as estimates

    # The run page's pictures: each step's DEF by name, and every planned picture drawn from them,
    # the cells sized from this run's own GDS.
    from orchestrator.report import pictures
    from orchestrator.report.def_file import read_def

    assert {"place.detailed", "cts.clock_tree_synthesis", "route.detailed"} <= set(record.defs)
    assert all(Path(path).name == f"{design}.def.gz" for path in record.defs.values())
    planned = pictures.plan(record.defs, [s.step for s in record.steps])
    assert [(key, step) for key, step, _ in planned] == [
        ("placement density", "place.detailed"), ("clock tree", "route.detailed_antenna_repair"),
        ("routing layers", "route.detailed_antenna_repair"), ("congestion", "route.detailed_antenna_repair")]
    sizes = pictures.cell_sizes_from_gds(gds)
    log = Path(record.logs["route.global"]).read_text()
    for key, step, path in planned:
        drawn = pictures.draw(key, read_def(Path(path)), step, sizes=sizes, global_route_log=log)
        assert drawn.thumb[:8] == b"\x89PNG\r\n\x1a\n" and len(drawn.thumb) < 400_000, key
