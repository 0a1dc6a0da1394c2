"""The report on real data: the halutmatmul ORFS reference reports, imported into a fresh history."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from orchestrator import history
from orchestrator.config import load_platforms
from orchestrator.report import ArtifactRoots, build_reports
from orchestrator.report.view import INDEX_ROWS, slug
from tests.orfs_reference import reference_path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = reference_path(REPO)

orfs_import = pytest.importorskip("orchestrator.orfs_import", reason="orchestrator.orfs_import not available yet")
if not REFERENCE.is_dir():
    pytest.skip(f"ORFS reference reports not present at {REFERENCE}", allow_module_level=True)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("orfs")
    platforms = load_platforms(REPO / "platforms")
    orfs_import.import_orfs(REFERENCE, root / "history", platforms)
    records = history.load_records(root / "history")
    summary = build_reports(records, reports_dir=root / "reports", platforms=platforms, cache_dir=root / "cache",
                            roots=ArtifactRoots(imports=(REFERENCE,)))
    return records, summary, root / "reports"


def test_reference_runs_fill_the_halutmatmul_tables(imported):
    records, summary, reports = imported
    assert not summary.warnings, summary.warnings
    index = (summary.out_dir / "index.html").read_text()
    latest = history.latest(history.to_dataframe(records), passing_only=True)
    for _, row in latest.iterrows():
        for index_row in INDEX_ROWS:
            if row[index_row.metric] != row[index_row.metric]:  # NaN: the cell must give a reason
                continue
            pattern = (rf'data-design="{re.escape(html.escape(row["design"]))}" '
                       rf'data-value="{re.escape(repr(float(row[index_row.metric])))}"')
            assert re.search(pattern, index), (row["pdk"], row["design"], index_row.metric)
    for design in ("halut_encoder", "halut_decoder", "halut_matmul"):
        for pdk in ("asap7", "nangate45"):
            assert ((latest["design"] == design) & (latest["pdk"] == pdk)).any(), (design, pdk)
    markdown = (reports / "summary.md").read_text()
    assert "## asap7" in markdown and "## nangate45" in markdown and "kGE" in markdown


def test_reference_layout_images_and_gds_are_in_the_site(imported):
    _, summary, _ = imported
    assets = summary.index_assets
    adder = assets[("fp_16_32_adder", "nangate45")]
    assert adder["gds"].endswith("6_final.gds") and (summary.out_dir / adder["gds"]).is_file()
    for design in ("halut_encoder", "halut_decoder", "halut_matmul"):
        for pdk in ("asap7", "nangate45"):
            found = assets[(design, pdk)]
            assert (summary.out_dir / found["routing"]).is_file(), (design, pdk, found)
            assert (summary.out_dir / found["placement"]).is_file(), (design, pdk, found)


def test_every_reference_run_has_a_page_and_failures_say_why(imported):
    records, summary, _ = imported
    failed = [r for r in records if r.status == "fail"]
    assert failed, "the reference archive holds failed runs"
    for record in records:
        assert (summary.out_dir / "runs" / f"{slug(record.run_id)}.html").is_file()
    page = (summary.out_dir / "runs" / f"{slug(failed[0].run_id)}.html").read_text()
    assert html.escape(failed[0].reason, quote=False) in page


def test_our_runs_are_compared_with_the_orfs_run_of_the_same_design_pdk_and_clock(imported, tmp_path):
    from orchestrator.report.orfs_compare import compare_with_orfs
    from tests.synthetic_history import routed_record

    records, _, _ = imported
    ours = routed_record(tmp_path / "n45", clock_period_ns=3.0)
    ours_asap7 = routed_record(tmp_path / "a7", clock_period_ns=1.5).model_copy(
        update={"pdk": "asap7", "run_id": "asap7-decoder-1.5ns"})
    ours_odd = routed_record(tmp_path / "odd", clock_period_ns=2.5)
    rows = {(r.pdk, r.clock_period_ns): r for r in compare_with_orfs([*records, ours, ours_asap7, ours_odd]).rows}
    for (pdk, clock), row in rows.items():
        if clock == 2.5:
            continue
        # What "the ORFS run at that clock" means, straight from the imported records.
        theirs = max((r for r in records if r.source == "orfs" and r.status == "pass" and r.design == "halut_decoder"
                      and r.pdk == pdk and r.metrics.clock_period_ns == clock), key=lambda r: (r.timestamp, r.run_id))
        assert row.theirs is theirs, (pdk, clock)
        shown = {v.metric: v.theirs_value for v in row.values}
        assert shown == {"area_um2": theirs.metrics.area_um2, "stdcell_count": theirs.metrics.stdcell_count,
                         "utilization_pct": theirs.metrics.utilization_pct, "tns_ns": theirs.metrics.tns_ns}
    clocks = sorted({r.metrics.clock_period_ns for r in records if r.design == "halut_decoder"
                     and r.pdk == "nangate45" and r.status == "pass"})
    assert rows[("nangate45", 2.5)].theirs is None
    assert rows[("nangate45", 2.5)].note == (
        f"no ORFS run at 2.5 ns (ORFS ran halut_decoder on nangate45 at {', '.join(f'{c:g}' for c in clocks)} ns)")
