"""Shared set-up for the orchestrator benchmarks: a throw-away project, the real job runner.

Every benchmark runs jobs the way `python -m orchestrator run` does (one process per job through
``runner.run_jobs``, or the CLI itself) in a temporary project with the repo's platforms, so
the figures include everything a user waits for. Designs are the halut RTL when the ``halut``
package renders, else (or with ``--toy``) the toy counter from tests/fixtures.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOYGEN = REPO_ROOT / "tests" / "fixtures"
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(TOYGEN))

import yaml

from orchestrator import runner, tools
from orchestrator.config import load_config
from orchestrator.jobs import load_project, select_jobs

# A killed benchmark stops its job processes the way Ctrl-C does.
signal.signal(signal.SIGTERM, signal.default_int_handler)
_LOAD_AT_START = os.getloadavg()[0]


@atexit.register
def _machine_note() -> None:
    """Timings mean little on a machine that was busy with other work: say how busy it was."""
    print(f"machine: {runner.default_parallel_jobs()} cores, 1-min load average {_LOAD_AT_START:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end", file=sys.stderr)

def _flow_yaml(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()


# The reference design entries of config.yaml (the halutmatmul configurations), read through the
# project's own loader; each keeps what else its entry sets (per-PDK floorplan, clock period).
REFERENCE_SPECS = {spec.name: spec for spec in load_config(REPO_ROOT / "config.yaml").designs if not spec.label}
HALUT_DESIGNS = {name: _flow_yaml(spec.parameters) for name, spec in REFERENCE_SPECS.items()}
HALUT_ENTRY_EXTRAS = {name: spec.model_dump(mode="json", include={"floorplan", "clock_period"},
                                            exclude_defaults=True, exclude_none=True)
                      for name, spec in REFERENCE_SPECS.items()}
TOY_DESIGNS = {"counter": "{WIDTH: 32}", "counter-w48": "{WIDTH: 48}", "counter-w64": "{WIDTH: 64}"}


def pdk_data_root() -> Path:
    for candidate in (os.environ.get("HALUT_PDK_ROOT"), REPO_ROOT.parent / "shared" / "pdk"):
        if candidate and (Path(candidate) / "lambdapdk").is_dir():
            return Path(candidate).resolve()
    sys.exit("ERROR: lambdapdk data not available offline (set HALUT_PDK_ROOT)")


def halut_usable() -> bool:
    try:
        import halut

        with tempfile.TemporaryDirectory() as tmp:
            halut.render("halut_encoder", halut.validate_params("halut_encoder", {}), Path(tmp))
        return True
    except Exception as exc:  # not written yet, or broken: say so and use the toy counter
        print(f"note: halut not usable ({type(exc).__name__}: {exc}); using the toy counter", file=sys.stderr)
        return False


def design_entries(toy: bool) -> dict[str, str]:
    """Design entry name -> parameters (YAML flow mapping)."""
    return TOY_DESIGNS if toy or not halut_usable() else HALUT_DESIGNS


def design_yaml(name: str, parameters: str, clock_period: dict[str, float] | None = None) -> str:
    """One design entry; a reference entry keeps what else config.yaml gives it (its floorplan), and
    ``clock_period`` (PDK -> period) overrides the platform clocks."""
    if name.startswith("counter"):
        label = name.partition("-")[2]
        return (f"  - {{name: counter, generator: toygen, parameters: {parameters}"
                + (f", label: {label}}}\n" if label else "}\n"))
    extras = dict(HALUT_ENTRY_EXTRAS.get(name, {})) if parameters == HALUT_DESIGNS.get(name) else {}
    if clock_period:
        extras["clock_period"] = {**extras.get("clock_period", {}), **clock_period}
    more = "".join(f", {key}: {_flow_yaml(value)}" for key, value in extras.items())
    return f"  - {{name: {name}, parameters: {parameters}{more}}}\n"


@contextmanager
def project(designs: dict[str, str], pdks: list[str], extra: str = "", keep: bool = False,
            designs_yaml: str = "", at: Path | None = None,
            clock_period: dict[str, float] | None = None) -> Iterator[Path]:
    """A temporary project directory; yields its config.yaml. ``designs_yaml``: more design entries
    (YAML list items), written as they are. ``at``: a lasting project directory instead (created
    on first use, kept; its platforms and config.yaml are written anew each time, so its build
    folder and history stay and the cache can reuse their runs). ``clock_period``: PDK -> period
    for every design entry, in place of the platform's."""
    tmp = Path(tempfile.mkdtemp(prefix="halut-bench.")) if at is None else at
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp / "platforms", ignore_errors=True)
        shutil.copytree(REPO_ROOT / "platforms", tmp / "platforms")
        text = (f"pdk_data_root: {pdk_data_root()}\npdks: [{', '.join(pdks)}]\ndesigns:\n"
                + "".join(design_yaml(n, p, clock_period) for n, p in designs.items()) + designs_yaml + extra)
        (tmp / "config.yaml").write_text(text, encoding="utf-8")
        yield tmp / "config.yaml"
    finally:
        if not keep and at is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_api(config_path: Path, *, max_parallel: int, to: str = "synthesis", force: bool = False,
            sweeps: list[str] | None = None, include_matrix: bool = True):
    """Run every job of the project through the job runner; returns (outcomes, wall seconds)."""
    config = load_project(config_path)
    jobs = select_jobs(config, pdks=list(config.pdks), include_matrix=include_matrix, sweeps=sweeps)
    toolchain = tools.detect_all()
    began = time.perf_counter()
    outcomes = runner.run_jobs(config, jobs, toolchain, max_parallel=max_parallel, to=to, force=force)
    wall = time.perf_counter() - began
    for outcome in outcomes:
        if outcome.record is None or outcome.record.status == "fail":
            sys.exit(f"ERROR: {outcome.job.name}: {outcome.error or outcome.record.reason}")
    return outcomes, wall


def run_cli(config_path: Path, *args: str) -> float:
    """`python -m orchestrator run ...` in the project; returns its wall time (exits on failure)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOYGEN), os.environ.get("PYTHONPATH", "")])}
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "--config", str(config_path), "run", *args],
                          capture_output=True, text=True, env=env, cwd=config_path.parent)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        sys.exit(f"ERROR: run {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return wall


def pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"
