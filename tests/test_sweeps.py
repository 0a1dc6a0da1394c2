"""Sweep blocks of config.yaml: expansion into jobs, labels, selection, and one-line config errors."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.jobs import load_project, select_jobs
from orchestrator.record import Metrics, RunRecord
from orchestrator.report import build_site, design_space
from tests.conftest import write_project
from tests.test_cli import error_lines, history_files, run_cli


def toy_config(tmp_path: Path, extra: str = "", *, width: int = 8, pdks: str = "[asap7, nangate45]",
               data_root: Path | None = None) -> Path:
    """A toy-counter project (like the toy_project fixture) with more top-level YAML appended."""
    design = f"  - {{name: counter, generator: toygen, parameters: {{WIDTH: {width}}}}}\n"
    return write_project(tmp_path, f"pdk_data_root: {data_root or 'null'}\npdks: {pdks}\ndesigns:\n{design}"
                                   + textwrap.dedent(extra))


@pytest.fixture
def toy_project(tmp_path):
    def make(extra: str = "", **kwargs) -> Path:
        return toy_config(tmp_path, extra, **kwargs)

    return make

GRID_SWEEP = """\
sweeps:
  - name: widths
    design: counter
    generator: toygen
    grid: {WIDTH: [4, 16]}
    clock_period: {asap7: [1000, 2000], nangate45: [2.5]}
"""


def sweep_jobs(config, **kwargs):
    names = [s.name for s in config.sweeps]
    return select_jobs(config, pdks=list(config.pdks), include_matrix=False, sweeps=names, **kwargs)


def test_grid_crosses_every_value_with_every_clock_period_of_each_pdk(toy_project):
    config = load_project(toy_project(extra=GRID_SWEEP))
    jobs = sweep_jobs(config)
    points = sorted((j.platform.name, j.parameters["WIDTH"], j.spec.clock_period[j.platform.name]) for j in jobs)
    assert points == [("asap7", 4, 1000), ("asap7", 4, 2000), ("asap7", 16, 1000), ("asap7", 16, 2000),
                      ("nangate45", 4, 2.5), ("nangate45", 16, 2.5)]
    assert {j.spec.label for j in jobs if j.platform.name == "asap7"} == {
        "widths.WIDTH=4,period=1000", "widths.WIDTH=4,period=2000",
        "widths.WIDTH=16,period=1000", "widths.WIDTH=16,period=2000"}


def test_every_point_gets_its_own_build_directory(toy_project):
    config = load_project(toy_project(extra=GRID_SWEEP))
    jobs = sweep_jobs(config)
    assert len({j.build_dir(config) for j in jobs}) == len(jobs) == 6


def test_points_list_overrides_shared_parameters_and_names_only_swept_axes(toy_project):
    config = load_project(toy_project(extra="""\
        sweeps:
          - name: pick
            design: counter
            generator: toygen
            parameters: {WIDTH: 8}
            points: [{WIDTH: 3}, {}]
            pdks: [nangate45]
        """))
    jobs = sweep_jobs(config)
    assert [(j.parameters["WIDTH"], j.spec.label, j.platform.name) for j in jobs] == [
        (3, "pick.WIDTH=3", "nangate45"), (8, "pick", "nangate45")]
    assert jobs[0].record_parameters == {"WIDTH": 3, "label": "pick.WIDTH=3"}


def test_clock_only_sweep_keeps_the_platform_default_elsewhere(toy_project):
    config = load_project(toy_project(extra="""\
        sweeps:
          - name: fmax
            design: counter
            generator: toygen
            clock_period: {nangate45: [2.0, 4.0]}
        """))
    jobs = sweep_jobs(config)
    assert sorted((j.platform.name, j.spec.clock_period.get(j.platform.name)) for j in jobs) == [
        ("asap7", None), ("nangate45", 2.0), ("nangate45", 4.0)]


def test_sweep_point_equal_to_a_matrix_entry_is_not_run_twice(toy_project):
    config = load_project(toy_project(width=8, extra="""\
        sweeps:
          - name: w
            design: counter
            generator: toygen
            grid: {WIDTH: [8, 9]}
        """))
    jobs = select_jobs(config, pdks=["nangate45"], sweeps=["w"])
    assert [(j.parameters["WIDTH"], j.spec.label) for j in jobs] == [(8, None), (9, "w.WIDTH=9")]


def test_param_override_applies_to_sweeps_but_not_to_a_swept_axis(toy_project):
    config = load_project(toy_project(extra=GRID_SWEEP))
    with pytest.raises(ConfigError, match="--param: 'WIDTH' is swept by sweep 'widths'"):
        sweep_jobs(config, overrides={"WIDTH": 5})


@pytest.mark.parametrize("block, expected", [
    ("grid: {WIDTH: [4]}\npoints: [{WIDTH: 5}]", "key 'sweeps[0].points': give 'grid' or 'points', not both"),
    ("grid: {WIDTH: []}", "key 'sweeps[0].grid.WIDTH': must list at least one value (value: [])"),
    ("grid: {WIDTH: [4, 0]}", "key 'sweeps[0].grid': point WIDTH=0: design 'counter': parameter 'WIDTH': "
                              "must be a positive int (value: 0)"),
    ("points: [{WIDTH: 4}, {DEPTH: 2}]", "key 'sweeps[0].points[1]': point DEPTH=2: design 'counter': "
                                         "parameter 'DEPTH': unknown"),
    ("clock_period: {sky130: [5.0]}", "key 'sweeps[0].clock_period.sky130': unknown PDK (value: 'sky130')"),
    ("clock_period: {asap7: [1000, -5]}", "key 'sweeps[0].clock_period.asap7': periods must be > 0 (value: -5"),
    ("grid: {clock_period: [1, 2]}", "key 'sweeps[0].grid.clock_period': clock periods go under"),
    ("pdks: [asap7]\nclock_period: {nangate45: [3.0]}",
     "key 'sweeps[0].clock_period.nangate45': PDK is not swept (sweep pdks: asap7)"),
    ("parameters: {WIDTH: 4}", "key 'sweeps[0]': nothing to sweep"),
    ("grid: {WIDTH: 4}", "key 'sweeps[0].grid.WIDTH': Input should be a valid list (value: 4)"),
])
def test_bad_sweep_is_one_line_naming_file_key_and_value(toy_project, block, expected):
    sweep = "sweeps:\n  - name: s\n    design: counter\n    generator: toygen\n"
    config = toy_project(extra=sweep + textwrap.indent(block + "\n", "    "))
    with pytest.raises(ConfigError) as info:
        load_project(config)
    message = str(info.value)
    assert message.startswith(f"{config}: ") and expected in message and "\n" not in message


def test_duplicate_sweep_name_is_an_error(toy_project):
    sweep = "  - {name: s, design: counter, generator: toygen, grid: {WIDTH: [4]}}\n"
    config = toy_project(extra="sweeps:\n" + sweep + sweep)
    with pytest.raises(ConfigError, match=r"key 'sweeps\[1\].name': listed twice \(value: 's'\)"):
        load_project(config)


def test_unknown_sweep_on_the_command_line_is_one_line_exit_2(toy_project):
    config = toy_project(extra=GRID_SWEEP)
    proc = run_cli(config, "run", "--sweep", "lengths")
    assert proc.returncode == 2
    assert error_lines(proc) == ["error: --sweep: unknown sweep 'lengths' (config.yaml has: widths)"]
    assert history_files(config) == []


# ----------------------------------------------------------------------------- design-space report page


def space_record(run_id: str, *, C: int, period_ns: float, ge: float, minutes: int = 0, status: str = "partial",
                 fmax: float | None = None) -> RunRecord:
    return RunRecord(
        run_id=run_id, design="halut_encoder", pdk="nangate45", status=status,
        parameters={"C": C, "K": 16, "M": 4, "label": f"ck.C={C},period={period_ns:g}"},
        timestamp=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        metrics=Metrics(area_um2=ge * 0.798, ge=ge, clock_period_ns=period_ns, target_freq_mhz=1000 / period_ns,
                        fmax_mhz=fmax),
        metrics_origin="synthesis")


def test_pareto_front_keeps_the_points_no_other_beats_on_both_axes():
    xs = [100.0, 200.0, 300.0, 300.0, 150.0]
    ys = [10.0, 20.0, 25.0, 30.0, 30.0]
    assert design_space.pareto_front(xs, ys) == [0, 1, 2]
    assert design_space.pareto_front([500.0, 500.0, 250.0], [14.0, 14.0, 14.0]) == [0, 1]  # ties stay together


def test_design_space_shows_each_configuration_once_with_its_newest_usable_run():
    records = [space_record("old", C=16, period_ns=2.0, ge=100, minutes=0),
               space_record("new", C=16, period_ns=2.0, ge=110, minutes=5),
               space_record("broken", C=16, period_ns=2.0, ge=1, minutes=9, status="fail"),
               space_record("other", C=32, period_ns=2.0, ge=200)]
    shown = design_space.latest_per_configuration(records)
    assert [r.run_id for r in shown] == ["new", "other"]
    assert design_space.point_labels(shown) == ["C=16, 2 ns", "C=32, 2 ns"]


def test_report_has_a_design_space_page_whose_points_link_to_their_runs(tmp_path):
    records = [space_record(f"run-{c}-{p}", C=c, period_ns=p, ge=ge, minutes=i)
               for i, (c, p, ge) in enumerate([(16, 2.0, 900), (16, 3.0, 800), (32, 2.0, 1700), (32, 3.0, 1500)])]
    site = tmp_path / "site"
    build_site(records, site)
    page = site / "design-space" / "nangate45" / "halut_encoder.html"
    html = page.read_text()
    assert html.count("<svg") == 2  # target frequency and C·K·M; no fmax figures in these runs
    for record in records:
        href = f"../../runs/{record.run_id}.html"
        assert f'href="{href}"' in html
        assert (page.parent / href).resolve().is_file()
    assert "Pareto front" in html
    index = (site / "design-space" / "index.html").read_text()
    assert 'href="nangate45/halut_encoder.html"' in index
