"""ORFS import: every run folder layout of the halutmatmul archive, broken runs, idempotence.

Small runs are written into tmp_path with values taken from real ORFS files; the last tests read
the real archive (../shared/reference/halutmatmul-openroad-reports or $HALUT_ORFS_REFERENCE).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.config import load_platforms
from orchestrator.history import iter_record_files, load_records
from orchestrator.orfs_import import (
    OrfsImportError,
    design_from_orfs_name,
    discover_runs,
    import_orfs,
    parse_clocks,
    parse_runtime_s,
    parse_synth_stat,
    parse_time_unit_ns,
    run_to_record,
)
from tests.orfs_reference import REFERENCE_ENV, REFERENCE_RELATIVE, find_reference

REPO_ROOT = Path(__file__).resolve().parent.parent

SYNTH_STAT_HIER = """\
45. Printing statistics.

=== fp_16_32_adder ===

   Number of cells:                153
     XOR2x2_ASAP7_75t_R            103

   Chip area for module '\\fp_16_32_adder': 15.775560

=== halut_decoder ===

   Number of cells:                352

   Chip area for module '\\halut_decoder': 55.024920

=== design hierarchy ===

   halut_decoder                     1
     fp_16_32_adder                  1

   Number of cells:              31244
     AND2x2_ASAP7_75t_R            158

   Chip area for top module '\\halut_decoder': 4291.462620
"""

SYNTH_STAT_FLAT = """\
=== halut_decoder__2864165611389228789 ===

   Number of wires:              10061
   Number of cells:               9992
     AND2_X1                        21

   Chip area for module '\\halut_decoder__2864165611389228789': 19082.042000
"""


@pytest.fixture(scope="module")
def platforms():
    return load_platforms(REPO_ROOT / "platforms")


def metrics_2022(**overrides) -> dict:
    """A 2022-flow metrics dict (asap7, ps), values from latest/asap7/halut_decoder."""
    data = {
        "run__flow__generate_date": "2022-11-02 15:24",
        "run__flow__metrics_version": "Metrics_2.1.2",
        "run__flow__openroad_version": "b7631451350809842e4fb0c635c3f3ed7f6b270f",
        "run__flow__openroad_commit": "N/A",
        "run__flow__scripts_commit": "860be61ea1057121e0523a659faefd40e0e78fc0",
        "run__flow__uuid": "32d1731f-7662-4967-a52f-8ddb59fbf8dd",
        "run__flow__design": "halut_decoder",
        "run__flow__platform": "asap7",
        "run__flow__platform__time_units": "1ps",
        "floorplan__timing__setup__tns": -6644904.0,
        "floorplan__timing__setup__ws": -43114.1211,
        "floorplan__design__instance__area": 4139.1602,
        "floorplan__design__instance__count__stdcell": 29297,
        "floorplan__design__instance__utilization": 0.3867,
        "finish__timing__setup__tns": -11340.5098,
        "finish__timing__setup__ws": -276.58,
        "finish__design__instance__count": 33709,
        "finish__design__instance__area": 4749.8286,
        "finish__design__instance__count__stdcell": 33709,
        "finish__design__instance__utilization": 0.4437,
        "synth__design__instance__count__stdcell": 31244.0,
        "synth__design__instance__area__stdcell": 55.02492,
        "synth__runtime__total": "0:51.53",
        "constraints__clocks__count": 1,
        "constraints__clocks__details": ["clk_i: 1500.0000"],
        "floorplan__runtime__total": "0:01.88",
        "finish__runtime__total": "0:58.62",
        "total_time": "0:02:33.460000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def metadata_2023(**overrides) -> dict:
    """A 2023-flow metadata.json dict (nangate45, ns), values from latest/nangate45/halut_decoder."""
    data = {
        "constraints__clocks__count": 1,
        "constraints__clocks__details": ["clk_all: 6.0000"],
        "detailedroute__runtime__total": "3:58.50",
        "finish__design__core__area": 47373.3,
        "finish__design__die__area": 49468.4,
        "finish__design__instance__area": 24667.5,
        "finish__design__instance__count__stdcell": 12256,
        "finish__design__instance__utilization": 0.520705,
        "finish__power__total": 0.0026423,
        "finish__runtime__total": "0:19.89",
        "finish__timing__setup__tns": -0.0224603,
        "finish__timing__setup__ws": -0.0116707,
        "run__flow__design": "halut_decoder__2864165611389228789",
        "run__flow__generate_date": "2023-12-10 17:47",
        "run__flow__metrics_version": "Metrics_2.1.2",
        "run__flow__openroad_version": "353633e018e57e35041db2841116ba382830b97b",
        "run__flow__platform": "nangate45",
        "run__flow__platform__time_units": "1ns",
        "run__flow__scripts_commit": "3c5adbe5efbf246c0c60a0326a8272198ab2d2d5",
        "run__flow__uuid": "b8d993b1-9df1-4b60-921a-21bb72b3eac3",
        "synth__design__instance__area__stdcell": 19082.042,
        "synth__design__instance__count__stdcell": 9992.0,
        "synth__runtime__total": "0:17.71",
        "total_time": "0:05:50.520000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    return path


def write_2022_run(
    run: Path, data: dict, *, pdk: str = "asap7", unit: str = "halut_decoder", as_list=True, finished=True
) -> Path:
    """metrics.json at the top (list of one dict or a dict), its copy and step logs below."""
    write_json(run / "metrics.json", [data] if as_list else data)
    base = run / "reports" / pdk / unit / "base"
    write_json(base / "metrics.json", data)
    (base / "synth_stat.txt").write_text(SYNTH_STAT_HIER, encoding="utf-8")
    logs = run / "logs" / pdk / unit / "base"
    write_json(logs / "2_1_floorplan.json", {"floorplan__timing__setup__ws": -43114.1211})
    if finished:
        write_json(logs / "6_report.json", {"finish__timing__setup__ws": -276.58})
    return run


def write_2023_run(run: Path, data: dict | None) -> Path:
    """reports/metadata.json (plain dict), synth_stat.txt and the .done marker."""
    reports = run / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (run / ".done").touch()
    (reports / "synth_stat.txt").write_text(SYNTH_STAT_FLAT, encoding="utf-8")
    if data is not None:
        write_json(reports / "metadata.json", data)
    return run


def record_for(run_dir: Path, platforms):
    (run,) = [r for r in discover_runs(run_dir.parent) if r.path == run_dir.resolve()]
    return run_to_record(run, platforms)


# ---------------------------------------------------------------------------------------------
# File shapes and unit conversion


def test_metadata_json_dict_maps_finish_metrics_with_units(tmp_path, platforms):
    run = write_2023_run(tmp_path / "nangate45" / "halut_decoder" / "2023-12-10-17-48-17" / "halut_decoder",
                         metadata_2023())
    record = record_for(run, platforms)

    assert record.status == "pass" and record.reason is None
    assert record.source == "orfs" and record.pdk == "nangate45" and record.design == "halut_decoder"
    assert record.metrics_origin == "finish" and record.stage_reached == "finish"
    m = record.metrics
    assert m.area_um2 == pytest.approx(24667.5)
    assert m.stdcell_count == 12256
    assert m.utilization_pct == pytest.approx(52.0705)
    assert m.power_mw == pytest.approx(2.6423)  # ORFS reports watts
    assert m.die_area_um2 == pytest.approx(49468.4) and m.core_area_um2 == pytest.approx(47373.3)
    assert m.clock_period_ns == pytest.approx(6.0) and m.target_freq_mhz == pytest.approx(1000 / 6)
    assert m.wns_ns == pytest.approx(-0.0116707) and m.tns_ns == pytest.approx(-0.0224603)
    assert m.fmax_mhz == pytest.approx(1000 / (6.0 + 0.0116707))
    assert m.ge == pytest.approx(24667.5 / 0.798)
    assert m.voltage_v == pytest.approx(1.1) and record.metric_steps["voltage_v"] == "platform"
    assert record.metric_steps["area_um2"] == "finish" and record.metric_steps["clock_period_ns"] == "constraints"
    assert record.timestamp == datetime(2023, 12, 10, 17, 47, tzinfo=UTC)
    assert record.tool_versions["openroad"].startswith("353633e0")
    runtimes = {s.step: s.runtime_s for s in record.steps}
    assert runtimes["detailedroute"] == pytest.approx(238.5) and runtimes["synth"] == pytest.approx(17.71)
    assert record.source_path == str(run.resolve())


def test_metrics_json_list_of_one_dict_converts_ps_to_ns(tmp_path, platforms):
    run = write_2022_run(tmp_path / "asap7" / "2022-11-02-15-24-39" / "halut_decoder", metrics_2022())
    record = record_for(run, platforms)

    assert record.status == "pass" and record.pdk == "asap7"
    m = record.metrics
    assert m.clock_period_ns == pytest.approx(1.5) and m.target_freq_mhz == pytest.approx(666.6667)
    assert m.tns_ns == pytest.approx(-11.3405098) and m.wns_ns == pytest.approx(-0.27658)
    assert m.fmax_mhz == pytest.approx(1000 / (1.5 + 0.27658))
    assert m.area_um2 == pytest.approx(4749.8286) and m.ge == pytest.approx(54296.166, rel=1e-6)
    assert m.utilization_pct == pytest.approx(44.37)
    assert m.power_mw is None  # 2022 files carry no power: missing, not 0
    assert m.voltage_v == pytest.approx(0.77)
    assert [s.step for s in record.steps][:2] == ["synth", "floorplan"]
    assert record.steps[-1].step == "finish" and record.steps[-1].runtime_s == pytest.approx(58.62)
    assert record.logs["floorplan"].endswith("2_1_floorplan.json")
    assert "openroad_commit" not in record.tool_versions  # "N/A" is not a version


def test_metrics_json_plain_dict_is_read(tmp_path, platforms):
    run = write_2022_run(tmp_path / "asap7" / "2022-11-02-15-24-39" / "halut_decoder", metrics_2022(), as_list=False)
    record = record_for(run, platforms)
    assert record.status == "pass" and record.metrics.area_um2 == pytest.approx(4749.8286)


@pytest.mark.parametrize(
    ("pdk", "ws", "expected_wns_ns"),
    [("asap7", -276.58, -0.27658), ("nangate45", -0.17, -0.17)],
)
def test_missing_time_unit_falls_back_to_the_platform(tmp_path, platforms, pdk, ws, expected_wns_ns):
    period = "1500.0000" if pdk == "asap7" else "3.0000"
    data = metrics_2022(
        run__flow__platform=pdk,
        run__flow__platform__time_units=None,
        finish__timing__setup__ws=ws,
        constraints__clocks__details=[f"clk_i: {period}"],
    )
    run = write_2022_run(tmp_path / pdk / "2022-08-31-15-10-54" / "halut_decoder", data, pdk=pdk)
    record = record_for(run, platforms)
    assert record.metrics.wns_ns == pytest.approx(expected_wns_ns)
    assert record.metrics.clock_period_ns == pytest.approx(1.5 if pdk == "asap7" else 3.0)


def test_string_and_int_values_are_numbers(tmp_path, platforms):
    data = metadata_2023(
        finish__design__instance__area="24667.5",
        finish__design__instance__count__stdcell="12256",
        finish__timing__setup__tns=0,
        finish__power__total="N/A",
    )
    run = write_2023_run(tmp_path / "nangate45" / "halut_decoder" / "2023-09-18-14-15-51" / "halut_decoder", data)
    m = record_for(run, platforms).metrics
    assert m.area_um2 == pytest.approx(24667.5) and m.stdcell_count == 12256 and m.tns_ns == 0.0
    assert m.power_mw is None


def test_uniquifying_suffix_is_stripped_from_design_and_parameters():
    # The suffix differs per run; in the parameters it would split every trend into single points.
    assert design_from_orfs_name("halut_decoder__2864165611389228789") == (
        "halut_decoder",
        {"orfs_design": "halut_decoder"},
    )
    assert design_from_orfs_name("fp_16_32_adder__6142509188972423790")[0] == "fp_16_32_adder"


def test_encoder_wrapper_maps_to_halut_encoder_with_its_unit_count():
    design, parameters = design_from_orfs_name("halut_encoder_4__17362383611500494131")
    assert design == "halut_encoder"
    assert parameters == {"EncUnits": 4, "orfs_design": "halut_encoder_4"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0:51.53", 51.53),
        ("3:58.50", 238.5),
        ("0:02:33.460000", 153.46),
        ("1:00:00", 3600.0),
        ("1 day, 0:00:01", 86401.0),
        (12.5, 12.5),
        ("17", 17.0),
        ("N/A", None),
        ("soon", None),
        ("1:2:3:4", None),
    ],
)
def test_runtime_strings(text, seconds):
    result = parse_runtime_s(text)
    assert result == (pytest.approx(seconds) if seconds is not None else None)


def test_time_units_and_clock_strings():
    assert parse_time_unit_ns("1ps") == pytest.approx(1e-3)
    assert parse_time_unit_ns("1ns") == 1.0
    assert parse_time_unit_ns("10ps") == pytest.approx(1e-2)
    with pytest.raises(ValueError):
        parse_time_unit_ns("1v")
    assert parse_clocks(["clk_i: 1500.0000"]) == [("clk_i", 1500.0)]
    assert parse_clocks("clk: 6.0") == [("clk", 6.0)]
    with pytest.raises(ValueError):
        parse_clocks(["clk_i"])


def test_synth_stat_total_is_the_hierarchy_top_not_a_submodule():
    assert parse_synth_stat(SYNTH_STAT_HIER).area_um2 == pytest.approx(4291.46262)
    assert parse_synth_stat(SYNTH_STAT_HIER).cell_count == 31244
    flat = parse_synth_stat(SYNTH_STAT_FLAT)
    assert flat.area_um2 == pytest.approx(19082.042) and flat.cell_count == 9992
    assert parse_synth_stat("nothing here").area_um2 is None


# ---------------------------------------------------------------------------------------------
# Broken runs


def test_truncated_metrics_file_fails_with_reason_and_import_continues(tmp_path, platforms):
    good = write_2023_run(tmp_path / "nangate45" / "halut_decoder" / "2023-09-18-14-15-51" / "halut_decoder",
                          metadata_2023())
    bad = tmp_path / "nangate45" / "halut_decoder" / "2023-09-18-14-19-59" / "halut_decoder"
    write_2023_run(bad, None)
    text = json.dumps(metadata_2023(run__flow__uuid="another-run"), indent=2)
    (bad / "reports" / "metadata.json").write_text(text[: len(text) // 2], encoding="utf-8")

    summary = import_orfs(tmp_path, tmp_path / "history", platforms)

    assert summary.found == 2 and summary.imported == 2 and summary.failed_runs == 1 and summary.errors == 0
    by_path = {o.path: o for o in summary.outcomes}
    assert by_path[good.resolve()].status == "pass"
    failed = by_path[bad.resolve()]
    assert failed.status == "fail" and "metadata.json: truncated JSON" in failed.reason
    (record,) = [r for r in load_records(tmp_path / "history") if r.status == "fail"]
    # Only real figures survive: synthesis area from synth_stat.txt, nothing from P&R, no zeros.
    assert record.metrics_origin == "synthesis" and record.metrics.area_um2 == pytest.approx(19082.042)
    assert record.metrics.utilization_pct is None and record.metrics.wns_ns is None
    assert record.metrics.clock_period_ns is None
    assert record.timestamp == datetime(2023, 9, 18, 14, 19, 59, tzinfo=UTC)


def test_a_truncated_copy_does_not_matter_when_the_other_copy_reads(tmp_path, platforms):
    # The 2022 flow keeps the same metrics twice: <run>/metrics.json and reports/.../base/metrics.json.
    run = write_2022_run(tmp_path / "asap7" / "2022-11-02-15-24-39" / "halut_decoder", metrics_2022())
    (run / "metrics.json").write_text('[\n  {\n    "run__flow__design": "halut_dec', encoding="utf-8")
    record = record_for(run, platforms)
    assert record.status == "pass" and record.reason is None
    assert record.metrics.area_um2 == pytest.approx(4749.8286)


def test_folder_with_one_step_log_is_a_floorplan_crash(tmp_path, platforms):
    run = tmp_path / "asap7" / "2022-09-17-22-19-28" / "fp_16_32_adder"
    write_json(
        run / "logs" / "asap7" / "fp_16_32_adder" / "base" / "2_1_floorplan.json",
        {
            "run__flow__platform__time_units": "1ps",
            "floorplan__timing__setup__tns": -54980.2891,
            "floorplan__timing__setup__ws": -1854.39,
        },
    )
    record = record_for(run, platforms)

    assert record.status == "fail"
    assert record.reason.startswith("floorplan crashed") and "2_1_floorplan" in record.reason
    assert record.design == "fp_16_32_adder" and record.pdk == "asap7"
    assert record.stage_reached == "floorplan"
    assert [(s.step, s.status) for s in record.steps] == [("floorplan", "success"), ("floorplan_io", "error")]
    assert record.metrics.wns_ns == pytest.approx(-1.85439) and record.metric_steps["wns_ns"] == "floorplan"
    assert record.metrics.area_um2 is None and record.metrics.clock_period_ns is None
    assert record.timestamp == datetime(2022, 9, 17, 22, 19, 28, tzinfo=UTC)


def test_run_without_metrics_fails_and_keeps_only_the_synthesis_estimate(tmp_path, platforms):
    run = write_2023_run(tmp_path / "nangate45" / "halut_encoder_4" / "2023-08-14-14-09-26" / "halut_encoder_4", None)
    record = record_for(run, platforms)

    assert record.status == "fail" and "no metrics file" in record.reason
    assert record.design == "halut_encoder" and record.parameters["EncUnits"] == 4
    assert record.metrics_origin == "synthesis" and record.metric_steps["area_um2"] == "synth"
    assert record.metrics.area_um2 == pytest.approx(19082.042) and record.metrics.stdcell_count == 9992
    assert record.metrics.utilization_pct is None and record.metrics.tns_ns is None
    assert record.stage_reached == "synth"


def test_empty_run_folder_fails_without_any_design_metric(tmp_path, platforms):
    run = tmp_path / "nangate45" / "halut_decoder" / "2023-08-14-15-08-05" / "halut_decoder"
    run.mkdir(parents=True)
    (run / ".done").touch()
    record = record_for(run, platforms)
    assert record.status == "fail" and "no metrics file" in record.reason
    assert record.metrics_origin is None and record.stage_reached is None
    assert set(record.metrics.model_dump(exclude_none=True)) == {"voltage_v"}


def test_metrics_file_without_finish_is_partial(tmp_path, platforms):
    data = {k: v for k, v in metrics_2022().items() if not k.startswith("finish__")}
    run = write_2022_run(tmp_path / "asap7" / "2022-11-02-15-24-39" / "halut_decoder", data, finished=False)
    record = record_for(run, platforms)
    assert record.status == "partial" and "stopped after floorplan" in record.reason
    assert record.metrics_origin == "floorplan" and record.metrics.area_um2 == pytest.approx(4139.1602)


def test_zero_slack_gives_no_fmax(tmp_path, platforms):
    data = metadata_2023(finish__timing__setup__ws=0, finish__timing__setup__tns=0)
    run = write_2023_run(tmp_path / "nangate45" / "halut_decoder" / "2023-09-18-14-15-51" / "halut_decoder", data)
    record = record_for(run, platforms)
    assert record.metrics.wns_ns == 0.0 and record.metrics.fmax_mhz is None
    assert "fmax_mhz" not in record.metric_steps


def test_unknown_platform_is_reported_not_imported(tmp_path, platforms):
    write_2023_run(tmp_path / "sky130hd" / "gcd" / "2023-09-18-14-15-51" / "gcd",
                   metadata_2023(run__flow__platform="sky130hd"))
    write_2023_run(tmp_path / "nangate45" / "halut_decoder" / "2023-09-18-14-15-51" / "halut_decoder", metadata_2023())

    summary = import_orfs(tmp_path, tmp_path / "history", platforms)

    assert summary.found == 2 and summary.imported == 1 and summary.errors == 1
    (error,) = [o for o in summary.outcomes if o.status == "error"]
    assert "sky130hd" in error.reason and error.action == "not_imported"
    with pytest.raises(OrfsImportError):
        run_to_record(discover_runs(tmp_path / "sky130hd")[0], platforms)


# ---------------------------------------------------------------------------------------------
# Discovery, identity, idempotence


def build_archive(root: Path) -> dict[str, Path]:
    """One run of every layout of the halutmatmul archive."""
    runs = {
        "2022_single": write_2022_run(
            root / "history" / "asap7" / "2022-08-10-10-52-53",
            metrics_2022(run__flow__design="scm", run__flow__uuid="2d7b1c1e-0d55-4c43-9a37-1f4c5f8f3c10"),
            unit="scm",
        ),
        "2022_design_first": write_2022_run(root / "history" / "asap7" / "2022-11-02-15-24-39" / "halut_decoder",
                                            metrics_2022()),
        "2022_latest": write_2022_run(root / "latest" / "asap7" / "halut_decoder", metrics_2022()),
        "2023_unit_first": write_2023_run(
            root / "history" / "nangate45" / "halut_decoder" / "2023-12-10-17-48-17" / "halut_decoder", metadata_2023()
        ),
        "2023_latest": write_2023_run(root / "latest" / "nangate45" / "halut_decoder", metadata_2023()),
        "2023_no_metrics": write_2023_run(
            root / "history" / "nangate45" / "halut_decoder" / "2023-08-14-15-08-05" / "halut_decoder", None
        ),
    }
    return {name: path.resolve() for name, path in runs.items()}


def test_discovers_every_layout_and_not_the_folders_inside_runs(tmp_path):
    expected = build_archive(tmp_path)
    found = discover_runs(tmp_path)
    assert sorted(r.path for r in found) == sorted(expected.values())
    single = next(r for r in found if r.path == expected["2022_single"])
    assert single.unit == "scm" and len(single.step_logs) == 2 and len(single.metrics_files) == 2


def test_latest_and_its_history_copy_are_one_run(tmp_path, platforms):
    runs = build_archive(tmp_path)
    summary = import_orfs(tmp_path, tmp_path / "history", platforms)

    assert summary.found == 6
    # latest/ duplicates history/ (same ORFS run uuid) for both flows -> 4 records, 2 already present.
    assert summary.imported == 4 and summary.already_present == 2
    ids = {o.path: o.run_id for o in summary.outcomes}
    assert ids[runs["2022_latest"]] == ids[runs["2022_design_first"]]
    assert ids[runs["2023_latest"]] == ids[runs["2023_unit_first"]]


def test_the_copy_with_layout_images_is_the_one_stored(tmp_path, platforms):
    # history/ sorts before latest/, but only latest/ kept the images and the GDS.
    history_copy = write_2023_run(
        tmp_path / "history" / "nangate45" / "halut_decoder" / "2023-12-10-17-48-17" / "halut_decoder", metadata_2023()
    )
    latest = write_2023_run(tmp_path / "latest" / "nangate45" / "halut_decoder", metadata_2023())
    (latest / "reports" / "final_routing.webp").write_bytes(b"RIFF")
    (latest / "results").mkdir()
    (latest / "results" / "6_final.gds").write_bytes(b"\x00\x06\x00\x02")

    summary = import_orfs(tmp_path, tmp_path / "history-out", platforms)

    actions = {o.path: o.action for o in summary.outcomes}
    assert actions == {history_copy.resolve(): "already_present", latest.resolve(): "imported"}
    (record,) = load_records(tmp_path / "history-out")
    assert record.source_path == str(latest.resolve()) and "routing" in record.images and record.gds


def test_reimport_adds_nothing(tmp_path, platforms):
    build_archive(tmp_path / "archive")
    history = tmp_path / "history"
    first = import_orfs(tmp_path / "archive", history, platforms)
    files = iter_record_files(history)
    contents = {p: p.read_bytes() for p in files}

    second = import_orfs(tmp_path / "archive", history, platforms)

    assert second.imported == 0 and second.already_present == first.found
    assert [o.run_id for o in second.outcomes] == [o.run_id for o in first.outcomes]
    assert {p: p.read_bytes() for p in iter_record_files(history)} == contents


def test_timestamp_comes_from_the_folder_name_when_files_carry_none(tmp_path, platforms):
    data = metrics_2022(run__flow__generate_date=None)
    run = write_2022_run(tmp_path / "asap7" / "2022-08-29-20-11-17" / "halut_decoder", data)
    assert record_for(run, platforms).timestamp == datetime(2022, 8, 29, 20, 11, 17, tzinfo=UTC)


def test_run_id_does_not_depend_on_where_the_archive_lives(tmp_path, platforms):
    # No uuid: identity is the path from the platform folder down, not the absolute path.
    ids = []
    for place in ("a", "b"):
        run = tmp_path / place / "nangate45" / "halut_decoder" / "2023-08-14-15-08-05" / "halut_decoder"
        write_2023_run(run, None)
        ids.append(record_for(run, platforms).run_id)
    assert ids[0] == ids[1]


def test_layout_images_and_gds_are_recorded(tmp_path, platforms):
    run = write_2023_run(tmp_path / "latest" / "nangate45" / "fp_16_32_adder", metadata_2023())
    for name in ("final_routing.webp", "final_placement.webp", "cts_clk_all.webp"):
        (run / "reports" / name).write_bytes(b"RIFF")
    (run / "results").mkdir()
    (run / "results" / "6_final.gds").write_bytes(b"\x00\x06\x00\x02")
    record = record_for(run, platforms)
    assert set(record.images) == {"routing", "placement", "cts"}
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in record.images.values())
    assert record.gds == str((run / "results" / "6_final.gds").resolve())


def test_progress_is_reported_per_run(tmp_path, platforms):
    build_archive(tmp_path)
    seen = []
    summary = import_orfs(tmp_path, tmp_path / "history", platforms, on_progress=lambda d, t, o: seen.append((d, t)))
    assert seen == [(i, summary.found) for i in range(1, summary.found + 1)]


def test_missing_import_path_is_one_clear_error(tmp_path, platforms):
    with pytest.raises(OrfsImportError, match="not a directory"):
        import_orfs(tmp_path / "nowhere", tmp_path / "history", platforms)


# ---------------------------------------------------------------------------------------------
# The real halutmatmul archive

# Runs per (pdk, design, status), counted from the archive's folder layout (285 run folders).
REFERENCE_COUNTS = {
    ("asap7", "fp_16_32_adder", "pass"): 5,
    ("asap7", "fp_16_32_adder", "fail"): 2,  # floorplan crashed (one step log)
    ("asap7", "halut_decoder", "pass"): 15,
    ("asap7", "halut_encoder", "pass"): 15,
    ("asap7", "halut_matmul", "pass"): 15,
    ("asap7", "register_file_latch", "pass"): 3,
    ("asap7", "scm", "pass"): 14,
    ("nangate45", "fp_16_32_adder", "pass"): 31,
    ("nangate45", "fp_16_32_adder", "fail"): 9,  # synthesis reports only, no metrics file
    ("nangate45", "halut_decoder", "pass"): 63,
    ("nangate45", "halut_decoder", "fail"): 8,
    ("nangate45", "halut_encoder", "pass"): 59,
    ("nangate45", "halut_encoder", "fail"): 8,
    ("nangate45", "halut_matmul", "pass"): 20,
    ("nangate45", "register_file_latch", "pass"): 2,
    ("nangate45", "scm", "pass"): 16,
}


@pytest.fixture(scope="module")
def reference() -> Path:
    path = find_reference(REPO_ROOT)
    if path is None:
        where = os.environ.get(REFERENCE_ENV) or (REPO_ROOT / REFERENCE_RELATIVE)
        pytest.skip(f"ORFS reference archive not found at {where} (set {REFERENCE_ENV} to its path)")
    return path


@pytest.fixture(scope="module")
def reference_import(reference, platforms, tmp_path_factory):
    history = tmp_path_factory.mktemp("orfs-history")
    summary = import_orfs(reference, history, platforms)
    records = {r.source_path: r for r in load_records(history)}
    return summary, history, records


def test_reference_every_run_is_imported_or_recorded_failed(reference_import):
    summary, history, records = reference_import
    assert summary.found == sum(REFERENCE_COUNTS.values())
    assert summary.errors == 0
    # latest/ holds copies of 6 history/ runs (same ORFS uuid): stored once.
    assert summary.imported == summary.found - 6 and summary.already_present == 6
    # Every latest/ run is stored from latest/, the only copy with layout images.
    latest = [r for path, r in records.items() if "/latest/" in path]
    assert len(latest) == 7 and all(r.images for r in latest)
    assert any(r.gds for r in latest)
    assert summary.summary_line().startswith(f"{summary.found} ORFS runs found: {summary.imported} imported")
    assert len(iter_record_files(history)) == summary.imported
    assert all(o.status in ("pass", "fail") for o in summary.outcomes)
    assert all(o.reason for o in summary.outcomes if o.status == "fail")


def test_reference_counts_per_pdk_design_and_status(reference_import):
    summary, _history, _records = reference_import
    assert summary.counts() == REFERENCE_COUNTS


def test_reference_known_values(reference_import, reference):
    _summary, _history, records = reference_import
    asap7 = records[str(reference / "latest" / "asap7" / "halut_decoder")]
    # halutmatmul's README table: 4749.8286 µm², 54.296 kGE, 33709 cells, 44.4 %, TNS -11340.5098 ps.
    assert asap7.metrics.area_um2 == pytest.approx(4749.8286)
    assert asap7.metrics.ge / 1000 == pytest.approx(54.296, abs=5e-4)
    assert asap7.metrics.stdcell_count == 33709
    assert asap7.metrics.utilization_pct == pytest.approx(44.37)
    assert asap7.metrics.tns_ns == pytest.approx(-11.3405098)
    assert asap7.metrics.target_freq_mhz == pytest.approx(666.667, abs=1e-3)

    nangate = records[str(reference / "latest" / "nangate45" / "halut_decoder")]
    assert nangate.metrics.power_mw == pytest.approx(2.6423)
    assert nangate.metrics.area_um2 == pytest.approx(24667.5) and nangate.metrics.clock_period_ns == 6.0
    assert nangate.parameters["orfs_design"] == "halut_decoder"
    assert nangate.top == "halut_decoder__2864165611389228789"

    crashed = records[str(reference / "history" / "asap7" / "2022-09-17-22-19-28" / "fp_16_32_adder")]
    assert crashed.status == "fail" and crashed.reason.startswith("floorplan crashed")
    assert crashed.metrics.area_um2 == pytest.approx(240.97824)  # synth_stat.txt, the only area it has


def test_reference_has_no_zeros_where_a_metric_is_missing(reference_import):
    _summary, _history, records = reference_import
    for record in records.values():
        m = record.metrics
        for name in ("area_um2", "stdcell_count", "ge", "utilization_pct", "power_mw", "clock_period_ns",
                     "die_area_um2"):
            value = getattr(m, name)
            assert value is None or value > 0, (record.source_path, name, value)
        if record.status == "fail":
            assert m.utilization_pct is None and m.power_mw is None and m.clock_period_ns is None
            assert record.metrics_origin == "synthesis"
        if record.pdk == "asap7":
            assert m.power_mw is None  # the 2022 asap7 files have no power figures
        assert set(record.metric_steps) == set(m.model_dump(exclude_none=True))


def test_reference_reimport_adds_nothing(reference_import, reference, platforms):
    summary, history, _records = reference_import
    again = import_orfs(reference, history, platforms)
    assert again.imported == 0 and again.already_present == summary.found


# ---------------------------------------------------------------------------------------------
# Folder symlinks out of a run folder


@pytest.mark.parametrize("link", ["results", "images", "reports/extra"])
def test_a_folder_symlink_out_of_the_run_is_neither_walked_nor_a_source_of_files(tmp_path, platforms, monkeypatch,
                                                                                   link):
    foreign = tmp_path / "foreign"
    for name in ("6_final.gds", "final_routing.webp", "synth_stat.txt"):
        (foreign / "deep" / "er").mkdir(parents=True, exist_ok=True)
        (foreign / "deep" / "er" / name).write_text("not this run's\n")
    run = write_2023_run(tmp_path / "archive" / "nangate45" / "halut_decoder" / "2023-12-10-17-48-17" / "halut_decoder",
                         metadata_2023())
    (run / link).symlink_to(foreign)
    walked: list[str] = []
    for name in ("scandir", "listdir"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda path=".", _real=real: walked.append(os.fspath(path)) or _real(path))
    summary = import_orfs(tmp_path / "archive", tmp_path / "history", platforms)
    monkeypatch.undo()
    assert summary.imported == 1, [o.reason for o in summary.outcomes]
    (record,) = load_records(tmp_path / "history")
    carried = [record.gds, *record.reports, *record.logs.values(), *record.images.values()]
    assert [path for path in carried if path and "foreign" in str(path)] == []
    assert [path for path in walked if str(foreign) in path or "/deep" in path] == []
