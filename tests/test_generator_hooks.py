"""Generic code asks the design's generator for what only it knows (the design-space size axis, ORFS
design names) and works without an answer."""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime

import pytest

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


# ----------------------------------------------------------------------------- discovery by entry point

FAKE_GENERATOR = '''
"""A generator of a test: one design, a size axis of its WIDTH."""

DESIGNS = ["fake_top"]


def validate_params(design, params):
    return {"WIDTH": 8, **params}


def render(design, params, out_dir):
    raise ValueError("not rendered in this test")


def size_axis(parameters):
    return ("width", "WIDTH [bits]", float(parameters["WIDTH"])) if "WIDTH" in parameters else None
'''


def install_dist(root, name: str, entry_points: str) -> None:
    """A minimal installed distribution in ``root``: METADATA and entry_points.txt in a dist-info."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{designs.GENERATOR_GROUP}]\n{entry_points}\n", encoding="utf-8")


@pytest.fixture
def site_packages(tmp_path, monkeypatch):
    """A folder on sys.path, and discovery forgotten before and after the test."""
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    designs.clear_generator_cache()
    yield root
    designs.clear_generator_cache()


def test_a_generator_declared_by_an_entry_point_is_found_and_asked(site_packages):
    (site_packages / "fake_gen_pkg").mkdir()
    (site_packages / "fake_gen_pkg" / "__init__.py").write_text(FAKE_GENERATOR, encoding="utf-8")
    install_dist(site_packages, "fake-gen", "fake = fake_gen_pkg")
    assert "fake" in designs.known_generators() and "halut" in designs.known_generators()
    assert designs.load_generator("fake").DESIGNS == ["fake_top"]  # a design entry's `generator: fake`
    assert designs.validate_parameters("fake", "fake_top", {}) == {"WIDTH": 8}
    axis = design_space.size_axis([point_record("fake_top", WIDTH=16)])
    assert axis is not None and axis.name == "width" and axis.value(point_record("fake_top", WIDTH=32)) == 32.0
    # The built-in generator is still asked about its own designs.
    assert design_space.size_axis([point_record("halut_encoder", C=4, K=16, M=2)]).name == "C·K·M"


def test_the_builtin_generator_is_found_without_installed_metadata(site_packages, monkeypatch):
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **_: [])  # a plain checkout: no dist-info
    designs.clear_generator_cache()
    assert designs.known_generators() == designs.BUILTIN_GENERATORS == ("halut",)
    assert designs.generator_hooks("size_axis", design="halut_encoder") == [halut.size_axis]


def test_a_broken_entry_point_is_one_error_line_naming_it(site_packages):
    install_dist(site_packages, "broken-gen", "broken = no_such_module_for_a_generator:GENERATOR")
    with pytest.raises(designs.DesignError) as raised:
        designs.generator_hooks("size_axis", design="halut_encoder")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("generator entry point 'broken = no_such_module_for_a_generator:GENERATOR' "
                              f"(group {designs.GENERATOR_GROUP} of broken-gen 1.0) cannot be loaded: "
                              "ModuleNotFoundError:")
    with pytest.raises(designs.DesignError, match="^generator entry point 'broken = "):
        designs.load_generator("broken")
