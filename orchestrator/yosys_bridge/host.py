"""Host side of the Yosys bridge: find a suitable native ``yosys`` or put the shim on SC's tool path.

SiliconCompiler's Yosys tasks require a recent Yosys (``steps.TOOL_SPECS``) with Tcl support. When the machine has none,
the flow points SC at a shim, a small ``yosys`` script that runs ``orchestrator.yosys_bridge.shim``
(the replacement program: Python's Tcl driving PyPI pyosys' libyosys) with this interpreter.
Nothing here loads libyosys or Tcl, so it is safe in the orchestrator process.

Public API (stable; orchestrator/flow.py and orchestrator/tools.py rely on it; re-exported by
``orchestrator.yosys_bridge``):

``bridge_version() -> str``
    The Yosys version the bridge reports, short form (``"0.70"``): what SC records as
    ``toolversion``. Read from pyosys' package metadata; does not load libyosys.
``install_shim(directory: Path) -> Path``
    Writes an executable ``yosys`` (a ``#!/bin/sh`` script running the shim module with the
    current interpreter) into ``directory`` atomically and returns its path. Idempotent and safe
    when several processes install into the same directory.
``find_native_yosys(path_env: str | None = None, timeout: float = 60.0) -> NativeYosys | None``
    The first ``yosys`` on PATH (or ``path_env``) that is not a bridge shim, as
    ``NativeYosys(path, version, has_tcl)`` (a tuple); ``.suitable`` tells whether SC can use it
    (version >= ``MIN_NATIVE_VERSION`` and runs a Tcl script via ``-c``). None if there is none.
``configure_project(project, tool_dir: Path) -> list[str]``
    Sets SC's per-task tool path key ``('tool', 'yosys', 'task', <task>, 'path')`` to
    ``tool_dir`` for every yosys task of the project's flows (SC prepends it to PATH when it
    resolves and runs the ``yosys`` executable). Returns the task names it set.
``parse_yosys_version(text) -> (major, minor, dev) | None``, ``is_shim(path) -> bool``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from orchestrator.fsutil import atomic_write_text
from orchestrator.steps import TOOL_SPEC

MIN_NATIVE_VERSION = tuple(int(part) for part in TOOL_SPEC["yosys"].minimum.split("."))
"""The oldest yosys SiliconCompiler 0.38's YosysTask accepts, as (major, minor)."""

SHIM_MARKER = "halut-yosys-bridge-shim"
"""Written into every shim so find_native_yosys() never mistakes a shim for a native yosys."""

TOOL_TIMES_ENV = "HALUT_TOOL_TIMES"
"""When set (benchmarks set it), each bridge process appends one JSON line with its wall-clock
interval, from process start (the shim's exec) to exit, to the file it names."""

# --------------------------------------------------------------------------------------------
# Version helpers (no libyosys)
# --------------------------------------------------------------------------------------------

def parse_yosys_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, dev-commits) from ``Yosys 0.48+5 (git sha1 ...)`` or ``0.48``."""
    match = re.search(r"(\d+)\.(\d+)(?:[+-](\d+))?", text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def bridge_version() -> str:
    """The short Yosys version the bridge reports to SC (e.g. ``"0.70"``)."""
    from importlib.metadata import version

    return version("pyosys")


# --------------------------------------------------------------------------------------------
# Shim and native-yosys detection (no libyosys)
# --------------------------------------------------------------------------------------------

def _package_parent() -> Path:
    # The directory holding the ``orchestrator`` package this module was loaded from, so the
    # shim runs the same code even when the package is used from a checkout without install.
    return Path(__file__).resolve().parents[2]


def _shim_text() -> str:
    bootstrap = (
        f"import sys; sys.path.insert(0, {json.dumps(str(_package_parent()))}); "
        "from orchestrator.yosys_bridge.shim import main; sys.exit(main())"
    )
    # sh single quotes cannot contain a single quote; paths with one are rejected below.
    return (
        "#!/bin/sh\n"
        f"# {SHIM_MARKER}: Tcl-capable yosys for SiliconCompiler over pyosys (libyosys).\n"
        "# Written by orchestrator.yosys_bridge.host.install_shim(); do not edit.\n"
        f"exec '{sys.executable}' -c '{bootstrap}' \"$@\"\n"
    )


def install_shim(directory: Path) -> Path:
    """Write an executable ``yosys`` shim into ``directory`` and return its path."""
    directory = Path(directory)
    for text in (sys.executable, str(_package_parent())):
        if "'" in text:
            raise ValueError(f"cannot write yosys shim: path contains a single quote: {text}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "yosys"
    text = _shim_text()
    try:
        if target.read_text(encoding="utf-8") == text and os.access(target, os.X_OK):
            return target
    except (OSError, UnicodeDecodeError):
        pass
    # Mode set before the rename: another process may exec the shim the moment it appears.
    return atomic_write_text(target, text, mode=0o755)


def is_shim(path: Path) -> bool:
    """True if ``path`` is a bridge shim (or any file carrying the shim marker)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return SHIM_MARKER.encode() in head


class NativeYosys(NamedTuple):
    """A yosys binary found on PATH."""

    path: Path
    version: str
    has_tcl: bool

    @property
    def suitable(self) -> bool:
        """SC 0.38 can run it: version >= MIN_NATIVE_VERSION and Tcl scripts work."""
        parsed = parse_yosys_version(self.version)
        return bool(parsed and parsed[:2] >= MIN_NATIVE_VERSION and self.has_tcl)


def _probe_native(exe: Path, timeout: float) -> NativeYosys:
    try:
        proc = subprocess.run([str(exe), "-V"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        words = proc.stdout.split()
        version = words[1] if proc.returncode == 0 and len(words) > 1 else ""
    except (OSError, subprocess.SubprocessError):
        version = ""
    # Run exactly what SC runs (-c with a Tcl script): a yosys built without Tcl rejects -c.
    has_tcl = False
    if version:
        with tempfile.TemporaryDirectory(prefix="halut-yosys-probe.") as tmp:
            script = Path(tmp) / "probe.tcl"
            script.write_text('puts "HALUT_TCL_[expr {6 * 7}]"\n', encoding="utf-8")
            try:
                proc = subprocess.run([str(exe), "-c", str(script)], stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True, timeout=timeout, cwd=tmp)
                has_tcl = proc.returncode == 0 and "HALUT_TCL_42" in proc.stdout
            except (OSError, subprocess.SubprocessError):
                has_tcl = False
    return NativeYosys(exe, version, has_tcl)


def find_native_yosys(path_env: str | None = None, timeout: float = 60.0) -> NativeYosys | None:
    """The first non-shim ``yosys`` on PATH (or ``path_env``) with its version and Tcl support."""
    search = os.environ.get("PATH", os.defpath) if path_env is None else path_env
    seen: set[Path] = set()
    for entry in search.split(os.pathsep):
        candidate = Path(entry or ".") / "yosys"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        resolved = candidate.resolve()
        if resolved in seen or is_shim(candidate):
            continue
        seen.add(resolved)
        return _probe_native(candidate, timeout)
    return None


def configure_project(project: Any, tool_dir: Path) -> list[str]:
    """Point every yosys task of ``project``'s flows at ``tool_dir`` via SC's tool path key."""
    tasks: set[str] = set()
    for flow_name in project.getkeys("flowgraph"):
        for step in project.getkeys("flowgraph", flow_name):
            for index in project.getkeys("flowgraph", flow_name, step):
                if project.get("flowgraph", flow_name, step, index, "tool") == "yosys":
                    tasks.add(project.get("flowgraph", flow_name, step, index, "task"))
    for task in sorted(tasks):
        project.set("tool", "yosys", "task", task, "path", str(Path(tool_dir).resolve()))
    return sorted(tasks)
