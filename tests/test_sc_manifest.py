"""Reading SC manifests as JSON gives what SC's own schema API gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.sc_manifest import Manifest


def test_node_value_wins_over_step_and_global_values():
    manifest = Manifest({"metric": {"cellarea": {"node": {
        "synthesis": {"0": {"value": 12.5}, "*": {"value": 1.0}},
        "*": {"*": {"value": 2.0}},
        "default": {"default": {"value": None}},
    }}}})
    assert manifest.get("metric", "cellarea", step="synthesis", index="0") == 12.5
    assert manifest.get("metric", "cellarea", step="synthesis", index=1) == 1.0  # the step's value
    assert manifest.get("metric", "cellarea", step="place", index="0") == 2.0  # the global value


def test_unset_and_unknown_values_are_none():
    manifest = Manifest({"metric": {"cellarea": {"node": {"default": {"default": {"value": None}}}}}})
    assert manifest.get("metric", "cellarea", step="synthesis", index="0") is None
    assert manifest.get("metric", "nosuchmetric", step="synthesis", index="0") is None
    assert manifest.get("record", "status", step="synthesis", index="0") is None


def test_default_value_is_returned_like_sc_does():
    manifest = Manifest({"option": {"nice": {"node": {"default": {"default": {"value": 5}}}}}})
    assert manifest.get("option", "nice") == 5


@pytest.mark.parametrize("text", ["", '{"metric": {"cellarea": ', "[1, 2]"])
def test_missing_or_cut_short_manifest_is_none(tmp_path: Path, text: str):
    path = tmp_path / "top.pkg.json"
    path.write_text(text)
    assert Manifest.load(path) is None
    assert Manifest.load(tmp_path / "absent.pkg.json") is None


def test_same_values_as_sc_for_a_manifest_sc_wrote(tmp_path: Path):
    from siliconcompiler import ASIC, Design
    from siliconcompiler.targets import freepdk45_demo

    from orchestrator import flow

    project = ASIC(Design("top"))
    freepdk45_demo(project)
    project.set("metric", "cellarea", 123.25, step="synthesis", index="0")
    project.set("record", "status", "success", step="synthesis", index="0")
    project.set("record", "toolversion", "0.70", step="synthesis", index="0")
    path = tmp_path / "top.pkg.json"
    project.write_manifest(str(path))

    manifest = Manifest.load(path)
    for keypath in (("metric", "cellarea"), ("record", "status"), ("record", "toolversion"), ("metric", "cells")):
        assert manifest.get(*keypath, step="synthesis", index="0") == project.get(*keypath, step="synthesis", index="0")
    flowgraph = project.get_flow()
    assert manifest.flow_name() == flowgraph.name
    for step, index, tool in flow.flow_nodes(project):
        assert manifest.node_tool(step, index) == tool
