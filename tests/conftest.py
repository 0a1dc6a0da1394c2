"""Shared fixtures: repository paths, the offline PDK data root, and throw-away projects."""

from __future__ import annotations

import os
import shutil
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


def write_project(tmp_path: Path, config_text: str) -> Path:
    """A project directory with the repo's platforms and the given config.yaml; returns the config path."""
    shutil.copytree(REPO_ROOT / "platforms", tmp_path / "platforms")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(config_text), encoding="utf-8")
    return config


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
