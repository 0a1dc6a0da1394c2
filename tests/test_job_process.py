"""The job process gets everything as one typed request: it reads no config.yaml or platform file
of its own, so a file edited while a run is under way cannot reach a job whose key hashed the
settings it had when the run began. What it hands back is one typed result, which the parent
reads as data another process wrote: bounded, and refused with one line when malformed."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

import pytest

from orchestrator import history, runner, tools
from orchestrator.designs import render_design
from orchestrator.job_process import REQUEST_FILE, RESULT_FILE, JobRequest, JobResult, JobResultError
from orchestrator.jobs import load_project, select_jobs
from orchestrator.record import RunRecord
from orchestrator.tools import Toolchain, ToolStatus

# Stands in for an editor: changes the platform file after the parent wrote the request and
# before the job process starts, then becomes the real job process.
EDITING_CHILD = '''\
import os, sys
from pathlib import Path
platform = Path(os.environ["EDIT_PLATFORM"])
platform.write_text(platform.read_text().replace("ge_reference_area_um2: 0.798", "ge_reference_area_um2: 1.596"))
os.execv(sys.executable, [sys.executable, "-m", "orchestrator.job_process", *sys.argv[1:]])
'''


def test_a_request_round_trips_through_its_json_file_unchanged(toy_project, tmp_path):
    config = load_project(toy_project(pdks="[nangate45]"))
    (job,) = select_jobs(config, pdks=["nangate45"])
    rendered = render_design(config, job.spec, job.platform, tmp_path / "inputs")
    toolchain = Toolchain({"yosys": ToolStatus("yosys", True, "0.70", "/opt/yosys", sc_path_dir="/opt/bridge")})
    request = JobRequest(config=config, spec=job.spec, pdk="nangate45", rendered=rendered, toolchain=toolchain,
                         job_key="k" * 64, commit="abc123", result=tmp_path / "result.json", log=tmp_path / "job.log")
    back = JobRequest.model_validate(json.loads(json.dumps(request.model_dump(mode="json"))))
    assert back == request
    assert back.job().platform == job.platform and back.job().parameters == job.parameters


def test_a_request_with_an_unknown_key_is_refused(toy_project, tmp_path):
    config = load_project(toy_project(pdks="[nangate45]"))
    (job,) = select_jobs(config, pdks=["nangate45"])
    rendered = render_design(config, job.spec, job.platform, tmp_path / "inputs")
    data = JobRequest(config=config, spec=job.spec, pdk="nangate45", rendered=rendered, toolchain=Toolchain({}),
                      job_key="k", result=tmp_path / "r.json", log=tmp_path / "l.log").model_dump(mode="json")
    with pytest.raises(ValueError, match="config_path"):
        JobRequest.model_validate({**data, "config_path": "config.yaml"})


@pytest.mark.slow
def test_a_platform_edited_mid_run_does_not_reach_the_job_whose_key_hashed_it(
        toy_project, pdk_data_root, hide_tools, tmp_path, monkeypatch):
    config_path = toy_project(data_root=pdk_data_root, pdks="[nangate45]")
    config = load_project(config_path)
    (job,) = select_jobs(config, pdks=["nangate45"])
    platform_file = config_path.parent / "platforms" / "nangate45.yaml"
    assert "ge_reference_area_um2: 0.798" in platform_file.read_text()
    script = tmp_path / "editing_child.py"
    script.write_text(EDITING_CHILD)
    monkeypatch.setenv("PATH", hide_tools()["PATH"])
    monkeypatch.setenv("EDIT_PLATFORM", str(platform_file))

    (outcome,) = runner.run_jobs(config, [job], tools.detect_all(), max_parallel=1, to="synthesis",
                                 child_command=[sys.executable, str(script)], prestart=False)

    assert outcome.error is None and outcome.record is not None, outcome.error
    assert "ge_reference_area_um2: 1.596" in platform_file.read_text()  # the edit landed before the job began
    assert load_project(config_path).platform("nangate45").ge_reference_area_um2 == 1.596
    record = outcome.record
    assert record.metrics.area_um2 > 0
    assert record.metrics.ge == pytest.approx(record.metrics.area_um2 / 0.798)  # the hashed setting, not 1.596
    assert record.job_key == outcome.job.key
    request = json.loads((outcome.job.build_dir(config) / REQUEST_FILE).read_text())
    assert request["config"]["platforms"]["nangate45"]["ge_reference_area_um2"] == 0.798


def _record() -> RunRecord:
    return RunRecord(run_id="counter-nangate45-1", design="counter", pdk="nangate45", parameters={"WIDTH": 8},
                     timestamp=datetime(2026, 12, 7, 20, 0, tzinfo=UTC), status="partial", reason="no OpenROAD")


@pytest.mark.parametrize("result", [
    JobResult(record=_record(), timings={"setup": 1.5, "sc_run": 30.0, "tool:synthesis": 12.25}),
    JobResult(error="PDK data for 'nangate45' not found"),
], ids=["record", "error"])
def test_a_job_result_round_trips_through_its_json_file_unchanged(result, tmp_path):
    assert JobResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    path = tmp_path / RESULT_FILE
    result.write(path)
    assert JobResult.read(path) == result


@pytest.mark.parametrize("data, message", [
    ([], "expected an object, got list"),
    ({"record": None, "error": "x", "exit": 1}, "unknown key 'exit'"),
    ({"record": None, "error": None, "timings": {}}, "neither a record nor an error"),
    ({"error": 42}, "key 'error': expected a string or null, got int"),
    ({"error": "x", "timings": [1.0]}, "key 'timings': expected an object, got list"),
    ({"error": "x", "timings": {"tool": "fast"}}, "key 'timings.tool': expected a finite number, got 'fast'"),
    ({"error": "x", "timings": {"tool": True}}, "key 'timings.tool': expected a finite number, got True"),
    ({"error": "x", "timings": {"tool": float("nan")}}, "key 'timings.tool': expected a finite number, got nan"),
    ({"record": "pass"}, "key 'record': expected an object or null, got str"),
    ({"record": {**_record().to_json_dict(), "status": "great"}}, "key 'record.status'"),
], ids=["not-an-object", "unknown-key", "empty", "error-type", "timings-type", "timing-str", "timing-bool",
        "timing-nan", "record-type", "record-invalid"])
def test_a_malformed_job_result_is_refused_with_one_line_naming_the_file_and_key(data, message, tmp_path):
    with pytest.raises(JobResultError, match=re.escape(message)) as direct:
        JobResult.from_json(data)
    assert "\n" not in str(direct.value)
    path = tmp_path / RESULT_FILE
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(JobResultError) as read:
        JobResult.read(path)
    assert str(read.value) == f"{path}: invalid job result: {direct.value}"


def test_a_job_result_file_that_is_too_large_or_not_json_is_refused_and_a_missing_one_is_not_found(tmp_path):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.write(b" " * (history.MAX_RECORD_BYTES + 1) + b'{"error": "x"}')
    with pytest.raises(JobResultError, match=f"{re.escape(str(huge))}: not a job result: larger than"):
        JobResult.read(huge)
    broken = tmp_path / "broken.json"
    broken.write_text('{"error": "x"', encoding="utf-8")  # cut short
    with pytest.raises(JobResultError, match="not a job result"):
        JobResult.read(broken)
    deep = tmp_path / "deep.json"
    deep.write_text('{"error": "x", "timings": ' + "[" * 100 + "]" * 100 + "}", encoding="utf-8")
    with pytest.raises(JobResultError, match="nested deeper"):
        JobResult.read(deep)
    with pytest.raises(FileNotFoundError):
        JobResult.read(tmp_path / "none.json")
