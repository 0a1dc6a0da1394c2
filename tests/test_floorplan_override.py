"""A design's own floorplan per PDK (config.yaml ``designs[].floorplan``), as ORFS keeps
CORE_UTILIZATION / PLACE_DENSITY in each design's config.mk: the job, its cache key and the
closure loop all start from it; the other PDKs keep the platform's."""

from __future__ import annotations

import pytest

from orchestrator import closure
from orchestrator.config import ClosureOptions
from orchestrator.errors import ConfigError
from orchestrator.jobs import load_project, select_jobs

OVERRIDE = """\
            floorplan: {nangate45: {core_utilization_pct: 33, placement_density: 0.5}}
"""


def _with_override(toy_project):
    path = toy_project()
    text = path.read_text(encoding="utf-8").replace("parameters: {WIDTH: 8}\n", "parameters: {WIDTH: 8}\n"
                                                    + OVERRIDE.replace("            ", "    "))
    path.write_text(text, encoding="utf-8")
    return path


def test_a_designs_floorplan_replaces_the_platforms_on_that_pdk_only(toy_project):
    config = load_project(_with_override(toy_project))
    jobs = {job.platform.name: job for job in select_jobs(config, pdks=list(config.pdks))}
    assert (jobs["nangate45"].platform.core_utilization_pct, jobs["nangate45"].platform.placement_density) == (33, 0.5)
    asap7 = config.platform("asap7")
    assert jobs["asap7"].platform == asap7
    # Everything else of the platform is the platform's.
    assert jobs["nangate45"].platform.clock_period == config.platform("nangate45").clock_period


def test_the_closure_loop_relaxes_from_the_designs_floorplan(toy_project):
    config = load_project(_with_override(toy_project))
    job = next(j for j in select_jobs(config, pdks=["nangate45"]))
    options = ClosureOptions(max_attempts=2, core_utilization_step_pct=5, placement_density_step=0.05)
    assert closure.floorplan(job.platform, options, 1) == closure.Floorplan(33, 0.5)
    assert closure.floorplan(job.platform, options, 2) == closure.Floorplan(28, 0.45)


def test_the_floorplan_is_part_of_the_jobs_identity(toy_project):
    from orchestrator import cache

    config = load_project(_with_override(toy_project))
    job = select_jobs(config, pdks=["nangate45"])[0]
    # The cache key hashes the job's platform model: the override reaches it.
    digest = lambda platform: cache._sha256(cache._canonical(platform.model_dump(mode="json")))  # noqa: E731
    assert digest(job.platform) != digest(config.platform("nangate45"))


@pytest.mark.parametrize("block, expected", [
    ("floorplan: {sky130: {core_utilization_pct: 30}}",
     "key 'designs[0].floorplan.sky130': unknown PDK (value: 'sky130')"),
    ("floorplan: {nangate45: {core_utilization_pct: 0}}",
     "key 'designs[0].floorplan.nangate45.core_utilization_pct': Input should be greater than 0 (value: 0)"),
    ("floorplan: {nangate45: {placement_density: 1.5}}",
     "key 'designs[0].floorplan.nangate45.placement_density': Input should be less than or equal to 1"),
    ("floorplan: {nangate45: {utilisation: 30}}", "unknown key 'designs[0].floorplan.nangate45.utilisation'"),
])
def test_a_bad_floorplan_is_refused_naming_its_key(toy_project, block, expected):
    path = toy_project()
    path.write_text(path.read_text(encoding="utf-8").replace("parameters: {WIDTH: 8}\n",
                                                             f"parameters: {{WIDTH: 8}}\n    {block}\n"),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_project(path)
    assert expected in str(excinfo.value)
    assert "\n" not in str(excinfo.value).strip()


def test_the_job_process_runs_with_the_designs_floorplan(toy_project, tmp_path):
    # The child rebuilds its job from the request: it must see the floorplan the parent's key hashed
    # (it ran the platform's 45 % for a design entry that asked for 40 %).
    from orchestrator.designs import render_design
    from orchestrator.job_process import JobRequest
    from orchestrator.tools import Toolchain

    config = load_project(_with_override(toy_project))
    job = select_jobs(config, pdks=["nangate45"])[0]
    rendered = render_design(config, job.spec, job.platform, tmp_path / "inputs")
    request = JobRequest(config=config, spec=job.spec, pdk="nangate45", rendered=rendered, toolchain=Toolchain({}),
                         job_key="k", result=tmp_path / "r.json", log=tmp_path / "l.log")
    child = JobRequest.model_validate_json(request.model_dump_json()).job()
    assert (child.platform.core_utilization_pct, child.platform.placement_density) == (33, 0.5)
    assert child.platform == job.platform
