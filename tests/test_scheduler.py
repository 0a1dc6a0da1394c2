"""--scheduler / flow.scheduler: the setting reaches SiliconCompiler's [option,scheduler,*] schema,
and a run on Slurm without the Slurm client stops before any job. Runs through a real cluster:
tests/slurm/."""

from __future__ import annotations

import re

import pytest

from orchestrator import flow
from orchestrator.config import SCHEDULERS
from orchestrator.designs import render_design
from orchestrator.errors import ConfigError
from orchestrator.jobs import Job, load_project
from tests.test_cli import error_lines, history_files, run_cli
from tests.test_flow import ALL_TOOLS, toolchain
from tests.test_sweeps import toy_config


def build(config_path, tmp_path, pdk: str = "nangate45"):
    config = load_project(config_path)
    spec = config.designs[0]
    job = Job(spec=spec, platform=config.platform(pdk), parameters=dict(spec.parameters))
    rendered = render_design(config, spec, job.platform, tmp_path / "inputs")
    return flow.build_project(config, job, rendered, toolchain(*ALL_TOOLS), tmp_path / "sc")


def test_scheduler_settings_reach_sc_option_schema(tmp_path):
    config = toy_config(tmp_path, "flow: {scheduler: slurm, scheduler_queue: eda, "
                                  "scheduler_options: ['--time=02:00:00', '--mem=8G']}\n")
    project = build(config, tmp_path)
    assert project.get("option", "scheduler", "name") == "slurm"
    assert project.get("option", "scheduler", "queue") == "eda"
    assert project.get("option", "scheduler", "options") == ["--time=02:00:00", "--mem=8G"]


def test_without_a_scheduler_nodes_run_on_this_machine(tmp_path):
    project = build(toy_config(tmp_path), tmp_path)
    assert project.get("option", "scheduler", "name") is None


def test_our_scheduler_names_are_ones_sc_schema_accepts():
    from siliconcompiler.schema_support.option import SchedulerSchema

    sc_type = SchedulerSchema().get("name", field="type")  # e.g. "<slurm,lsf,sge,docker>"
    assert set(SCHEDULERS) <= set(re.findall(r"[a-z]+", sc_type))


def test_unsupported_scheduler_in_config_is_one_line(tmp_path):
    config = toy_config(tmp_path, "flow: {scheduler: lsf}\n")
    with pytest.raises(ConfigError) as info:
        load_project(config)
    assert str(info.value) == f"{config}: key 'flow.scheduler': Input should be 'slurm' or 'docker' (value: 'lsf')"


def test_unsupported_scheduler_on_the_command_line_is_one_line_exit_2(tmp_path):
    config = toy_config(tmp_path)
    proc = run_cli(config, "run", "--scheduler", "sge")
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert line.startswith("error: --scheduler: SiliconCompiler ") and "slurm, docker (value: 'sge')" in line
    assert history_files(config) == []


def test_slurm_without_the_slurm_client_is_one_line_before_any_job(tmp_path):
    config = toy_config(tmp_path, "flow: {scheduler_queue: eda}\n", pdks="[nangate45]")
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    proc = run_cli(config, "run", "--scheduler", "slurm", env={"PATH": str(empty_path)})
    assert proc.returncode == 2
    assert error_lines(proc) == [("error: --scheduler slurm: sinfo not found on PATH (install the Slurm client, "
                                  "e.g. Debian package slurm-client, configured for the cluster)")]
    assert history_files(config) == [] and not (tmp_path / "build").exists()
