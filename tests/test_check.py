"""The regression gate: directions, tolerances, bounds, status/stage loss, baseline files, rendering."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from orchestrator import check
from orchestrator.check import (
    DEFAULT_RULES,
    METRIC_BETTER,
    BaselineError,
    MetricRule,
    compare_metric,
    load_baseline,
    render_markdown,
    render_table_text,
    run_check,
    update_baseline,
    write_step_summary,
)
from orchestrator.record import METRIC_NAMES, Metrics, RunRecord, SkippedStage, StepInfo, make_run_id
from tests.orfs_reference import reference_path

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = reference_path(REPO_ROOT)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HALUT_DESIGNS = ["halut_encoder", "halut_decoder", "halut_matmul"]
FULL_FLOW = ("syn", "floorplan", "place", "cts", "route", "write_gds")


def make_record(
    design: str = "halut_encoder",
    pdk: str = "asap7",
    *,
    day: int = 0,
    status: str = "pass",
    stages: tuple[str, ...] = FULL_FLOW,
    runtimes: tuple[float, ...] | None = None,
    parameters: dict | None = None,
    **metrics,
) -> RunRecord:
    timestamp = T0 + timedelta(days=day)
    parameters = parameters if parameters is not None else {"C": 32}
    runtimes = runtimes or (None,) * len(stages)
    return RunRecord(
        run_id=make_run_id(design, pdk, parameters, timestamp),
        design=design,
        pdk=pdk,
        parameters=parameters,
        timestamp=timestamp,
        status=status,
        reason=None if status == "pass" else "route: detailed routing failed",
        stage_reached=stages[-1] if stages else None,
        metrics=Metrics(**metrics),
        steps=[StepInfo(step=s, runtime_s=t) for s, t in zip(stages, runtimes, strict=True)],
    )


GOOD = dict(area_um2=1000.0, stdcell_count=5000, ge=11431.0, target_freq_mhz=666.7, wns_ns=0.0, tns_ns=0.0,
            utilization_pct=45.0, power_mw=2.5)


def baseline_file(tmp_path: Path, entries: dict | None = None, rules: dict | None = None) -> Path:
    """A baseline file with the default rules (or ``rules``) and hand-written entries."""
    data = {
        "schema_version": 1,
        "rules": (rules if rules is not None
                  else {m: r.model_dump(exclude_defaults=True) for m, r in DEFAULT_RULES.items()}),
        "baseline": entries or {},
    }
    path = tmp_path / "baseline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def verdicts(result) -> dict[tuple[str, str, str], str]:
    return {(row.pdk, row.design, row.metric): row.verdict for row in result.rows}


# ------------------------------------------------------------------ the physics


def test_every_record_metric_has_a_physical_direction():
    assert set(METRIC_NAMES) | {"total_runtime_s"} == set(METRIC_BETTER)


LOWER_IS_BETTER = ["area_um2", "stdcell_count", "ge", "register_count", "power_mw", "total_runtime_s",
                   "die_area_um2", "core_area_um2", "clock_period_ns", "approx_error"]
HIGHER_IS_BETTER = ["target_freq_mhz", "fmax_mhz", "wns_ns", "tns_ns", "accuracy_pct"]


@pytest.mark.parametrize("metric", LOWER_IS_BETTER)
def test_larger_is_worse_for_size_power_and_runtime(metric):
    rule = MetricRule(rel_tol_pct=2.0)
    assert compare_metric(metric, 100.0, 103.0, rule)[0] == "regressed"
    assert compare_metric(metric, 100.0, 101.0, rule)[0] == "ok"
    assert compare_metric(metric, 100.0, 90.0, rule)[0] == "improved"


@pytest.mark.parametrize("metric", ["target_freq_mhz", "fmax_mhz"])
def test_lower_frequency_is_worse(metric):
    rule = MetricRule(rel_tol_pct=1.0)
    assert compare_metric(metric, 500.0, 480.0, rule)[0] == "regressed"
    assert compare_metric(metric, 500.0, 497.0, rule)[0] == "ok"
    assert compare_metric(metric, 500.0, 700.0, rule)[0] == "improved"


@pytest.mark.parametrize(
    "metric, baseline, current, rule, expected",
    [
        # WNS/TNS are <= 0; more negative is worse.
        ("wns_ns", -0.10, -0.20, MetricRule(abs_tol=0.01), "regressed"),
        ("wns_ns", -0.20, -0.10, MetricRule(abs_tol=0.01), "improved"),
        ("wns_ns", -0.10, -0.105, MetricRule(abs_tol=0.01), "ok"),
        ("tns_ns", -5.0, -5.2, MetricRule(rel_tol_pct=5.0), "ok"),  # 4% worse, 5% allowed
        ("tns_ns", -5.0, -5.5, MetricRule(rel_tol_pct=5.0), "regressed"),
        # A TNS baseline of 0: relative tolerance allows nothing, only abs_tol does.
        ("tns_ns", 0.0, -0.5, MetricRule(rel_tol_pct=5.0, abs_tol=0.01), "regressed"),
        ("tns_ns", 0.0, -0.011, MetricRule(rel_tol_pct=5.0, abs_tol=0.01), "regressed"),
        ("tns_ns", 0.0, -0.005, MetricRule(rel_tol_pct=5.0, abs_tol=0.01), "ok"),
        ("tns_ns", 0.0, -1e-6, MetricRule(rel_tol_pct=50.0), "regressed"),
        ("tns_ns", 0.0, 0.0, MetricRule(), "ok"),
        # Improvements never fail, whatever the tolerance.
        ("tns_ns", -11.34, 0.0, MetricRule(), "improved"),
        ("wns_ns", -0.28, 0.0, MetricRule(), "improved"),
        ("area_um2", 4844.5, 4436.6, MetricRule(), "improved"),
        ("target_freq_mhz", 625.0, 666.7, MetricRule(), "improved"),
    ],
)
def test_timing_slack_directions(metric, baseline, current, rule, expected):
    assert compare_metric(metric, baseline, current, rule)[0] == expected


@pytest.mark.parametrize("metric", LOWER_IS_BETTER + HIGHER_IS_BETTER)
def test_an_improvement_never_fails_with_zero_tolerance(metric):
    baseline = -10.0 if metric in ("wns_ns", "tns_ns") else 10.0
    better = baseline * (0.5 if METRIC_BETTER[metric] == "lower" else 1.5)
    if metric in ("wns_ns", "tns_ns"):
        better = -5.0
    assert compare_metric(metric, baseline, better, MetricRule())[0] == "improved"


@pytest.mark.parametrize(
    "baseline, current, rule, expected",
    [
        (100.0, 102.0, MetricRule(rel_tol_pct=2.0), "ok"),  # exactly at the limit holds
        (100.0, 102.01, MetricRule(rel_tol_pct=2.0), "regressed"),
        (1000.0, 1040.0, MetricRule(rel_tol_pct=1.0, abs_tol=50.0), "ok"),  # the larger tolerance applies
        (1000.0, 1060.0, MetricRule(rel_tol_pct=1.0, abs_tol=50.0), "regressed"),
        (1000.0, 1015.0, MetricRule(rel_tol_pct=2.0, abs_tol=5.0), "ok"),
        (1000.0, 1000.0, MetricRule(), "ok"),
        (1000.0, 1000.001, MetricRule(), "regressed"),  # no tolerance: any growth
        (0.0, 1.0, MetricRule(rel_tol_pct=10.0), "regressed"),  # relative of 0 is 0
    ],
)
def test_relative_and_absolute_tolerances(baseline, current, rule, expected):
    assert compare_metric("area_um2", baseline, current, rule)[0] == expected


@pytest.mark.parametrize(
    "baseline, current, expected",
    [
        (45.0, 50.0, "ok"),  # no better side: any move inside the bounds holds
        (45.0, 30.0, "ok"),
        (45.0, 80.0, "out of bounds"),
        (45.0, 12.0, "out of bounds"),
        (None, 80.0, "out of bounds"),  # bounds hold without a baseline value
        (None, 50.0, "new"),
        (90.0, 70.0, "ok"),  # bounds judge the current run, not the baseline
    ],
)
def test_utilisation_outside_bounds_fails(baseline, current, expected):
    rule = DEFAULT_RULES["utilization_pct"]
    assert (rule.min, rule.max) == (20.0, 75.0)
    assert compare_metric("utilization_pct", baseline, current, rule)[0] == expected


def test_bounds_fail_even_when_the_direction_holds():
    verdict, detail = compare_metric("area_um2", 1000.0, 1001.0, MetricRule(rel_tol_pct=5, max=1000.5))
    assert verdict == "out of bounds" and "above max 1000.5" in detail


@pytest.mark.parametrize(
    "baseline, current, expected",
    [(4844.5, None, "missing"), (None, None, None), (None, 12.0, "new")],
)
def test_a_missing_metric_is_reported_not_read_as_zero(baseline, current, expected):
    judged = compare_metric("area_um2", baseline, current, MetricRule(rel_tol_pct=2))
    assert (judged[0] if judged else None) == expected
    if expected == "missing":
        assert "not treated as 0" in judged[1]


@pytest.mark.parametrize(
    "baseline, current, expected",
    [(100.0, 110.0, 10.0), (-0.2, -0.1, 50.0), (0.0, 0.0, 0.0), (0.0, -0.3, None), (None, 1.0, None)],
)
def test_delta_percent(baseline, current, expected):
    if expected is None:
        assert check.delta_pct(baseline, current) is None
    else:
        assert check.delta_pct(baseline, current) == pytest.approx(expected)


# ------------------------------------------------------------------ whole runs


@pytest.fixture
def baselined(tmp_path):
    """(path, records): a baseline taken from day-0 runs of two designs on asap7 and one on nangate45."""
    records = [
        make_record("halut_encoder", "asap7", **GOOD),
        make_record("halut_decoder", "asap7", **GOOD),
        make_record("halut_matmul", "nangate45", **GOOD),
    ]
    path = update_baseline(records, baseline_file(tmp_path))
    return path, records


def test_unchanged_recheck_passes(baselined):
    path, records = baselined
    result = run_check(records, path)
    assert result.exit_code == 0, render_table_text(result)
    assert {row.verdict for row in result.rows} == {"ok"}
    assert {(d.pdk, d.design) for d in result.designs} == {
        ("asap7", "halut_encoder"), ("asap7", "halut_decoder"), ("nangate45", "halut_matmul")}


def test_the_latest_run_is_judged(baselined):
    path, records = baselined
    worse = make_record("halut_encoder", day=1, **{**GOOD, "area_um2": 1100.0})
    fixed = make_record("halut_encoder", day=2, **GOOD)
    assert run_check(records + [worse], path).exit_code == 1
    assert run_check(records + [fixed, worse], path).exit_code == 0  # order in the list does not matter


def test_a_design_that_passed_and_now_fails_is_a_regression(baselined):
    path, records = baselined
    failed = make_record("halut_decoder", day=1, status="fail", stages=("syn", "floorplan", "place"),
                         area_um2=1000.0, stdcell_count=5000)
    result = run_check(records + [failed], path)
    status = next(r for r in result.rows if r.design == "halut_decoder" and r.metric == "status")
    assert (status.baseline, status.current, status.verdict) == ("pass", "fail", "regressed")
    assert "detailed routing failed" in status.detail
    assert result.exit_code == 1


def test_a_lost_stage_is_a_regression(baselined):
    path, records = baselined
    # "partial": the tools for routing were missing, so the run skipped it.
    partial = make_record("halut_encoder", day=1, stages=("syn", "floorplan", "place", "cts"), **GOOD)
    partial = partial.model_copy(update={"status": "pass", "skipped_stages": [SkippedStage(step="route", reason="x")]})
    result = run_check(records + [partial], path)
    stages = next(r for r in result.rows if r.design == "halut_encoder" and r.metric == "stages")
    assert stages.verdict == "regressed"
    assert stages.detail == "lost: route, write_gds"
    assert result.exit_code == 1


def test_missing_metrics_are_reported_and_fail(baselined):
    path, records = baselined
    no_power = make_record("halut_matmul", "nangate45", day=1, **{**GOOD, "power_mw": None})
    result = run_check(records + [no_power], path)
    row = next(r for r in result.rows if r.metric == "power_mw" and r.design == "halut_matmul")
    assert (row.baseline, row.current, row.verdict) == (2.5, None, "missing")
    assert result.exit_code == 1


def test_a_baselined_design_without_a_run_is_missing(baselined):
    path, records = baselined
    result = run_check(records[:2], path)
    assert verdicts(result)[("nangate45", "halut_matmul", "run")] == "missing"
    assert result.exit_code == 1


def test_a_new_design_is_reported_and_judged_by_status_and_bounds(baselined):
    path, records = baselined
    new_ok = make_record("counter", **GOOD)
    assert run_check(records + [new_ok], path).exit_code == 0
    result = run_check(records + [new_ok], path)
    assert verdicts(result)[("asap7", "counter", "area_um2")] == "new"
    assert any("no baseline entry" in n for d in result.designs for n in d.notes)
    crowded = make_record("counter", **{**GOOD, "utilization_pct": 91.0})
    assert verdicts(run_check(records + [crowded], path))[("asap7", "counter", "utilization_pct")] == "out of bounds"
    broken = make_record("counter", status="fail", stages=("syn",))
    assert verdicts(run_check(records + [broken], path))[("asap7", "counter", "status")] == "failed"


def test_pdk_and_design_selection(baselined):
    path, records = baselined
    worse = make_record("halut_matmul", "nangate45", day=1, **{**GOOD, "area_um2": 2000.0})
    assert run_check(records + [worse], path, pdks=["asap7"]).exit_code == 0
    assert run_check(records + [worse], path, pdks=["nangate45"]).exit_code == 1
    only = run_check(records + [worse], path, designs=["halut_encoder"])
    assert {d.design for d in only.designs} == {"halut_encoder"}
    # The nightly matrix checks one PDK whose history holds only that PDK's runs: no "missing run" for the other.
    assert run_check([records[0], records[1]], path, pdks=["asap7"]).exit_code == 0


def test_runtime_is_the_sum_of_step_wall_times(tmp_path):
    base = make_record(runtimes=(10.0, 20.0, 30.0, 40.0, 50.0, 50.0), **GOOD)
    path = update_baseline([base], baseline_file(tmp_path))
    assert load_baseline(path).entry("asap7", "halut_encoder").metrics["total_runtime_s"] == 200.0
    slower = make_record(day=1, runtimes=(10.0, 20.0, 30.0, 40.0, 50.0, 150.0), **GOOD)  # +100 s = +50 %
    row = next(r for r in run_check([slower], path).rows if r.metric == "total_runtime_s")
    assert (row.current, row.verdict) == (300.0, "regressed")
    assert row.delta_pct == pytest.approx(50.0)


def test_per_design_rules_override_the_global_rule(tmp_path):
    base = make_record(**GOOD)
    path = update_baseline([base], baseline_file(tmp_path))
    data = yaml.safe_load(path.read_text())
    data["baseline"]["asap7"]["halut_encoder"]["rules"] = {"area_um2": {"rel_tol_pct": 15}}
    path.write_text(yaml.safe_dump(data))
    bigger = make_record(day=1, **{**GOOD, "area_um2": 1100.0})
    assert run_check([bigger], path).exit_code == 0
    row = next(r for r in run_check([bigger], path).rows if r.metric == "area_um2")
    assert row.rule == "lower, tol 15%"


def test_changed_parameters_and_clock_are_noted(baselined):
    path, records = baselined
    other = make_record("halut_encoder", day=1, parameters={"C": 64}, **{**GOOD, "target_freq_mhz": 700.0})
    notes = next(d.notes for d in run_check(records + [other], path).designs if d.design == "halut_encoder")
    assert any("parameters changed" in n for n in notes)
    assert any("clock constraint changed: 666.7 -> 700 MHz" in n for n in notes)


# ------------------------------------------------------------------ writing the baseline


def test_update_baseline_takes_the_latest_passing_run_and_keeps_the_rest(tmp_path):
    path = baseline_file(tmp_path, rules={"area_um2": {"rel_tol_pct": 3}})
    update_baseline([make_record("halut_matmul", "nangate45", **GOOD)], path)
    runs = [
        make_record(day=0, **GOOD),
        make_record(day=1, **{**GOOD, "area_um2": 990.0}),
        make_record(day=2, status="fail", stages=("syn",)),
    ]
    update_baseline(runs, path, pdks=["asap7"])
    baseline = load_baseline(path)
    assert baseline.entry("asap7", "halut_encoder").run_id == runs[1].run_id
    assert baseline.entry("asap7", "halut_encoder").metrics["area_um2"] == 990.0
    assert baseline.entry("nangate45", "halut_matmul") is not None  # outside the selection: kept
    assert set(baseline.rules) == {"area_um2"}  # the file's rules are kept
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.yaml"]  # atomic: no temp files left


def test_update_baseline_round_trips_values_exactly(tmp_path):
    awkward = make_record(**{**GOOD, "area_um2": 4844.5405, "tns_ns": -11.3405098, "target_freq_mhz": 1000 / 1.5})
    path = update_baseline([awkward], tmp_path / "fresh.yaml")
    assert load_baseline(path).rules == DEFAULT_RULES  # a fresh file gets the default rules
    assert run_check([awkward], path).exit_code == 0
    assert {row.delta_pct for row in run_check([awkward], path).rows if row.delta_pct is not None} == {0.0}


def test_update_baseline_keeps_per_design_rules(tmp_path):
    path = update_baseline([make_record(**GOOD)], baseline_file(tmp_path))
    data = yaml.safe_load(path.read_text())
    data["baseline"]["asap7"]["halut_encoder"]["rules"] = {"wns_ns": {"abs_tol": 0.05}}
    path.write_text(yaml.safe_dump(data))
    update_baseline([make_record(day=3, **GOOD)], path)
    assert load_baseline(path).entry("asap7", "halut_encoder").rules["wns_ns"].abs_tol == 0.05


def test_update_baseline_without_a_passing_run_writes_nothing(tmp_path):
    target = tmp_path / "baseline.yaml"
    with pytest.raises(BaselineError, match="no passing run"):
        update_baseline([make_record(status="fail", stages=("syn",))], target)
    assert not target.exists()


def test_update_baseline_refuses_to_replace_a_broken_file(tmp_path):
    target = tmp_path / "baseline.yaml"
    target.write_text("schema_version: 1\nrules: {area_um2: {tolerance: 2}}\n")
    with pytest.raises(BaselineError, match="unknown key 'rules.area_um2.tolerance'"):
        update_baseline([make_record(**GOOD)], target)
    assert "tolerance" in target.read_text()


# ------------------------------------------------------------------ bad baseline files: exit 2, one line


@pytest.mark.parametrize(
    "text, message",
    [
        ("schema_version: 1\nrules: [\n", "invalid YAML (line"),
        ("- 1\n- 2\n", "top level must be a mapping"),
        ("schema_version: 2\n", "key 'schema_version'"),
        ("schema_version: 1\nbaselines: {}\n", "unknown key 'baselines'"),
        ("rules: {area_um2: {rel_tol: 2}}\n", "unknown key 'rules.area_um2.rel_tol'"),
        ("rules: {area: {rel_tol_pct: 2}}\n", "key 'rules.area': unknown metric (value: 'area'"),
        ("rules: {area_um2: {rel_tol_pct: -2}}\n", "key 'rules.area_um2.rel_tol_pct'"),
        ("rules: {utilization_pct: {min: 80, max: 20}}\n", "min (80.0) is greater than max (20.0)"),
        ("rules: {area_um2: {better: higher}}\n", "key 'rules.area_um2.better': area_um2 is better when lower"),
        ("rules: {tns_ns: {better: lower}}\n", "(value: 'lower')"),
        ("baseline: {asap7: {enc: {run_id: r, timestamp: 2024-01-01, metrics: {area_um2: big}}}}\n",
         "key 'baseline.asap7.enc.metrics.area_um2"),
        ("baseline: {asap7: {enc: {run_id: r, timestamp: 2024-01-01, metrics: {cells: 3}}}}\n",
         "key 'baseline.asap7.enc.metrics.cells': unknown metric"),
        ("baseline: {asap7: {enc: {timestamp: 2024-01-01}}}\n", "missing key 'baseline.asap7.enc.run_id'"),
    ],
)
def test_a_bad_baseline_file_is_one_clear_usage_error(tmp_path, text, message):
    path = tmp_path / "baseline.yaml"
    path.write_text(text)
    with pytest.raises(BaselineError) as caught:
        run_check([make_record(**GOOD)], path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_missing_baseline_file_says_how_to_create_one(tmp_path):
    with pytest.raises(BaselineError, match="not found .*--update-baseline"):
        run_check([], tmp_path / "nope.yaml")


def test_the_committed_baseline_file_is_valid_and_covers_the_issue_metrics():
    baseline = load_baseline(REPO_ROOT / "reports" / "baseline.yaml")
    for metric in ("area_um2", "stdcell_count", "ge", "power_mw", "total_runtime_s", "target_freq_mhz",
                   "fmax_mhz", "wns_ns", "tns_ns"):
        assert metric in baseline.rules, metric
    util = baseline.rules["utilization_pct"]
    assert util.min is not None and util.max is not None


# ------------------------------------------------------------------ rendering


def test_text_table_lists_every_checked_metric(baselined):
    path, records = baselined
    worse = make_record("halut_encoder", day=1, **{**GOOD, "tns_ns": -1.5})
    result = run_check(records + [worse], path)
    text = render_table_text(result)
    header = text.splitlines()[1]
    for column in ("PDK", "Design", "Metric", "Baseline", "Current", "Δ %", "Verdict"):
        assert column in header
    assert len(text.splitlines()) == len(result.rows) + 4  # title, header, rule, rows, summary
    assert "REGRESSED: worse by 1.5 ns (allowed 0.01)" in text
    assert text.rstrip().endswith("FAIL: 1 regression in 1 of 3 design/PDK pairs")


def test_markdown_table_is_well_formed(baselined):
    path, records = baselined
    worse = make_record("halut_encoder", day=1, parameters={"C": 64, "note": "a|b"}, **{**GOOD, "area_um2": 1200.0})
    result = run_check(records + [worse], path)
    markdown = render_markdown(result)
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table) == len(result.rows) + 2
    widths = {line.replace("\\|", "").count("|") for line in table}
    assert widths == {9}  # 8 columns everywhere, the "|" in a note is escaped
    assert "❌ **regressed**" in markdown
    assert markdown.startswith("### ❌ Regression check")


def test_write_step_summary_appends_only_on_github(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_step_summary("x") is False
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    summary.write_text("earlier step\n")
    assert write_step_summary("### table") is True
    assert summary.read_text() == "earlier step\n### table\n"


# ------------------------------------------------------------------ the real halutmatmul history


@pytest.fixture(scope="module")
def reference_records(tmp_path_factory) -> list[RunRecord]:
    """The archive imported once per module (and per xdist worker, each in its own temp dir)."""
    return _import_reference(tmp_path_factory.mktemp("orfs-import"))


def _import_reference(tmp_path: Path) -> list[RunRecord]:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference ORFS runs not available at {REFERENCE}")
    if importlib.util.find_spec("orchestrator.orfs_import") is None:
        pytest.skip("orchestrator.orfs_import (the ORFS importer) is not in this checkout yet")
    from orchestrator import orfs_import
    from orchestrator.history import load_records
    from orchestrator.jobs import load_project

    config = load_project(REPO_ROOT / "config.yaml")
    history_dir = tmp_path / "history"
    orfs_import.import_orfs(REFERENCE, history_dir, config.platforms)
    records = load_records(history_dir)
    if not records:
        pytest.fail(f"the importer produced no records from {REFERENCE}")
    return records


def test_real_halutmatmul_history_regressions_are_flagged(tmp_path, reference_records):
    """Baseline = the first passing run of each design/PDK, current = the latest: the real drift shows."""
    records = reference_records
    passing = [r for r in records if r.status == "pass"]
    first = {}
    for record in sorted(passing, key=lambda r: (r.timestamp, r.run_id)):
        first.setdefault((record.pdk, record.design), record)
    path = update_baseline(list(first.values()), tmp_path / "baseline.yaml",
                           rules=load_baseline(REPO_ROOT / "reports" / "baseline.yaml").rules)
    result = run_check(records, path)
    assert result.exit_code == 1, render_table_text(result)
    flagged = {(row.pdk, row.design, row.metric) for row in result.regressions}
    # ASAP7 halut_decoder: TNS 0 in the first runs, -11.3 ns in the latest (clock 3000 -> 1500 ps).
    assert any(pdk == "asap7" and "decoder" in design and metric == "tns_ns"
               for pdk, design, metric in flagged), flagged
    # ASAP7 halut_encoder: 4432 -> 4845 um2 of cell area (+9 %).
    assert any(pdk == "asap7" and "encoder" in design and metric == "area_um2"
               for pdk, design, metric in flagged), flagged


def test_real_halutmatmul_history_passes_an_unchanged_recheck(tmp_path, reference_records):
    """Baseline = the latest passing runs, current = the same history: nothing may drift."""
    records = reference_records
    path = update_baseline(records, tmp_path / "baseline.yaml",
                           rules=load_baseline(REPO_ROOT / "reports" / "baseline.yaml").rules)
    assert run_check(records, path, designs=HALUT_DESIGNS).exit_code == 0
    latest = check.latest_runs(records)
    for row in run_check(records, path).regressions:
        # Elsewhere in the archive only absolute findings remain: a latest run that failed
        # (asap7 fp_16_32_adder's floorplan crash) or a utilisation outside the bounds.
        assert latest[(row.pdk, row.design)].status != "pass" or row.verdict == "out of bounds", row


def like_for_like_baseline(records: list[RunRecord]) -> list[RunRecord]:
    """Per design/PDK, the earliest passing run at the clock constraint of the latest run."""
    chosen = []
    for (pdk, design), newest in sorted(check.latest_runs(records).items()):
        same_clock = [r for r in records if (r.pdk, r.design) == (pdk, design) and r.status == "pass"
                      and r.metrics.target_freq_mhz == newest.metrics.target_freq_mhz]
        if same_clock:
            chosen.append(min(same_clock, key=lambda r: (r.timestamp, r.run_id)))
    return chosen


def readme_example(tmp_path: Path, records: list[RunRecord] | None = None) -> str:
    """The regression report shown in docs/ci.md (ASAP7, halutmatmul designs, real ORFS history)."""
    records = records if records is not None else _import_reference(tmp_path)
    rules = load_baseline(REPO_ROOT / "reports" / "baseline.yaml").rules
    path = update_baseline(like_for_like_baseline(records), tmp_path / "baseline.yaml", rules=rules)
    result = check.check_against(records, load_baseline(path), Path("reports/baseline.yaml"),
                                 pdks=["asap7"], designs=HALUT_DESIGNS)
    return render_markdown(result)


def test_real_history_at_an_unchanged_clock_still_regressed(tmp_path, reference_records):
    """ASAP7 at 1500 ps both times: the 2022-08-31 runs met timing, the latest halut_decoder does not."""
    records = reference_records
    path = update_baseline(like_for_like_baseline(records), tmp_path / "baseline.yaml",
                           rules=load_baseline(REPO_ROOT / "reports" / "baseline.yaml").rules)
    result = run_check(records, path, pdks=["asap7"], designs=HALUT_DESIGNS)
    by_key = {(row.design, row.metric): row for row in result.rows}
    tns = by_key[("halut_decoder", "tns_ns")]
    assert (tns.baseline, tns.verdict) == (0.0, "regressed") and tns.current < -11
    assert by_key[("halut_encoder", "area_um2")].verdict == "regressed"
    assert by_key[("halut_decoder", "target_freq_mhz")].verdict == "ok"  # same constraint


def test_readme_shows_the_current_rendering_of_the_real_history(tmp_path, reference_records):
    expected = readme_example(tmp_path, reference_records)
    page = (REPO_ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = page.split("\n## What a regression report looks like\n", 1)[1].split("\n## ", 1)[0]
    assert expected.strip() in block, (
        "docs/ci.md's regression report example (section 'What a regression report looks like') is stale; "
        "regenerate it with\n"
        "  python -c 'import sys, tempfile, pathlib; sys.path.insert(0, \"tests\"); import test_check; "
        "print(test_check.readme_example(pathlib.Path(tempfile.mkdtemp())))'"
    )


# ------------------------------------------------------------------ through the command line


def test_check_command_exit_codes_and_outputs(toy_project, tmp_path, monkeypatch, capsys):
    from orchestrator.cli import main
    from orchestrator.history import write_record

    config = toy_project()
    history_dir = config.parent / "reports" / "history"
    baseline = config.parent / "reports" / "baseline.yaml"
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_record(history_dir, make_record("counter", **GOOD))

    assert main(["--config", str(config), "check"]) == 0  # no baseline yet: a state, reported
    assert f"no baseline: {baseline} not found" in " ".join(capsys.readouterr().out.split())
    missing = tmp_path / "typo.yaml"  # a baseline named on the command line must exist
    assert main(["--config", str(config), "check", "--baseline", str(missing)]) == 2
    assert f"{missing}: baseline file not found" in capsys.readouterr().err

    assert main(["--config", str(config), "check", "--update-baseline"]) == 0
    assert load_baseline(baseline).entry("asap7", "counter") is not None

    markdown = tmp_path / "check.md"
    assert main(["--config", str(config), "check", "--markdown", str(markdown)]) == 0
    assert "| asap7 | counter | `area_um2` (µm²) | 1000 | 1000 |" in markdown.read_text()

    write_record(history_dir, make_record("counter", day=1, **{**GOOD, "tns_ns": -0.4}))
    assert main(["--config", str(config), "check", "--pdk", "asap7"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED: worse by 0.4 ns" in out
    assert "❌ **regressed**" in summary.read_text()

    baseline.write_text("rules: {area_um2: {better: higher}}\n")
    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rules.area_um2.better" in err


def test_a_pdk_or_design_that_names_nothing_is_a_usage_error(baselined):
    path, records = baselined
    with pytest.raises(check.SelectionError, match="--pdk 'nangate': no runs in the history") as caught:
        run_check(records, path, pdks=["nangate"])
    assert caught.value.exit_code == 2
    with pytest.raises(check.SelectionError, match="--design 'halut_encodr'"):
        run_check(records, path, designs=["halut_encodr"])
    assert len(run_check(records, path, pdks=["all"]).designs) == 3  # as in `run --pdk all`


# ------------------------------------------------------------------ a green first check (issue 20)


def cut_by_missing_openroad(design: str = "counter", pdk: str = "asap7", day: int = 0) -> RunRecord:
    """What a run on a machine without OpenROAD records: synthesis done, the rest skipped."""
    record = make_record(design, pdk, day=day, stages=("elaborate", "synthesis"), area_um2=100.0, stdcell_count=50)
    skipped = [SkippedStage(step="floorplan.init", reason="openroad not installed (install OpenROAD >= 24Q3)"),
               SkippedStage(step="place.global", reason="needs floorplan.init: openroad not installed",
                            blocked_by="floorplan.init")]
    return record.model_copy(update={"status": "partial", "reason": "stopped after synthesis: openroad not installed",
                                     "skipped_stages": skipped})


def orfs_record(design: str, pdk: str = "asap7", *, day: int = 0, status: str = "pass", **metrics) -> RunRecord:
    record = make_record(design, pdk, day=day, status=status, parameters={"orfs_design": design}, **metrics)
    return record.model_copy(update={"source": "orfs"})


def check_cli(config: Path, *args: str, columns: int = 100) -> subprocess.CompletedProcess:
    from tests.test_cli import run_cli

    return run_cli(config, "check", *args, env={"COLUMNS": str(columns)})


def max_width(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_first_check_without_openroad_or_baseline_file_is_green(toy_project):
    from orchestrator.history import write_record

    config = toy_project()
    for pdk in ("asap7", "nangate45"):
        write_record(config.parent / "reports" / "history", cut_by_missing_openroad(pdk=pdk))
    proc = check_cli(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no baseline: reports/baseline.yaml not found" in proc.stdout
    flat = " ".join(proc.stdout.split())  # the verdicts wrap at the terminal's width
    assert flat.count("skipped (tool missing): after synthesis: openroad not installed") == 2
    assert "2 skipped (tool missing), 2 no baseline" in proc.stdout
    assert "FAIL" not in proc.stdout and "FAILED" not in proc.stdout


def test_first_check_with_an_empty_baseline_is_green(toy_project):
    from orchestrator.history import write_record

    config = toy_project()
    write_record(config.parent / "reports" / "history", cut_by_missing_openroad())
    shutil.copy(REPO_ROOT / "reports" / "baseline.yaml", config.parent / "reports" / "baseline.yaml")  # rules only
    proc = check_cli(config)
    assert proc.returncode == 0, proc.stdout
    assert "no baseline: reports/baseline.yaml has no entries" in proc.stdout
    assert "skipped (tool missing)" in proc.stdout


def test_a_run_cut_by_a_missing_tool_still_fails_for_the_stages_it_lost(baselined):
    path, records = baselined
    result = run_check(records + [cut_by_missing_openroad("halut_encoder", day=1)], path)
    rows = {r.metric: r for r in result.rows if r.design == "halut_encoder"}
    assert rows["status"].verdict == "skipped (tool missing)"  # a state, not itself the regression
    assert rows["stages"].verdict == "regressed" and "route" in rows["stages"].detail
    assert result.exit_code == 1


def test_imported_orfs_runs_are_not_gated_unless_the_baseline_names_them(toy_project):
    from orchestrator.history import write_record

    config = toy_project()
    history_dir = config.parent / "reports" / "history"
    write_record(history_dir, make_record("counter", **GOOD))
    write_record(history_dir, orfs_record("fp_16_32_adder", status="fail", area_um2=240.0))
    write_record(history_dir, orfs_record("counter", day=5, status="fail"))  # newer, foreign: not ours to judge
    baseline = update_baseline([make_record("counter", **GOOD)], config.parent / "reports" / "baseline.yaml")
    proc = check_cli(config)
    assert proc.returncode == 0, proc.stdout
    assert "not gated (imported runs the baseline does not name):\n  asap7: fp_16_32_adder" in proc.stdout
    assert "— 1 not gated" in proc.stdout

    # Named by the baseline, an imported design is gated like any other: its failure is a regression.
    passed = orfs_record("fp_16_32_adder", day=-1, **GOOD)
    update_baseline([passed], baseline)
    proc = check_cli(config)
    assert proc.returncode == 1, proc.stdout
    assert "FAILED" not in proc.stdout and "REGRESSED: floorplan" not in proc.stdout
    assert "status" in proc.stdout and "REGRESSED" in proc.stdout


def test_check_fits_the_terminal_and_wide_shows_the_rule_column(toy_project):
    from orchestrator.history import write_record

    config = toy_project()
    history_dir = config.parent / "reports" / "history"
    write_record(history_dir, make_record("counter", **GOOD))
    update_baseline([make_record("counter", **GOOD)], config.parent / "reports" / "baseline.yaml")
    write_record(history_dir, make_record("counter", day=1, parameters={"C": 64, "K": 16, "M": 4, "DU": 2},
                                          **{**GOOD, "tns_ns": -0.4, "register_count": 12345678}))
    write_record(history_dir, cut_by_missing_openroad(pdk="nangate45"))
    proc = check_cli(config, columns=100)
    assert proc.returncode == 1
    assert max_width(proc.stdout) <= 100, proc.stdout
    assert "REGRESSED: worse by 0.4 ns" in proc.stdout
    assert "run       20240102T000000000000Z-counter-asap7-" in proc.stdout  # the run id, whole
    assert "tns_ns [ns]" in proc.stdout  # the unit
    narrow = check_cli(config, columns=80)  # the verdicts wrap further; the numbers stay in their columns
    assert max_width(narrow.stdout) <= 80, narrow.stdout
    assert "REGRESSED: worse by 0.4 ns" in " ".join(narrow.stdout.split())
    wide = check_cli(config, "--wide", columns=100)
    assert wide.returncode == 1 and "Rule" in wide.stdout.splitlines()[1]
    assert max_width(wide.stdout) > 100


def test_check_selection_typo_suggests_the_known_name(toy_project):
    from orchestrator.history import write_record

    config = toy_project()
    write_record(config.parent / "reports" / "history", make_record("counter", **GOOD))
    proc = check_cli(config, "--design", "countr")
    assert proc.returncode == 2
    assert "--design 'countr'" in proc.stderr and "(did you mean 'counter'?)" in proc.stderr
