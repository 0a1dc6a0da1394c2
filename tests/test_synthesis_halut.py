"""Real SiliconCompiler synthesis of small halut variants through the pyosys Yosys bridge.

Checks the scraped metrics against the design: cells > 0, GE = area / reference NAND2 area,
and the storage the parameters imply (flops for mem_style=flop, latches for mem_style=latch).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import halut
from orchestrator import history
from tests.conftest import write_design_project
from tests.test_cli import run_cli

# Liberty latch cells (D latches, either enable polarity) per library.
LATCH_CELL = {"nangate45": re.compile(r"^\s*(DLH|DLL)_X\d+\s", re.M),
              "asap7": re.compile(r"^\s*(DHL|DLL)x\d+_ASAP7_75t_R\s", re.M)}

CASES = [
    # design, pdk, parameters
    ("halut_encoder", "nangate45", {"C": 4, "M": 2, "DU": 1, "dtype": "int8", "mem_style": "flop"}),
    ("halut_decoder", "asap7", {"C": 4, "M": 2, "DU": 1, "dtype": "int8", "mem_style": "latch"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("design, pdk, params", CASES, ids=[f"{d}-{p}-{q['mem_style']}" for d, p, q in CASES])
def test_halut_synthesis_metrics_match_the_design(tmp_path, pdk_data_root, hide_tools, design, pdk, params):
    config = write_design_project(tmp_path, pdk_data_root, pdk, design, params)
    proc = run_cli(config, "run", "--pdk", pdk, env=hide_tools())  # synthesis only, whatever is installed
    assert proc.returncode == 0, proc.stderr
    (record,) = history.load_records(tmp_path / "reports" / "history")
    platform_ge = {"asap7": 0.08748, "nangate45": 0.798}[pdk]
    m = record.metrics
    assert record.status == "partial" and record.stage_reached == "synthesis"
    assert m.stdcell_count > 0 and m.area_um2 > 0
    assert m.ge == pytest.approx(m.area_um2 / platform_ge)

    storage = halut.expected_storage_bits(design, params)
    netlist = Path(record.build_dir) / design / "job0" / "synthesis" / "0" / "outputs" / f"{design}.vg"
    latches = len(LATCH_CELL[pdk].findall(netlist.read_text()))
    if params["mem_style"] == "flop":
        # every storage bit is a flop; pipeline/control adds a little, never a whole second copy
        assert storage["memory_bits"] <= m.register_count < storage["memory_bits"] + 200
        assert latches == 0 and m.latch_count == 0 and m.flop_count == m.register_count
    else:
        # one latch per bit plus the memory's write enable and address latches (one memory here)
        assert latches == storage["memory_bits"] + storage["write_address_latches"]
        assert m.latch_count == latches and m.flop_count == m.register_count - latches
        assert m.flop_count < storage["memory_bits"]  # the array itself holds no flops
