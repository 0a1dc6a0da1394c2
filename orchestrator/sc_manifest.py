"""Read values out of a SiliconCompiler manifest (``<top>.pkg.json``) without building a schema.

``Project.from_manifest`` rebuilds every library, flow and tool object of the job (0.4-0.7 s for a
halut job, 7 MB of JSON); the record needs a few dozen per-node values, which ``json.load`` gives
in ~0.07 s. The layout read here is SC 0.38's serialisation (pinned in pyproject.toml): every
parameter is a dict whose ``node`` maps step -> index -> ``{"value": ...}``, ``"*"`` standing for
"any step" / "any index" and ``default``/``default`` for the schema default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ANY = "*"  # SC's global step / index in a serialised node value


class Manifest:
    """One SC manifest, read-only."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    @classmethod
    def load(cls, path: str | Path) -> Manifest | None:
        """The manifest at ``path``, or None when it is missing or cut short (a killed run)."""
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        return cls(data) if isinstance(data, dict) else None

    def parameter(self, *keypath: str) -> dict[str, Any] | None:
        node: Any = self.data
        for key in keypath:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node if isinstance(node, dict) and "node" in node else None

    def get(self, *keypath: str, step: str | None = None, index: str | int | None = None) -> Any:
        """The value SC's ``get(*keypath, step=, index=)`` returns: the node's own value, else the
        step's, else the global one, else the default. None when the parameter does not exist."""
        param = self.parameter(*keypath)
        if param is None:
            return None
        values = param["node"]
        index = None if index is None else str(index)
        for s, i in ((step, index), (step, ANY), (ANY, ANY), ("default", "default")):
            if s is None or i is None:
                continue
            entry = values.get(s, {}).get(i)
            if entry is not None and (entry.get("value") is not None or (s, i) == ("default", "default")):
                return entry.get("value")
        return None

    def flow_name(self) -> str | None:
        return self.get("option", "flow")

    def node_tool(self, step: str, index: str | int) -> str | None:
        """The tool of a flowgraph node of the job's flow (``slang``, ``yosys``, ``openroad``...)."""
        flow = self.flow_name()
        if flow is None:
            return None
        return self.get("flowgraph", flow, step, str(index), "tool")
