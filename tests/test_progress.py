"""The CI log: every progress line carries the run's clock and the job's own elapsed time."""

from __future__ import annotations

import io
from types import SimpleNamespace

from orchestrator.progress import ProgressDisplay
from orchestrator.runner import Progress


def test_log_lines_carry_the_run_clock_beside_the_job_time():
    now = [100.0]
    out = io.StringIO()
    display = ProgressDisplay(2, stream=out, clock=lambda: now[0])
    progress = Progress(queued=1)
    progress.running = {"a-asap7": ("synthesis", 20.0)}
    now[0] = 125.9
    display.update(progress)
    progress.running = {"b-asap7": ("starting", 0.1)}
    progress.done = [SimpleNamespace(job=SimpleNamespace(name="a-asap7"), elapsed_s=21.0, cached=False,
                                     record=SimpleNamespace(status="pass"), error=None, interrupted=False)]
    now[0] = 126.0
    display.update(progress)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[run    25.9 s | job    20.0 s] a-asap7: synthesis"
    assert lines[1] == "[run    26.0 s | job     0.1 s] b-asap7: starting"
    assert lines[2].startswith("[run    26.0 s | job    21.0 s] a-asap7: pass")
