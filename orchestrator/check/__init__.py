"""Regression gate: the latest run of every (design, pdk) against a committed baseline.

The baseline file (``reports/baseline.yaml``) holds two things:

* ``rules``: per metric, which way is better, how much worsening is tolerated (relative and/or
  absolute) and optional hard bounds;
* ``baseline``: per PDK and design, the reference run (status, completed stages, metrics).

One module per job: ``schema`` (the file's rules and entries, ``load_baseline``), ``compare``
(the verdicts; ``run_check`` is pure: records in, a ``CheckResult`` out), ``render`` (the
terminal table, Markdown and the job summary) and ``write`` (``update_baseline``). This package
re-exports their names: ``from orchestrator.check import run_check`` and ``check.run_check`` work
as before the split.
"""

from orchestrator.check.compare import (
    FAILING_VERDICTS,
    NO_BASELINE,
    NOT_GATED,
    OWN_SOURCE,
    SKIPPED_TOOL,
    CheckResult,
    CheckRow,
    DesignResult,
    SelectionError,
    Verdict,
    check_against,
    compare_metric,
    delta_pct,
    describe_rule,
    gated_runs,
    latest_runs,
    missing_tools,
    record_metric,
    record_stages,
    run_check,
)
from orchestrator.check.render import render_markdown, render_table_text, wrap, write_step_summary
from orchestrator.check.schema import (
    BASELINE_SCHEMA_VERSION,
    CHECK_UNITS,
    CHECKABLE_METRICS,
    DEFAULT_RULES,
    METRIC_BETTER,
    SIGNOFF_LIMITS,
    Baseline,
    BaselineEntry,
    BaselineError,
    MetricRule,
    load_baseline,
)
from orchestrator.check.write import dump_baseline, entry_from_record, update_baseline

__all__ = [
    "BASELINE_SCHEMA_VERSION",
    "CHECKABLE_METRICS",
    "CHECK_UNITS",
    "DEFAULT_RULES",
    "FAILING_VERDICTS",
    "METRIC_BETTER",
    "NOT_GATED",
    "NO_BASELINE",
    "OWN_SOURCE",
    "SIGNOFF_LIMITS",
    "SKIPPED_TOOL",
    "Baseline",
    "BaselineEntry",
    "BaselineError",
    "CheckResult",
    "CheckRow",
    "DesignResult",
    "MetricRule",
    "SelectionError",
    "Verdict",
    "check_against",
    "compare_metric",
    "delta_pct",
    "describe_rule",
    "dump_baseline",
    "entry_from_record",
    "gated_runs",
    "latest_runs",
    "load_baseline",
    "missing_tools",
    "record_metric",
    "record_stages",
    "render_markdown",
    "render_table_text",
    "run_check",
    "update_baseline",
    "wrap",
    "write_step_summary",
]
