"""The Yosys bridge: a Tcl-capable ``yosys`` for SiliconCompiler where no native one is suitable.

Two programs, two modules. ``host`` runs in the orchestrator: it finds a native Yosys and, when
none is suitable, installs the shim on SC's tool path (its API is re-exported here). ``shim`` is
the ``yosys`` replacement SC executes (Tcl interpreter + libyosys, its ``main``); it is not
imported here, so importing this package never loads Tcl or libyosys.
"""

from orchestrator.yosys_bridge.host import (
    MIN_NATIVE_VERSION,
    SHIM_MARKER,
    TOOL_TIMES_ENV,
    NativeYosys,
    bridge_version,
    configure_project,
    find_native_yosys,
    install_shim,
    is_shim,
    parse_yosys_version,
)

__all__ = [
    "MIN_NATIVE_VERSION",
    "SHIM_MARKER",
    "TOOL_TIMES_ENV",
    "NativeYosys",
    "bridge_version",
    "configure_project",
    "find_native_yosys",
    "install_shim",
    "is_shim",
    "parse_yosys_version",
]
