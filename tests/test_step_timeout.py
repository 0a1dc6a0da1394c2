"""A hung tool times out: a fake ``yosys`` on PATH that answers the version probes and then sleeps
(with a child of its own) is ended after ``flow.step_timeout_s``; the job's record is ``fail``
with "timed out after N s in synthesis", and no process of the fake tool is left."""

from __future__ import annotations

import os
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


def test_a_hung_tool_is_ended_after_its_step_limit_and_recorded_as_timed_out(tmp_path, pdk_data_root):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "yosys").write_text(FAKE_YOSYS)
    (bin_dir / "yosys").chmod(0o755)
    pids = tmp_path / "pids"
    config = write_project(tmp_path / "p", f"""\
        pdk_data_root: {pdk_data_root}
        pdks: [nangate45]
        designs: [{{name: counter, generator: toygen}}]
        flow: {{step_timeout_s: 4, liberty_cache: false}}
        """)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_PIDS": str(pids),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    env.pop("HALUT_PDK_ROOT", None)
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "--config", str(config), "run", "--to", "synthesis",
                           "--force"], capture_output=True, text=True, env=env, cwd=config.parent, timeout=600)
    took = time.monotonic() - began
    assert proc.returncode == 1, proc.stderr[-3000:]
    (record,) = history.load_records(config.parent / "reports" / "history")
    assert record.status == "fail" and record.reason == "timed out after 4 s in synthesis", record.reason
    assert "counter-nangate45: timed out after 4 s in synthesis" in proc.stderr
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2  # the fake tool and its child did run
    assert [pid for pid in started if alive(pid)] == []
    assert took < 300, f"{took:.0f} s: the limit did not end the tool"
