"""The job cache: what the key covers, that a change invalidates exactly the jobs it affects, and
that an unchanged job reuses its record (marked cached) while --force and changes re-run it."""

from __future__ import annotations

import dataclasses
import os
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator import cache, history
from orchestrator.designs import render_design
from orchestrator.jobs import load_project, select_jobs
from orchestrator.record import Metrics, RunRecord, StepInfo
from orchestrator.tools import Toolchain, ToolStatus
from tests.conftest import write_project
from tests.test_cli import error_lines, run_cli
from tests.test_parallel import processes_running_in

GENERATOR = '''\
"""Two designs from Jinja2 template files, to see which jobs a template edit touches."""
from pathlib import Path
from types import SimpleNamespace
import jinja2
DESIGNS = ("alpha", "beta")
TEMPLATES = Path(__file__).parent / "templates"
def validate_params(design, params):
    params = dict(params)
    width = params.pop("WIDTH", 8)
    if params:
        raise ValueError(f"parameter '{next(iter(params))}': unknown")
    return {"WIDTH": width}
def render(design, params, out_dir):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{design}.v"
    path.write_text(env.get_template(f"{design}.v.j2").render(**validate_params(design, params)))
    return SimpleNamespace(top=design, files=[path])
'''

TEMPLATE = "module {name}(input clk_i, output reg [{{{{ WIDTH - 1 }}}}:0] q);\nendmodule\n"


def toolchain(**versions: str | None) -> Toolchain:
    """Flow tools as detected: version string, or None for a missing tool."""
    present = {"yosys": "0.70", "pyslang": "11.0.0", "openroad": None, "sta": None, "klayout": None,
               "iverilog": "11.0"}
    present.update(versions)
    return Toolchain({name: ToolStatus(name, version is not None, version, f"/opt/{name}" if version else None,
                                       sc_path_dir="/opt/bridge" if name == "yosys" else None)
                      for name, version in present.items()})


def fake_pdk_root(root: Path) -> Path:
    for rel in ("asap7/base/techlef/asap7.lef", "asap7/libs/asap7sc7p5t_rvt/nldm/rvt_tt.lib",
                "freepdk45/base/techlef/freepdk45.lef", "freepdk45/libs/nangate45/nldm/typical.lib",
                "freepdk45/libs/fakeram45/nldm/ram.lib"):
        path = root / "lambdapdk" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"library ({path.stem}) {{ }}\n")
    return root


@pytest.fixture
def template_project(tmp_path, monkeypatch):
    """A project with designs alpha (WIDTH 8) and beta (WIDTH 4) from a template generator, on both PDKs."""
    monkeypatch.delenv("HALUT_PDK_ROOT", raising=False)
    name = f"tplgen_{uuid.uuid4().hex[:10]}"  # fresh module per test: generators are imported by name
    package = tmp_path / "generators" / name
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text(GENERATOR)
    for design in ("alpha", "beta"):
        (package / "templates" / f"{design}.v.j2").write_text(TEMPLATE.format(name=design))
    monkeypatch.syspath_prepend(str(tmp_path / "generators"))
    data_root = fake_pdk_root(tmp_path / "pdk")
    config = write_project(tmp_path / "project", textwrap.dedent(f"""\
        pdk_data_root: {data_root}
        pdks: [asap7, nangate45]
        designs:
          - {{name: alpha, generator: {name}, parameters: {{WIDTH: 8}}}}
          - {{name: beta, generator: {name}, parameters: {{WIDTH: 4}}}}
        """))
    return config, package, data_root


def job_keys(config_path: Path, tools: Toolchain | None = None, to: str | None = None) -> dict[str, str]:
    """Job name -> key, rendering each job into a fresh directory (as a new run would)."""
    config = load_project(config_path)
    keys = {}
    for job in select_jobs(config, pdks=list(config.pdks)):
        out = config_path.parent / "render" / uuid.uuid4().hex
        rendered = render_design(config, job.spec, job.platform, out)
        keys[job.name] = cache.job_key(cache.key_components(config, job, rendered, tools or toolchain(), to))
    return keys


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


ALL_JOBS = {"alpha-asap7", "alpha-nangate45", "beta-asap7", "beta-nangate45"}


def test_key_is_the_same_for_unchanged_inputs_wherever_they_are_rendered(template_project):
    config, _, _ = template_project
    first = job_keys(config)
    assert len(set(first.values())) == 4  # every job has its own key
    assert changed(first, job_keys(config)) == set()


def test_changed_template_invalidates_only_the_design_rendered_from_it(template_project):
    config, package, _ = template_project
    before = job_keys(config)
    template = package / "templates" / "beta.v.j2"
    template.write_text(template.read_text().replace("endmodule", "  // retimed\nendmodule"))
    assert changed(before, job_keys(config)) == {"beta-asap7", "beta-nangate45"}


def test_changed_parameter_invalidates_only_that_designs_jobs(template_project):
    config, _, _ = template_project
    before = job_keys(config)
    config.write_text(config.read_text().replace("WIDTH: 4", "WIDTH: 5"))
    assert changed(before, job_keys(config)) == {"beta-asap7", "beta-nangate45"}


@pytest.mark.parametrize("setting, value", [("ge_reference_area_um2: 0.798", "ge_reference_area_um2: 0.8"),
                                            ("clock_period: 3.0", "clock_period: 2.5"),
                                            ("core_utilization_pct: 45", "core_utilization_pct: 50"),
                                            ("sdc_template:", "synthesis_strategy: AREA3\nsdc_template:")])
def test_changed_platform_setting_invalidates_only_that_pdks_jobs(template_project, setting, value):
    config, _, _ = template_project
    before = job_keys(config)
    platform = config.parent / "platforms" / "nangate45.yaml"
    assert setting in platform.read_text()
    platform.write_text(platform.read_text().replace(setting, value))
    assert changed(before, job_keys(config)) == {"alpha-nangate45", "beta-nangate45"}


def test_changed_sdc_template_invalidates_every_job_that_uses_it(template_project):
    config, _, _ = template_project
    before = job_keys(config)
    sdc = config.parent / "platforms" / "default.sdc.j2"
    sdc.write_text(sdc.read_text() + "# set_max_fanout 16 [current_design]\n")
    assert changed(before, job_keys(config)) == ALL_JOBS


@pytest.mark.parametrize("tools", [{"yosys": "0.71"}, {"pyslang": "11.1.0"}, {"openroad": "26Q1"},
                                   {"klayout": "0.30.1"}])
def test_changed_flow_tool_version_or_presence_invalidates_every_job(template_project, tools):
    config, _, _ = template_project
    assert changed(job_keys(config), job_keys(config, toolchain(**tools))) == ALL_JOBS


def test_tools_outside_the_flow_do_not_invalidate(template_project):
    config, _, _ = template_project
    assert changed(job_keys(config), job_keys(config, toolchain(iverilog="12.0"))) == set()


def test_last_step_asked_for_is_part_of_the_key(template_project):
    config, _, _ = template_project
    assert changed(job_keys(config), job_keys(config, to="synthesis")) == ALL_JOBS


def test_changed_pdk_data_invalidates_only_that_pdk(template_project):
    config, _, data_root = template_project
    before = job_keys(config)
    liberty = data_root / "lambdapdk" / "freepdk45" / "libs" / "nangate45" / "nldm" / "typical.lib"
    liberty.write_text(liberty.read_text() + "/* re-characterised */\n")
    assert changed(before, job_keys(config)) == {"alpha-nangate45", "beta-nangate45"}


def test_pdk_data_of_libraries_the_platform_does_not_use_is_ignored(template_project):
    config, _, data_root = template_project
    before = job_keys(config)
    ram = data_root / "lambdapdk" / "freepdk45" / "libs" / "fakeram45" / "nldm" / "ram.lib"
    ram.write_text("library (ram) { cell (sram) { } }\n")
    os.utime(ram, ns=(1, 1))
    assert changed(before, job_keys(config)) == set()


def test_changed_components_name_what_changed(template_project):
    config_path, _, _ = template_project
    config = load_project(config_path)
    job = select_jobs(config, pdks=["nangate45"], designs=["alpha"])[0]
    rendered = render_design(config, job.spec, job.platform, config_path.parent / "r")
    old = cache.key_components(config, job, rendered, toolchain(), None)
    new = cache.key_components(config, job, rendered, toolchain(yosys="0.71"), "synthesis")
    assert cache.changed_components(old, new) == ["flow", "tools"]
    assert cache.changed_components(None, new) == []


def test_a_cache_miss_names_the_changed_keys_and_values(template_project):
    config_path, _, _ = template_project
    config = load_project(config_path)

    def components(width: int, tools: Toolchain, to: str | None):
        job = select_jobs(config, pdks=["nangate45"], designs=["alpha"], overrides={"WIDTH": width})[0]
        out = config_path.parent / "render" / uuid.uuid4().hex
        rendered = render_design(config, job.spec, job.platform, out)
        return job, cache.key_components(config, job, rendered, tools, to)

    _, old = components(32, toolchain(openroad="24Q3-2011"), None)
    job, new = components(8, toolchain(), "synthesis")  # OpenROAD went missing, --to synthesis
    assert cache.explain_changes(old, new) == [
        "design changed: WIDTH 32 -> 8",
        "rtl changed",  # a digest: nothing a reader could compare
        "flow changed: to none -> synthesis",
        "tools changed: tools.openroad 24Q3-2011 -> none",
    ]

    # What `run` prints beside "starting": the same words, from the key file the last miss left.
    build_dir = config_path.parent / "build" / "alpha"
    cache.decide(cache.HistoryIndex(), job, old, build_dir, force=False, now=datetime.now(UTC))
    decision = cache.decide(cache.HistoryIndex(), job, new, build_dir, force=False, now=datetime.now(UTC))
    assert decision.reuse is None and decision.reason.startswith("design changed: WIDTH 32 -> 8; rtl changed; ")


# ----------------------------------------------------------------------------- reuse


def record(run_id: str, *, key: str | None, status: str = "pass", minutes: int = 0, source: str = "siliconcompiler",
           area: float = 10.0) -> RunRecord:
    return RunRecord(run_id=run_id, design="alpha", pdk="nangate45", source=source, parameters={"WIDTH": 8},
                     timestamp=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
                     status=status, job_key=key, metrics=Metrics(area_um2=area))


def test_history_index_finds_the_newest_passing_or_partial_record_with_the_key(tmp_path):
    for rec in (record("a", key="k1", minutes=0, area=1.0),
                record("b", key="k1", status="partial", minutes=5, area=2.0),
                record("c", key="k1", status="fail", minutes=9, area=3.0),  # failures are re-run
                record("d", key="k1", source="orfs", minutes=10, area=4.0),  # imports are not our jobs
                record("e", key="k2", minutes=1, area=5.0)):
        history.write_record(tmp_path, rec)
    index = cache.HistoryIndex.scan(tmp_path, [("nangate45", "alpha")])
    assert index.lookup("k1").run_id == "b"
    assert index.lookup("k2").metrics.area_um2 == 5.0
    assert index.lookup("k3") is None


def test_reused_record_is_a_new_record_marked_cached(tmp_path):
    config = load_project(write_project(tmp_path, "pdks: [nangate45]\ndesigns: [{name: counter, generator: toygen}]\n"))
    job = select_jobs(config, pdks=["nangate45"])[0]
    previous = record("20260101T000000000000Z-counter-nangate45-00000000", key="k1")
    now = datetime(2026, 2, 1, tzinfo=UTC)
    reused = cache.reuse_record(previous, job, now)
    assert reused.cached and not previous.cached
    assert reused.run_id != previous.run_id and reused.run_id.startswith("20260201T")
    assert reused.timestamp == now and reused.job_key == "k1"
    assert reused.metrics == previous.metrics


@pytest.mark.slow
def test_unchanged_jobs_are_reused_changed_ones_rerun_and_force_reruns_all(tmp_path, pdk_data_root):
    config = write_project(tmp_path, textwrap.dedent(f"""\
        pdk_data_root: {pdk_data_root}
        pdks: [nangate45]
        designs:
          - {{name: counter, generator: toygen, parameters: {{WIDTH: 8}}}}
          - {{name: counter, generator: toygen, parameters: {{WIDTH: 4}}, label: narrow}}
        flow: {{to: synthesis}}
        """))
    history_dir = tmp_path / "reports" / "history"

    def run(*args):
        proc = run_cli(config, "run", "--jobs", "2", *args)
        assert proc.returncode == 0, proc.stderr
        return proc, history.load_records(history_dir)

    proc, cold = run()
    assert "2 ran, 0 cached" in proc.stderr and not any(r.cached for r in cold)

    proc, warm = run()
    assert "0 ran, 2 cached" in proc.stderr and "pass*" in proc.stdout
    reused = [r for r in warm if r.cached]
    assert len(warm) == 4 and len(reused) == 2
    by_key = {r.job_key: r for r in cold}
    for r in reused:
        assert r.run_id not in {c.run_id for c in cold}
        assert r.metrics == by_key[r.job_key].metrics

    config.write_text(config.read_text().replace("WIDTH: 4", "WIDTH: 5"))
    proc, changed_run = run()
    assert "1 ran, 1 cached" in proc.stderr
    assert "counter-narrow-nangate45: starting (design changed: WIDTH 4 -> 5; rtl changed)" in proc.stderr
    newest = changed_run[-2:]
    assert {(r.parameters.get("label"), r.cached) for r in newest} == {("narrow", False), (None, True)}
    assert [r for r in newest if not r.cached][0].metrics.register_count == 5

    proc, forced = run("--force")
    assert "2 ran, 0 cached" in proc.stderr and "(--force)" in proc.stderr
    assert len(forced) == 8
    assert processes_running_in(tmp_path) == []  # no job process or SC helper outlives the run


def test_run_rejects_a_non_positive_jobs_count(tmp_path):
    config = write_project(tmp_path, "pdks: [nangate45]\ndesigns: [{name: counter, generator: toygen}]\n")
    proc = run_cli(config, "run", "--jobs", "0")
    assert proc.returncode == 2 and error_lines(proc) == ["error: --jobs: must be >= 1 (value: 0)"]
    assert "Traceback" not in proc.stderr


def test_the_key_hashes_every_module_but_the_readers_of_records():
    package = Path(cache.__file__).resolve().parent
    hashed = {path.relative_to(package).as_posix() for path in cache.result_module_files()}
    everything = {path.relative_to(package).as_posix() for path in package.rglob("*.py")}
    readers = {name for name in everything if name.split("/")[0].removesuffix(".py")
               in {"report", "check", "cli", "history", "progress", "orfs_import", "docgen", "__main__"}}
    assert hashed == everything - readers
    assert {"jobs.py", "job_process.py", "runner.py", "flow.py", "metrics.py", "record.py"} <= hashed
    assert not any(name.startswith("report/") for name in hashed)


def test_closure_loop_settings_change_the_key(template_project):
    config_path, _, _ = template_project
    before = job_keys(config_path)
    text = config_path.read_text()
    config_path.write_text(text + "flow:\n  closure: {max_attempts: 5}\n")
    after = job_keys(config_path)
    assert all(before[name] != after[name] for name in before)


def test_detailed_route_end_iteration_changes_the_key_and_unset_keeps_it(template_project):
    config_path, _, _ = template_project
    text = config_path.read_text()
    before = job_keys(config_path)
    config_path.write_text(text + "flow:\n  detailed_route_end_iteration: null\n")
    assert job_keys(config_path) == before  # unset is OpenROAD's default: the same computation
    config_path.write_text(text + "flow:\n  detailed_route_end_iteration: 20\n")
    after = job_keys(config_path)
    assert all(before[name] != after[name] for name in before)


def _alpha_components(config_path: Path, to: str | None):
    config = load_project(config_path)
    job = select_jobs(config, pdks=["nangate45"], designs=["alpha"])[0]
    rendered = render_design(config, job.spec, job.platform, config_path.parent / "render" / uuid.uuid4().hex)
    components = cache.key_components(config, job, rendered, toolchain(), to)
    return dataclasses.replace(job, key=cache.job_key(components)), components


@pytest.mark.parametrize("ran, reused", [({"elaborate": "success", "synthesis": "success", "floorplan.init": "success"},
                                          True),
                                         ({"elaborate": "success", "synthesis": "skipped"}, False)])
def test_a_to_step_job_reuses_the_whole_flow_run_that_finished_that_step(template_project, tmp_path, ran, reused):
    config_path, _, _ = template_project
    _, full = _alpha_components(config_path, None)
    job, short = _alpha_components(config_path, "synthesis")
    history_dir = tmp_path / "hist"
    whole_run = record("20260101T000000000000Z-alpha-nangate45-00000000", key=cache.job_key(full), status="partial")
    whole_run.steps = [StepInfo(step=step, status=status) for step, status in ran.items()]
    history.write_record(history_dir, whole_run)
    index = cache.HistoryIndex.scan(history_dir, [("nangate45", "alpha")])
    decision = cache.decide(index, job, short, tmp_path / "build", force=False, now=datetime.now(UTC))
    assert (decision.reuse is not None) == reused
    if reused:
        assert decision.reuse.cached and decision.reuse.metrics == whole_run.metrics
    # The other way round never holds: a --to synthesis record says nothing of the steps after it.
    index_short = cache.HistoryIndex()
    index_short.reusable[job.key] = index.reusable[cache.job_key(full)]
    full_job = dataclasses.replace(job, key=cache.job_key(full))
    assert cache.decide(index_short, full_job, full, tmp_path / "b2", force=False, now=datetime.now(UTC)).reuse is None
