"""A hung tool, with real processes: a fake ``yosys`` on PATH answers the version probes and then
sleeps (with a child of its own). Past ``flow.step_timeout_s`` it is ended, the job's record is
``fail`` with "timed out after N s in synthesis", and no process of the fake tool is left; a
SIGHUP to the run while it hangs stops it as SIGTERM does (exit 130, the interrupted summary)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orchestrator import history
from tests.conftest import FIXTURES, REPO_ROOT, write_project

FAKE_YOSYS = textwrap.dedent('''\
    #!/bin/bash
    # Answers the probes of tools.detect_yosys and SC's version check, then hangs in synthesis.
    case "$1" in
      -V|--version) echo "Yosys 0.50 (git sha1 fake)"; exit 0;;
      -c) if grep -q HALUT_TCL "$2" 2>/dev/null; then echo HALUT_TCL_42; exit 0; fi;;
    esac
    echo $$ >> "$FAKE_PIDS"
    sleep 600 &
    echo $! >> "$FAKE_PIDS"
    wait
''')


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def hung_project(tmp_path: Path, pdk_data_root: Path, flow: str) -> tuple[Path, dict, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "yosys").write_text(FAKE_YOSYS)
    (bin_dir / "yosys").chmod(0o755)
    pids = tmp_path / "pids"
    config = write_project(tmp_path / "p", f"""\
        pdk_data_root: {pdk_data_root}
        pdks: [nangate45]
        designs: [{{name: counter, generator: toygen}}]
        flow: {flow}
        """)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_PIDS": str(pids),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    env.pop("HALUT_PDK_ROOT", None)
    return config, env, pids


def command(config: Path) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "--config", str(config), "run", "--to", "synthesis", "--force"]


def fake_tool_pids(pids: Path) -> list[int]:
    return [int(line) for line in pids.read_text().split()] if pids.exists() else []


def test_a_hung_tool_is_ended_after_its_step_limit_and_recorded_as_timed_out(tmp_path, pdk_data_root):
    config, env, pids = hung_project(tmp_path, pdk_data_root, "{step_timeout_s: 4, liberty_cache: false}")
    began = time.monotonic()
    proc = subprocess.run(command(config), capture_output=True, text=True, env=env, cwd=config.parent, timeout=600)
    took = time.monotonic() - began
    assert proc.returncode == 1, proc.stderr[-3000:]
    (record,) = history.load_records(config.parent / "reports" / "history")
    assert record.status == "fail" and record.reason == "timed out after 4 s in synthesis", record.reason
    assert "counter-nangate45: timed out after 4 s in synthesis" in proc.stderr
    started = fake_tool_pids(pids)
    assert len(started) == 2  # the fake tool and its child did run
    assert [pid for pid in started if alive(pid)] == []
    assert took < 300, f"{took:.0f} s: the limit did not end the tool"


def test_sighup_stops_a_run_like_sigterm_with_exit_130_and_the_summary(tmp_path, pdk_data_root):
    config, env, pids = hung_project(tmp_path, pdk_data_root, "{liberty_cache: false}")
    proc = subprocess.Popen(command(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=config.parent)
    try:
        deadline = time.monotonic() + 300
        while len(fake_tool_pids(pids)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert len(fake_tool_pids(pids)) == 2, "the fake tool never started"
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted after" in err and "stopped, no record:    counter-nangate45 (in synthesis" in err, err[-3000:]
    assert [pid for pid in fake_tool_pids(pids) if alive(pid)] == []
    assert not (config.parent / "reports" / "history").exists() or not history.load_records(
        config.parent / "reports" / "history")
