"""The full flow through OpenROAD, OpenSTA and KLayout, for machines that have them.

Skips, naming the missing tool, where they are absent; the SC-side construction of the P&R
flow and its metric scrape are covered without the tools in test_flow.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator import history
from tests.test_cli import run_cli

PNR_TOOLS = ("openroad", "sta", "klayout")
missing = [tool for tool in PNR_TOOLS if shutil.which(tool) is None]


@pytest.mark.slow
@pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed (needed for P&R, STA and GDS export)")
@pytest.mark.parametrize("pdk", ["nangate45", "asap7"])
def test_full_flow_reaches_gds_with_pnr_metrics(toy_project, pdk_data_root, pdk):
    config = toy_project(data_root=pdk_data_root, pdks=f"[{pdk}]", width=16)
    proc = run_cli(config, "run", "--require-all-stages", timeout=3600)
    assert proc.returncode == 0, proc.stderr
    (record,) = history.load_records(config.parent / "reports" / "history")
    m = record.metrics
    assert record.status == "pass" and record.skipped_stages == []
    assert record.metrics_origin in ("route", "finish")
    assert m.area_um2 > 0 and m.stdcell_count > 0 and m.register_count == 16
    assert 0 < m.utilization_pct < 100
    assert m.wns_ns is not None and m.tns_ns is not None and m.tns_ns <= 0
    assert m.fmax_mhz is not None and m.fmax_mhz > 0
    assert record.gds is not None and Path(record.gds).is_file()
