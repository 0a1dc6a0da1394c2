"""Shared fixtures: repository paths, the offline PDK data root, and throw-away projects."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The toy generator (a counter) lives with the tests, importable as "toygen".
sys.path.insert(0, str(FIXTURES))


# Read once at import: the toy_project fixture removes it so a test's own config decides.
_ENV_PDK_ROOT = os.environ.get("HALUT_PDK_ROOT")


def find_pdk_data_root() -> Path | None:
    """HALUT_PDK_ROOT, else ../shared/pdk beside the checkout (where CI and dev machines keep it)."""
    candidates = [_ENV_PDK_ROOT, REPO_ROOT.parent / "shared" / "pdk"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "lambdapdk").is_dir():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def pdk_data_root() -> Path:
    root = find_pdk_data_root()
    if root is None:
        pytest.skip("lambdapdk data not available offline (set HALUT_PDK_ROOT to a lambdapdk data root)")
    return root


def as_foreground_job() -> None:
    """``preexec_fn`` of a process a test stops with SIGINT, so Ctrl-C reaches it as it reaches a
    command typed at a terminal. A shell starts background jobs (``.ci/run &``, ``nohup ... &``)
    with SIGINT ignored, a Python started so keeps ignoring it, and the test would see no Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_project(tmp_path: Path, config_text: str) -> Path:
    """A project directory with the repo's platforms and the given config.yaml; returns the config path."""
    shutil.copytree(REPO_ROOT / "platforms", tmp_path / "platforms")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(config_text), encoding="utf-8")
    return config


def write_design_project(tmp_path: Path, data_root: Path, pdk: str, design: str, params: dict) -> Path:
    """A project whose matrix is one generated design with ``params`` on one PDK."""
    flow_params = ", ".join(f"{k}: {v}" for k, v in params.items())
    return write_project(tmp_path, f"""\
        pdk_data_root: {data_root}
        pdks: [{pdk}]
        designs:
          - name: {design}
            parameters: {{{flow_params}}}
        """)


@pytest.fixture
def toy_project(tmp_path: Path, monkeypatch):
    """Factory: a project whose matrix is the toy counter (plus whatever YAML is appended).

    HALUT_PDK_ROOT is removed (it overrides the config on purpose), so ``data_root`` decides.
    """
    monkeypatch.delenv("HALUT_PDK_ROOT", raising=False)

    def make(extra: str = "", width: int = 8, pdks: str = "[asap7, nangate45]", data_root: Path | None = None) -> Path:
        root_line = f"pdk_data_root: {data_root}" if data_root else "pdk_data_root: null"
        return write_project(
            tmp_path,
            f"""\
            {root_line}
            pdks: {pdks}
            designs:
              - name: counter
                generator: toygen
                parameters: {{WIDTH: {width}}}
            """
            + textwrap.dedent(extra),
        )

    return make


PNR_TOOLS = ("openroad", "sta", "klayout")


@pytest.fixture
def hide_tools(tmp_path_factory):
    """Factory: an environment whose PATH lacks the given executables (default: the P&R tools).

    Each PATH directory holding one of them is replaced by a directory of symlinks to everything
    else in it, so a test of "the flow stops where the toolchain ends" means the same on a
    machine that has OpenROAD as on one that does not."""

    def make(*tools: str) -> dict[str, str]:
        hidden = set(tools or PNR_TOOLS)
        entries = []
        for index, directory in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
            folder = Path(directory)
            if not directory or not any((folder / name).exists() for name in hidden):
                entries.append(directory)
                continue
            shadow = tmp_path_factory.mktemp(f"path{index}")
            for item in folder.iterdir():
                if item.name not in hidden:
                    (shadow / item.name).symlink_to(item)
            entries.append(str(shadow))
        return {"PATH": os.pathsep.join(entries)}

    return make
