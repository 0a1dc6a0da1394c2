"""Sweeps with an accuracy task: config validation in one line, the task in each job's cache key
and record, the job process filling accuracy_pct / approx_error, check's direction, and the
design-space page plotting GE and power against accuracy."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import accuracy, cache, history
from orchestrator.check import MetricRule, compare_metric
from orchestrator.errors import ConfigError
from orchestrator.jobs import load_project, select_jobs
from orchestrator.record import Metrics, RunRecord
from orchestrator.report import build_site, design_space
from tests.conftest import write_project
from tests.test_cli import error_lines, run_cli

TASK = "{dataset: digits, layer: output, seed: 0}"


def halut_project(tmp_path, sweep: str, data_root="null", pdks="[nangate45]"):
    return write_project(tmp_path, f"pdk_data_root: {data_root}\npdks: {pdks}\n"
                                   "designs:\n  - {name: halut_matmul, parameters: {C: 4, K: 4, M: 2, DU: 1}}\n"
                                   + textwrap.dedent(sweep))


def sweep_block(grid: str = "{C: [4, 8], K: [4]}", task: str = TASK, generator: str = "") -> str:
    return textwrap.dedent(f"""\
        sweeps:
          - name: acc
            design: halut_matmul
            {generator}parameters: {{M: 10, DU: 2}}
            grid: {grid}
            accuracy: {task}
        """)


@pytest.fixture
def no_pdk_root(monkeypatch):
    monkeypatch.delenv("HALUT_PDK_ROOT", raising=False)


def test_each_point_carries_the_normalised_task_and_records_name_it(tmp_path, no_pdk_root):
    config = load_project(halut_project(tmp_path, sweep_block()))
    jobs = select_jobs(config, pdks=["nangate45"], include_matrix=False, sweeps=["acc"])
    assert [j.parameters["C"] for j in jobs] == [4, 8]
    for job in jobs:
        assert job.spec.accuracy == {"dataset": "digits", "layer": "output", "seed": 0,
                                     "options": {"hidden": 32, "ridge": 1.0}}
        assert job.record_parameters["accuracy"] == "digits/output/seed0/hidden=32/ridge=1.0"


def test_a_point_with_a_task_is_not_the_same_job_as_the_matrix_entry_without(tmp_path, no_pdk_root):
    sweep = sweep_block(grid="{C: [4]}").replace("{M: 10, DU: 2}", "{K: 4, M: 2, DU: 1}")
    config = load_project(halut_project(tmp_path, sweep))
    jobs = select_jobs(config, pdks=["nangate45"], sweeps=["acc"])
    assert [j.spec.accuracy is not None for j in jobs] == [False, True]


def test_cache_key_covers_the_task_and_the_learning_code_only_for_accuracy_jobs(tmp_path, no_pdk_root):
    from halut import accuracy as halut_accuracy

    task = accuracy.normalise("halut", {"dataset": "digits"})
    component = accuracy.key_component("halut", task)
    assert component["task"] == task and component["identity"] == halut_accuracy.identity()
    assert component["identity"]["packages"]["numpy"]
    other_seed = accuracy.key_component("halut", {**task, "seed": 1})
    assert cache.job_key(other_seed) != cache.job_key(component)
    assert accuracy.key_component("halut", None) is None


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        (sweep_block(task="{dataset: mnist}"),
         "key 'sweeps[0].accuracy.dataset': unknown dataset (value: 'mnist'; known: digits)"),
        (sweep_block(task="{dataset: digits, layer: conv}"),
         "key 'sweeps[0].accuracy.layer': unknown layer (value: 'conv'; known: output, hidden)"),
        (sweep_block(task="{dataset: digits, options: {hidden: 0}}"),
         "key 'sweeps[0].accuracy.options.hidden': must be >= 1 (value: 0)"),
        (sweep_block(task="[digits]"), "key 'sweeps[0].accuracy': Input should be a valid dictionary"),
        (sweep_block(grid="{C: [4, 64]}"),
         "key 'sweeps[0].grid': point C=64: accuracy: C=64 codebooks exceed the layer's 32 inputs"),
    ],
)
def test_bad_accuracy_block_is_one_line_naming_file_and_key(tmp_path, no_pdk_root, sweep, expected):
    path = halut_project(tmp_path, sweep)
    with pytest.raises(ConfigError) as info:
        load_project(path)
    assert str(info.value).startswith(f"{path}: {expected}")
    assert "\n" not in str(info.value)


def test_generator_without_accuracy_plugin_is_refused(tmp_path, no_pdk_root, monkeypatch):
    import sys
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures"))
    sys.modules.pop("toygen", None)
    path = write_project(tmp_path, "pdks: [nangate45]\ndesigns: [{name: counter, generator: toygen}]\n"
                         "sweeps:\n  - {name: s, design: counter, generator: toygen, grid: {WIDTH: [4]}, "
                         f"accuracy: {TASK}}}\n")
    with pytest.raises(ConfigError, match=r"key 'sweeps\[0\].accuracy': generator 'toygen' cannot measure accuracy"):
        load_project(path)


def test_accuracy_failure_in_the_job_is_one_line(monkeypatch):
    from halut import accuracy as halut_accuracy

    def broken(params, task):
        raise RuntimeError("dataset cache unreadable\nmore detail")

    monkeypatch.setattr(halut_accuracy, "evaluate", broken)
    task = accuracy.normalise("halut", {"dataset": "digits"})
    with pytest.raises(accuracy.AccuracyError, match=r"^accuracy digits/output/seed0/hidden=32/ridge=1.0: "
                                                     r"dataset cache unreadable$"):
        accuracy.evaluate("halut", {"C": 4, "K": 4, "dtype": "int8"}, task)


@pytest.mark.parametrize(("metric", "baseline", "current", "expected"), [
    ("accuracy_pct", 95.0, 93.0, "regressed"),
    ("accuracy_pct", 95.0, 94.7, "ok"),  # default tolerance 0.5 points
    ("accuracy_pct", 95.0, 97.0, "improved"),
    ("approx_error", 0.20, 0.25, "regressed"),
    ("approx_error", 0.20, 0.15, "improved"),
])
def test_check_knows_higher_accuracy_and_lower_error_are_better(metric, baseline, current, expected):
    from orchestrator.check import DEFAULT_RULES

    assert compare_metric(metric, baseline, current, DEFAULT_RULES[metric])[0] == expected
    zero_tolerance = compare_metric(metric, baseline, current, MetricRule())[0]
    assert zero_tolerance == ("regressed" if expected == "ok" else expected)


# ----------------------------------------------------------------------------- real job processes


@pytest.mark.slow
def test_sweep_run_records_accuracy_and_reuses_it_until_the_task_changes(tmp_path, pdk_data_root):
    pytest.importorskip("sklearn", reason="scikit-learn not installed")
    from halut import accuracy as halut_accuracy

    config = halut_project(tmp_path, sweep_block(), data_root=pdk_data_root)
    proc = run_cli(config, "run", "--sweep", "acc", "--to", "elaborate", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    records = history.load_records(config.parent / "reports" / "history")
    assert sorted(r.parameters["C"] for r in records) == [4, 8]
    for record in records:
        want = halut_accuracy.evaluate(record.parameters, {"dataset": "digits"})
        assert record.metrics.accuracy_pct == want["accuracy_pct"]
        assert record.metrics.approx_error == pytest.approx(want["approx_error"])
        assert record.metric_steps["accuracy_pct"] == "accuracy:digits/output/seed0/hidden=32/ridge=1.0"
        assert record.parameters["accuracy"] == "digits/output/seed0/hidden=32/ridge=1.0"

    proc = run_cli(config, "run", "--sweep", "acc", "--to", "elaborate", "--jobs", "2")
    assert proc.returncode == 0 and "0 ran, 2 cached" in proc.stderr, proc.stderr

    config.write_text(config.read_text().replace("seed: 0", "seed: 1"))
    proc = run_cli(config, "run", "--sweep", "acc", "--to", "elaborate", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    # the miss names the changed value (the design entry's accuracy task), not just the component
    assert "2 ran, 0 cached" in proc.stderr and "design changed: accuracy digits/outpu" in proc.stderr


@pytest.mark.slow
def test_unevaluable_task_fails_the_job_in_one_line_without_a_record(tmp_path, pdk_data_root):
    # --param C=64 after validation: the job process finds the point cannot be learned.
    config = halut_project(tmp_path, sweep_block(grid="{K: [4]}"), data_root=pdk_data_root)
    proc = run_cli(config, "run", "--sweep", "acc", "--param", "C=64", "--to", "elaborate")
    assert proc.returncode != 0
    (line,) = [line for line in error_lines(proc) if "codebooks" in line]
    assert "C=64 codebooks exceed the layer's 32 inputs" in line
    assert list((config.parent / "reports" / "history").rglob("*.json")) == []


# ----------------------------------------------------------------------------- design-space page


def acc_record(run_id: str, *, C: int, K: int, ge: float, acc: float, err: float, power: float | None = None,
               task: str = "digits/output/seed0") -> RunRecord:
    return RunRecord(
        run_id=run_id, design="halut_matmul", pdk="asap7", status="partial",
        parameters={"C": C, "K": K, "M": 10, "accuracy": task, "label": f"acc.C={C},K={K}"},
        timestamp=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=C + K),
        metrics=Metrics(area_um2=ge * 0.087, ge=ge, clock_period_ns=1.0, target_freq_mhz=1000.0,
                        accuracy_pct=acc, approx_error=err, power_mw=power),
        metrics_origin="synthesis")


def test_design_space_plots_ge_and_power_against_accuracy_with_the_front(tmp_path):
    records = [acc_record("a", C=4, K=4, ge=1000, acc=72.6, err=0.52, power=0.5),
               acc_record("b", C=8, K=4, ge=1800, acc=85.7, err=0.37, power=0.9),
               acc_record("c", C=8, K=16, ge=6000, acc=84.0, err=0.24, power=2.0),  # dominated by b
               acc_record("d", C=16, K=8, ge=7000, acc=97.6, err=0.18, power=1.5)]
    site = tmp_path / "site"
    build_site(records, site)
    page = site / "design-space" / "asap7" / "halut_matmul.html"
    html = page.read_text()
    assert "held-out accuracy [%] on digits/output/seed0" in html
    assert html.count("<svg") == 4  # target frequency, C·K·M, GE vs accuracy, power vs accuracy
    assert "power [mW] vs accuracy on digits/output/seed0: 3 points on the Pareto front" in html
    assert "gate equivalents [GE] vs accuracy on digits/output/seed0: 3 points on the Pareto front" in html
    for record in records:
        href = f"../../runs/{record.run_id}.html"
        assert f'href="{href}"' in html and (page.parent / href).resolve().is_file()
    assert ">97.600<" in html and ">0.18<" in html  # the table's accuracy and error columns
    assert html.count(">C=16,K=8</text>") == 2  # accuracy plots name their points (GE and power)


def test_accuracies_of_different_tasks_get_their_own_plots():
    points = [design_space.Point(acc_record(f"r{i}", C=4 * (i + 1), K=4, ge=1000.0 * (i + 1), acc=90.0, err=0.2,
                                            task=task), "x.html", "")
              for i, task in enumerate(["digits/output/seed0", "digits/hidden/seed0"])]
    names = [f.name for f in design_space.figures(points, "gate equivalents [GE]")]
    assert "accuracy (gate equivalents) on digits/output/seed0" in names
    assert "accuracy (gate equivalents) on digits/hidden/seed0" in names
    assert all(len(f.points) == 1 for f in design_space.figures(points, "GE [GE]") if "accuracy" in f.name)
