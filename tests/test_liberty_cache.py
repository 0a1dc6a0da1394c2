"""The Liberty preparation cache gives SC's Yosys task exactly what SC would compute, computes it
once per (file content, SC code), never fails a run over a broken cache, and reaches the node
processes of a real job."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
from siliconcompiler.tools.yosys import syn_asic
from siliconcompiler.tools.yosys.prepareLib import process_liberty_file

from orchestrator import liberty_cache
from tests.test_cli import run_cli

LIBERTY = """\
library (toy) {
  capacitive_load_unit (0.001,pf);
  nom_voltage : 0.7;
  cell (INV) {
    area : 0.5;
    pin (A) { direction : input; original_pin : A; }
    pin (Y) { direction : output; function : !A ; }
  }
}
"""


class Counting:
    """process_liberty_file, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, input_file, logger=None):
        self.calls += 1
        return process_liberty_file(input_file, logger=logger)


@pytest.fixture
def lib_file(tmp_path: Path) -> Path:
    path = tmp_path / "toy.lib"
    path.write_text(LIBERTY, encoding="ascii")
    return path


@pytest.fixture
def restore_sc():
    yield
    liberty_cache.uninstall()


def test_cached_result_is_what_sc_computes_and_is_computed_once(lib_file, tmp_path):
    prepare = Counting()
    cached = liberty_cache.cached(prepare, tmp_path / "cache")
    first, second = cached(str(lib_file)), cached(str(lib_file))
    assert first == second == process_liberty_file(str(lib_file))
    assert "/* " in first and '"!A"' in first and "(1,ff)" in first  # SC's rewrites happened
    assert prepare.calls == 1
    assert len(list((tmp_path / "cache").glob("*.lib"))) == 1


def test_gzipped_liberty_is_read_like_sc_reads_it(lib_file, tmp_path):
    gz = tmp_path / "toy.lib.gz"
    gz.write_bytes(gzip.compress(lib_file.read_bytes()))
    cached = liberty_cache.cached(Counting(), tmp_path / "cache")
    assert cached(str(gz)) == process_liberty_file(str(lib_file))


def test_changed_liberty_content_is_prepared_again(lib_file, tmp_path):
    prepare = Counting()
    cached = liberty_cache.cached(prepare, tmp_path / "cache")
    cached(str(lib_file))
    lib_file.write_text(LIBERTY.replace("0.5", "0.75"), encoding="ascii")
    assert "area : 0.75" in cached(str(lib_file))
    assert prepare.calls == 2


def test_key_covers_the_sc_preparation_code(lib_file):
    assert liberty_cache.entry_key(str(lib_file), "sc 0.38.11\0code") != liberty_cache.entry_key(
        str(lib_file), "sc 0.38.12\0code")


def test_unwritable_cache_still_returns_the_prepared_liberty(lib_file, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    cached = liberty_cache.cached(Counting(), blocker / "cache")
    assert cached(str(lib_file)) == process_liberty_file(str(lib_file))


def test_corrupt_entry_is_never_served(lib_file, tmp_path):
    cache_dir = tmp_path / "cache"
    prepare = Counting()
    cached = liberty_cache.cached(prepare, cache_dir)
    cached(str(lib_file))
    entry = next(cache_dir.glob("*.lib"))
    entry.write_bytes(b"\xff\xfe not ascii")
    assert cached(str(lib_file)) == process_liberty_file(str(lib_file))
    assert prepare.calls == 2


def test_prune_removes_only_long_unused_entries(tmp_path):
    old, recent = tmp_path / "old.lib", tmp_path / "recent.lib"
    old.write_text("x")
    recent.write_text("y")
    past = time.time() - (liberty_cache.MAX_AGE_DAYS + 1) * 86400
    os.utime(old, (past, past))
    assert liberty_cache.prune(tmp_path) == 1
    assert not old.exists() and recent.exists()


def test_install_hooks_sc_once_and_uninstall_restores(tmp_path, restore_sc):
    original = syn_asic.process_liberty_file
    liberty_cache.install(tmp_path)
    hooked = syn_asic.process_liberty_file
    assert hooked is not original and hooked.__wrapped__ is original
    liberty_cache.install(tmp_path)
    assert syn_asic.process_liberty_file is hooked
    liberty_cache.install(tmp_path / "elsewhere")  # another directory wraps SC's function, not the wrapper
    assert syn_asic.process_liberty_file.__wrapped__ is original
    liberty_cache.uninstall()
    assert syn_asic.process_liberty_file is original


def test_real_pdk_liberty_is_prepared_identically(pdk_data_root, tmp_path):
    lib = next(pdk_data_root.glob("lambdapdk/asap7/libs/asap7sc7p5t_rvt/nldm/asap7sc7p5t_SEQ_RVT_SS_nldm.lib*"))
    cached = liberty_cache.cached(process_liberty_file, tmp_path)
    cached(str(lib))
    assert cached(str(lib)) == process_liberty_file(str(lib))


def _synthesis_log(config: Path) -> str:
    return next(config.parent.glob("build/nangate45/*/sc/counter/job0/synthesis/0/sc_synthesis_0.log")).read_text()


def _cell_areas(config: Path) -> list[float]:
    records = sorted((config.parent / "reports" / "history").rglob("*.json"))
    return [json.loads(path.read_text())["metrics"]["area_um2"] for path in records]


@pytest.mark.slow
def test_jobs_fill_and_use_the_cache_with_the_results_sc_alone_gives(toy_project, pdk_data_root, tmp_path):
    cache_home = tmp_path / "xdg-cache"
    env = {"XDG_CACHE_HOME": str(cache_home)}
    config = toy_project(pdks="[nangate45]", data_root=pdk_data_root, extra="flow: {to: synthesis}\n")
    proc = run_cli(config, "run", "--pdk", "nangate45", env=env)
    assert proc.returncode == 0, proc.stderr
    entries = list((cache_home / "halut-orchestrator" / "liberty").glob("*.lib"))
    assert len(entries) == 1  # NanGate45's one typical-corner Liberty file
    assert "taken from cache" not in _synthesis_log(config)

    proc = run_cli(config, "run", "--pdk", "nangate45", "--force", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"taken from cache {entries[0]}" in _synthesis_log(config)

    # SC as shipped (cache off, and an empty cache home it must not touch) gives the same result.
    config.write_text(config.read_text().replace("{to: synthesis}", "{to: synthesis, liberty_cache: false}"))
    other_home = tmp_path / "other-cache"
    proc = run_cli(config, "run", "--pdk", "nangate45", "--force", env={"XDG_CACHE_HOME": str(other_home)})
    assert proc.returncode == 0, proc.stderr
    assert "taken from cache" not in _synthesis_log(config)
    assert not (other_home / "halut-orchestrator" / "liberty").exists()
    areas = _cell_areas(config)
    assert len(areas) == 3 and areas[0] > 0 and len(set(areas)) == 1
