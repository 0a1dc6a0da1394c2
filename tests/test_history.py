"""History records: immutable, atomic, loadable as one DataFrame, safe with concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator import history
from orchestrator.record import Metrics, RunRecord, make_run_id


def make_record(design="halut_encoder", pdk="asap7", minutes=0, status="pass", area=100.0, salt="") -> RunRecord:
    ts = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    params = {"C": 32}
    return RunRecord(
        run_id=make_run_id(design, pdk, params, ts, salt=salt), design=design, pdk=pdk, parameters=params,
        timestamp=ts, status=status, reason=None if status == "pass" else "boom",
        metrics=Metrics(area_um2=area if status != "fail" else None, ge=area / 0.08748 if status != "fail" else None),
    )


def test_written_record_round_trips(tmp_path):
    record = make_record()
    path = history.write_record(tmp_path, record)
    assert path == tmp_path / "asap7" / "halut_encoder" / f"{record.run_id}.json"
    assert history.load_records(tmp_path) == [record]


def test_record_is_never_overwritten(tmp_path):
    record = make_record()
    history.write_record(tmp_path, record)
    changed = record.model_copy(update={"status": "fail"})
    assert history.write_record(tmp_path, changed) is None
    assert history.load_records(tmp_path)[0].status == "pass"


def test_dataframe_has_metric_and_parameter_columns(tmp_path):
    for i, area in enumerate([100.0, 90.0]):
        history.write_record(tmp_path, make_record(minutes=i, area=area))
    history.write_record(tmp_path, make_record(minutes=5, status="fail"))
    frame = history.load_history(tmp_path)
    assert list(frame["area_um2"].iloc[:2]) == [100.0, 90.0]
    assert frame["area_um2"].isna().iloc[2]  # a failure is missing data, not 0
    assert frame["param.C"].tolist() == [32, 32, 32]
    latest_pass = history.latest(frame, passing_only=True)
    assert latest_pass["area_um2"].tolist() == [90.0]
    assert history.latest(frame)["status"].tolist() == ["fail"]


def test_temp_files_of_a_killed_writer_are_ignored(tmp_path):
    history.write_record(tmp_path, make_record())
    (tmp_path / "asap7" / "halut_encoder" / ".x.json.123.tmp").write_text('{"trunc')
    assert len(history.load_records(tmp_path)) == 1


def test_corrupt_record_is_one_clear_error(tmp_path):
    path = tmp_path / "asap7" / "halut_encoder" / "bad.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"run_id": ')
    with pytest.raises(history.HistoryError, match=r"bad.json: cannot read history record"):
        history.load_records(tmp_path)


def _writer(args):
    directory, worker = args
    for i in range(25):
        history.write_record(Path(directory), make_record(minutes=i, salt=f"w{worker}"))
    return worker


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_writer, [(str(tmp_path), 0), (str(tmp_path), 1)])
    records = history.load_records(tmp_path)
    assert len(records) == 50 and len({r.run_id for r in records}) == 50
    for path in history.iter_record_files(tmp_path):
        json.loads(path.read_text())  # every file complete


@pytest.mark.parametrize("metric", ["setup_slack_ns", "hold_slack_ns", "hold_wns_ns", "hold_tns_ns", "wns_ns",
                                    "tns_ns"])
def test_a_negative_slack_is_a_plausible_figure_of_a_run_that_misses_timing(metric):
    # A run that misses setup or hold has negative slacks: the report must keep it, not drop it.
    assert history.implausible_metric(metric, -0.19) is None


@pytest.mark.parametrize("metric", ["area_um2", "stdcell_count", "power_mw", "clock_period_ns", "drc_count"])
def test_a_negative_size_count_or_power_is_not(metric):
    assert history.implausible_metric(metric, -1.0) == "negative"
