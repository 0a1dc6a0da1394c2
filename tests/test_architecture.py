"""The package's shape: data flows one way (config -> jobs -> render -> flow -> record -> history
-> report / check), so no module imports one of a higher layer, there is no import cycle, and
every module says in its opening docstring what its one job is. Imports inside functions count."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator"

# Lowest first. A module may import its own layer or lower ones. A package (report,
# yosys_bridge) is one entry: its modules share its layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "names", "markdown", "fsutil", "sc_manifest"),  # foundation
    ("steps",),  # the flow's steps and tools, declared (data only)
    ("record",),  # the record contract and the metric registry
    ("config",),  # typed schema + YAML loading
    ("tools", "yosys_bridge"),  # which flow tools exist
    ("designs", "accuracy"),  # generator plugins: render RTL/SDC, accuracy tasks
    ("jobs",),  # Job, selection, sweeps, the generators' validation
    ("flow", "netlist", "liberty_cache", "scheduler"),  # one SC project per job
    ("metrics", "history", "closure"),  # SC results -> record; the record store; routing closure reads a record
    ("cache",),  # job key, hit/miss
    ("job_process",),  # the child: one request in, one record out
    ("runner",),  # the parent: schedules job processes
    ("progress", "check", "orfs_import", "report", "docgen"),  # readers of records and declarations
    ("cli", "__main__"),  # thin
)
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def modules() -> dict[str, Path]:
    """Dotted name below ``orchestrator`` ("report.site", "cli") -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The orchestrator modules ``name`` imports, anywhere in its body."""
    package_parts = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                module = ".".join(["orchestrator", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # "from orchestrator.report import site" imports the submodule, not the package's facade
            short = module.removeprefix("orchestrator").removeprefix(".")
            subs = [f"{module}.{alias.name}" for alias in node.names
                    if f"{short}.{alias.name}".lstrip(".") in known]
            candidates = subs if len(subs) == len(node.names) else [module, *subs]
        for candidate in candidates:
            if candidate != "orchestrator" and not candidate.startswith("orchestrator."):
                continue
            dotted = candidate.removeprefix("orchestrator").removeprefix(".") or "__init__"
            while dotted and dotted not in known:
                dotted = dotted.rpartition(".")[0]
            if dotted and dotted != name:
                targets.add(dotted)
    return targets


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def layer(name: str) -> int:
    return LAYER_OF[name.split(".")[0]]


def test_every_module_has_a_layer():
    assert sorted(name for name in modules() if name.split(".")[0] not in LAYER_OF) == []


def test_no_module_imports_a_higher_layer():
    upward = sorted(f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
                    for name, targets in graph().items() for target in targets if layer(target) > layer(name))
    assert upward == []


def test_there_is_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [node, target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_opens_with_a_docstring_saying_what_it_does(name):
    path = modules()[name]
    if path.name in ("__init__.py", "__main__.py") and path.stat().st_size < 200:
        return  # a marker or a one-line entry point
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring and len(docstring.split()) >= 6, f"{path}: no opening docstring stating its job"


def test_the_readme_diagram_names_every_module_and_only_real_ones():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How it works", 1)[1].split("\n## ", 1)[0]
    words = set(re.findall(r"[a-z][a-z_]+", section))
    top_level = {name.split(".")[0] for name in modules()} - {"__init__", "__main__"}
    assert sorted(top_level - words) == []  # every module is in the picture
    diagram = section.split("```", 2)[1]
    boxes = set(re.findall(r"^\s*([a-z_]+) ─", diagram, re.MULTILINE))
    assert boxes and sorted(boxes - top_level) == []  # every box is a module
