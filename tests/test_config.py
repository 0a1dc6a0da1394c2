"""config.yaml + platforms/*.yaml: typed, validated, one-line errors naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import PDK_ROOT_ENV, load_platform
from orchestrator.errors import ConfigError
from orchestrator.jobs import load_project


def test_repo_config_reproduces_reference_configurations(repo_root: Path):
    config = load_project(repo_root / "config.yaml")
    params = {spec.name: spec.parameters for spec in config.designs}
    def key(design):
        p = params[design]
        return (p["C"], p["M"], p["DU"], p["dtype"])

    assert key("halut_encoder") == key("halut_decoder") == (32, 4, 2, "int8")
    assert key("halut_matmul") == (16, 8, 4, "int8")
    assert set(config.pdks) == {"asap7", "nangate45"}


def test_platform_reference_clocks_and_ge_cells(repo_root: Path):
    config = load_project(repo_root / "config.yaml")
    asap7, nangate45 = config.platform("asap7"), config.platform("nangate45")
    assert asap7.clock_period_ns == pytest.approx(1.5)
    assert asap7.target_freq_mhz == pytest.approx(666.667, abs=1e-3)
    assert nangate45.target_freq_mhz == pytest.approx(333.333, abs=1e-3)
    assert (asap7.ge_reference_cell, asap7.ge_reference_area_um2) == ("NAND2x1_ASAP7_75t_R", 0.08748)
    assert (nangate45.ge_reference_cell, nangate45.ge_reference_area_um2) == ("NAND2_X1", 0.798)
    assert asap7.stdcell_lib == "asap7sc7p5t_rvt" and nangate45.stdcell_lib == "nangate45"


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("bogus: 1\n", "unknown key 'bogus'"),
        ("flow: {jobs: 0}\n", "key 'flow.jobs'"),
        ("flow: {turbo: true}\n", "unknown key 'flow.turbo'"),
        ("paths: {build_dir: 3}\n", "key 'paths.build_dir'"),
    ],
)
def test_bad_config_key_is_named(toy_project, extra, expected):
    config_path = toy_project(extra=extra)
    with pytest.raises(ConfigError) as info:
        load_project(config_path)
    message = str(info.value)
    assert str(config_path) in message and expected in message
    assert "\n" not in message


def test_unknown_pdk_in_matrix_names_value(toy_project):
    config_path = toy_project(pdks="[asap7, sky999]")
    with pytest.raises(ConfigError, match=r"key 'pdks\[1\]': unknown PDK \(value: 'sky999'"):
        load_project(config_path)


def test_bad_design_parameter_names_parameter(toy_project):
    config_path = toy_project(width=0)
    with pytest.raises(ConfigError, match=r"designs\[0\].*parameter 'WIDTH'.*value: 0"):
        load_project(config_path)


def test_unknown_design_is_an_error(toy_project):
    config_path = toy_project()
    text = config_path.read_text().replace("name: counter", "name: adder")
    config_path.write_text(text)
    with pytest.raises(ConfigError, match=r"unknown design 'adder'"):
        load_project(config_path)


def test_invalid_yaml_reports_line(toy_project):
    config_path = toy_project()
    config_path.write_text("pdks: [asap7\ndesigns: {\n")
    with pytest.raises(ConfigError, match=r"invalid YAML \(line \d+"):
        load_project(config_path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_project(tmp_path / "nope.yaml")


def test_platform_unknown_key_is_error(tmp_path, repo_root):
    text = (repo_root / "platforms" / "nangate45.yaml").read_text() + "turbo_mode: true\n"
    (tmp_path / "nangate45.yaml").write_text(text)
    (tmp_path / "default.sdc.j2").write_text("")
    with pytest.raises(ConfigError, match=r"nangate45.yaml: unknown key 'turbo_mode'"):
        load_platform(tmp_path / "nangate45.yaml")


def test_platform_bad_value_is_named(tmp_path, repo_root):
    text = (repo_root / "platforms" / "asap7.yaml").read_text()
    text = text.replace("core_utilization_pct: 40", "core_utilization_pct: 140")
    (tmp_path / "asap7.yaml").write_text(text)
    (tmp_path / "default.sdc.j2").write_text("")
    with pytest.raises(ConfigError, match=r"key 'core_utilization_pct'.*value: 140"):
        load_platform(tmp_path / "asap7.yaml")


def test_platform_unknown_synthesis_strategy_is_named(tmp_path, repo_root):
    text = (repo_root / "platforms" / "nangate45.yaml").read_text() + "synthesis_strategy: SMALLEST\n"
    (tmp_path / "nangate45.yaml").write_text(text)
    (tmp_path / "default.sdc.j2").write_text("")
    with pytest.raises(ConfigError, match=r"key 'synthesis_strategy'.*value: 'SMALLEST'"):
        load_platform(tmp_path / "nangate45.yaml")


def test_adding_a_platform_is_adding_a_file(toy_project):
    config_path = toy_project(pdks="[asap7, asap7_slow]")
    platforms = config_path.parent / "platforms"
    text = (platforms / "asap7.yaml").read_text().replace("name: asap7", "name: asap7_slow")
    (platforms / "asap7_slow.yaml").write_text(text.replace("clock_period: 1500", "clock_period: 3000"))
    config = load_project(config_path)
    assert config.platform("asap7_slow").target_freq_mhz == pytest.approx(333.333, abs=1e-3)


def test_pdk_data_root_env_overrides_config(toy_project, monkeypatch, tmp_path):
    config_path = toy_project(data_root=tmp_path / "from-config")
    monkeypatch.delenv(PDK_ROOT_ENV, raising=False)
    assert load_project(config_path).resolved_pdk_data_root() == (tmp_path / "from-config").resolve()
    monkeypatch.setenv(PDK_ROOT_ENV, str(tmp_path / "from-env"))
    assert load_project(config_path).resolved_pdk_data_root() == (tmp_path / "from-env").resolve()
