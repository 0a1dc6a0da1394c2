"""Generic code asks the design's generator for what only it knows (the design-space size axis, ORFS
design names) and works without an answer."""

from __future__ import annotations

from datetime import UTC, datetime

import halut
from orchestrator import designs
from orchestrator.orfs_import import design_from_orfs_name
from orchestrator.record import Metrics, RunRecord
from orchestrator.report import design_space


def point_record(design: str, **parameters) -> RunRecord:
    return RunRecord(run_id=f"{design}-{len(parameters)}", design=design, pdk="nangate45", status="partial",
                     parameters=parameters, timestamp=datetime(2026, 3, 1, tzinfo=UTC),
                     metrics=Metrics(area_um2=100.0, ge=125.0, clock_period_ns=2.0, target_freq_mhz=500.0),
                     metrics_origin="synthesis")


def test_halut_size_axis_is_the_lut_entry_count_c_k_m():
    assert halut.size_axis({"C": 4, "K": 16, "M": 2}) == ("C·K·M", "C·K·M (codebooks × prototypes × outputs)", 128.0)
    assert halut.size_axis({"C": 4, "K": 16}) is None  # an imported ORFS run knows only some parameters
    assert halut.size_axis({"C": 4, "K": 16, "M": True}) is None


def test_design_space_takes_its_size_axis_from_the_generator_that_renders_the_design():
    axis = design_space.size_axis([point_record("halut_encoder", C=4, K=16, M=2)])
    assert axis is not None and axis.name == "C·K·M"
    assert axis.value(point_record("halut_encoder", C=8, K=16, M=2)) == 256.0
    # Same parameter names, but no known generator renders this design: no size axis.
    assert design_space.size_axis([point_record("fp_16_32_adder", C=4, K=16, M=2)]) is None


def test_without_generator_hooks_design_space_plots_frequencies_only_and_orfs_names_stay_designs(monkeypatch):
    monkeypatch.setattr(designs, "KNOWN_GENERATORS", ())
    record = point_record("halut_encoder", C=4, K=16, M=2)
    points = [design_space.Point(record, "x.html", "")]
    assert [f.name for f in design_space.figures(points, "GE [GE]")] == ["target frequency", "fmax"]
    assert design_from_orfs_name("halut_encoder_4__17362383611500494131") == (
        "halut_encoder_4", {"orfs_design": "halut_encoder_4"})


def test_a_generator_that_cannot_be_imported_has_no_hooks():
    assert designs.generator_hooks("size_axis", generators=("no_such_generator_pkg",)) == []
