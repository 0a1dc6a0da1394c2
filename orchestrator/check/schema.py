"""The baseline file's schema: the rules (``MetricRule``: direction, tolerances, bounds), the reference
entries (``BaselineEntry``) and ``load_baseline``, which validates a file into a ``Baseline``.

Which way is better is physics, not configuration: it is declared with each metric
(``record.METRIC_SPECS``, ``METRIC_BETTER`` below), and a rule may restate it but never invert it.
Every problem with a file is one ``BaselineError`` line naming file, key and value.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.config import format_validation_error, read_yaml_mapping
from orchestrator.errors import OrchestratorError, clip, cut
from orchestrator.record import METRIC_BETTER as RECORD_METRIC_BETTER
from orchestrator.record import METRIC_NAMES, METRIC_SPECS, METRIC_UNITS, Better, Status

BASELINE_SCHEMA_VERSION = 1

# Which direction is an improvement: the physics declared with each metric (record.METRIC_SPECS).
# "none": the value has no better side (an operating point or a ratio that is only wrong outside
# bounds). WNS/TNS are <= 0 when failing, so a higher (less negative) value is better.
METRIC_BETTER: dict[str, Better] = {
    **RECORD_METRIC_BETTER,
    "total_runtime_s": "lower",  # RunRecord.total_runtime_s: the steps' wall times summed
}

CHECKABLE_METRICS: tuple[str, ...] = (*METRIC_NAMES, "total_runtime_s")
CHECK_UNITS: dict[str, str] = {**METRIC_UNITS, "total_runtime_s": "s", "stages": "steps"}


class BaselineError(OrchestratorError):
    """The baseline file is missing or invalid (a usage error: exit 2)."""



class MetricRule(BaseModel):
    """How one metric is judged. Allowed worsening = max(rel_tol_pct % of |baseline|, abs_tol)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN would disable the rule

    better: Better | None = None  # None = the physics in METRIC_BETTER
    rel_tol_pct: float = Field(default=0.0, ge=0)
    abs_tol: float = Field(default=0.0, ge=0)  # in the metric's unit
    min: float | None = None  # hard bounds: any value outside fails, baseline or not
    max: float | None = None

    @model_validator(mode="after")
    def _ordered_bounds(self) -> MetricRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def merged(self, override: MetricRule | None) -> MetricRule:
        if override is None:
            return self
        return self.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})


class BaselineEntry(BaseModel):
    """The reference run of one (design, pdk)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    timestamp: datetime
    source: str | None = None
    status: Status = "pass"
    stages: list[str] = Field(default_factory=list)  # steps that completed, in flow order
    metrics_origin: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, int | float] = Field(default_factory=dict)
    rules: dict[str, MetricRule] = Field(default_factory=dict)  # per-design overrides of ``rules``


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = BASELINE_SCHEMA_VERSION
    rules: dict[str, MetricRule] = Field(default_factory=dict)
    baseline: dict[str, dict[str, BaselineEntry]] = Field(default_factory=dict)  # pdk -> design -> entry

    def entry(self, pdk: str, design: str) -> BaselineEntry | None:
        return self.baseline.get(pdk, {}).get(design)

    def rule_for(self, metric: str, entry: BaselineEntry | None) -> MetricRule | None:
        base = self.rules.get(metric)
        if metric in SIGNOFF_LIMITS:
            # A sign-off limit applies to every design; a rule in the file (a waiver) overrides it.
            base = SIGNOFF_LIMITS[metric].merged(base)
        override = entry.rules.get(metric) if entry is not None else None
        if base is None:
            return override
        return base.merged(override)


# Physical sign-off limits that every baseline file gets (``MetricSpec.signoff_max``): a routed
# design with DRC or electrical rule violations cannot be taped out, so any count above 0 fails,
# with or without a baseline.
SIGNOFF_LIMITS: dict[str, MetricRule] = {
    spec.name: MetricRule(better=spec.better, max=spec.signoff_max)
    for spec in METRIC_SPECS if spec.signoff_max is not None
}

# Written into a fresh baseline file (``MetricSpec.gate``, then the runtime); afterwards the file
# is the source of truth.
DEFAULT_RULES: dict[str, MetricRule] = {
    **{spec.name: MetricRule(better=spec.better, **spec.gate.fields()) for spec in METRIC_SPECS if spec.gate},
    "total_runtime_s": MetricRule(better=METRIC_BETTER["total_runtime_s"], rel_tol_pct=25.0, abs_tol=60.0),
}


def _check_metric_name(path: Path, key: str, metric: str) -> None:
    if metric not in CHECKABLE_METRICS:
        known = ", ".join(CHECKABLE_METRICS)
        raise BaselineError(f"{path}: key '{cut(key)}': unknown metric (value: {clip(metric)}; known: {known})")


def _check_rules(path: Path, prefix: str, rules: dict[str, MetricRule]) -> None:
    for metric, rule in rules.items():
        _check_metric_name(path, f"{prefix}.{metric}", metric)
        physics = METRIC_BETTER[metric]
        if rule.better is not None and rule.better != physics:
            raise BaselineError(
                f"{path}: key '{prefix}.{metric}.better': {metric} is better when {physics}, "
                f"a rule cannot invert that (value: {rule.better!r})"
            )


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a baseline file; every problem is one BaselineError line naming file/key/value."""
    path = Path(path)
    data = read_yaml_mapping(
        path, BaselineError, kind="baseline",
        not_found_hint="create it with `python -m orchestrator check --update-baseline`", empty_ok=False,
    )
    try:
        baseline = Baseline.model_validate(data)
    except ValidationError as exc:
        raise BaselineError(format_validation_error(path, exc)) from None
    _check_rules(path, "rules", baseline.rules)
    for pdk, designs in baseline.baseline.items():
        for design, entry in designs.items():
            prefix = f"baseline.{pdk}.{design}"
            for metric, value in entry.metrics.items():
                _check_metric_name(path, f"{prefix}.metrics.{metric}", metric)
                if not math.isfinite(value):
                    raise BaselineError(f"{path}: key '{prefix}.metrics.{metric}': not a finite number "
                                        f"(value: {value!r})")
            _check_rules(path, f"{prefix}.rules", entry.rules)
    return baseline
