"""Accuracy of a design point: the sweep's ``accuracy`` task, measured in the job process.

A sweep may name an accuracy task (the dataset, the layer, the learning seed, options)::

    sweeps:
      - name: digits_ck
        design: halut_matmul
        parameters: {M: 10, DU: 2, dtype: int8}
        grid: {C: [4, 8, 16], K: [4, 16]}
        accuracy: {dataset: digits, layer: output, seed: 0}

The generator owns what a task means: its ``accuracy`` attribute (``halut.accuracy``) provides
``validate_task(task) -> dict`` and ``check_point(params, task)`` (raise ``ValueError``; with
``key`` and ``message`` attributes it names the sub-key), ``evaluate(params, task) ->
{"accuracy_pct", "approx_error", ...}`` and ``identity()`` (what else decides the result: its
learning code, library versions).

Data flow, one way: the config holds the task; each point's ``DesignSpec.accuracy`` carries it
normalised (defaults filled); the job's cache key gets the task and the generator's identity
(component ``accuracy``), so a new seed, dataset or learning code re-runs the job and nothing
else does; the job process evaluates it beside the flow (it needs the point's parameters, not the
flow's results) and writes ``accuracy_pct`` / ``approx_error`` into the record, whose parameters
name the task (``accuracy: digits/output/seed0``). The parent never computes accuracy, so a
cache hit costs nothing and a record is always the result of its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from orchestrator.errors import OrchestratorError, clip, first_line
from orchestrator.record import METRIC_SPECS

# Metrics the evaluation yields: the registry's ``stage="accuracy"`` entries.
ACCURACY_METRICS = tuple(spec.name for spec in METRIC_SPECS if spec.stage == "accuracy")


class AccuracyError(OrchestratorError):
    """An accuracy task is invalid or its evaluation failed; ``key`` is the sub-key (".dataset")."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


def plugin(generator: str) -> ModuleType:
    """The generator's ``accuracy`` plug-in, or AccuracyError when it has none."""
    from orchestrator.designs import load_generator

    module = getattr(load_generator(generator), "accuracy", None)
    for name in ("validate_task", "check_point", "evaluate", "identity"):
        if not callable(getattr(module, name, None)):
            raise AccuracyError("", f"generator '{generator}' cannot measure accuracy (it lacks accuracy.{name})")
    return module


def _task_error(exc: Exception) -> AccuracyError:
    """The plug-in's error as ours: its ``key`` / ``message`` when it gives them (``halut``'s
    TaskError does), else the whole text for the whole task."""
    key, message = getattr(exc, "key", None), getattr(exc, "message", None)
    if isinstance(key, str) and isinstance(message, str):
        return AccuracyError(key, message)
    return AccuracyError("", str(exc))


def normalise(generator: str, task: Mapping[str, Any]) -> dict[str, Any]:
    """The task with the generator's defaults filled in; AccuracyError names the sub-key."""
    if not isinstance(task, Mapping):
        raise AccuracyError("", f"must be a mapping (value: {clip(task)})")
    try:
        return dict(plugin(generator).validate_task(task))
    except (ValueError, TypeError) as exc:
        raise _task_error(exc) from None


def check_point(generator: str, parameters: Mapping[str, Any], task: Mapping[str, Any]) -> None:
    try:
        plugin(generator).check_point(parameters, task)
    except (ValueError, TypeError) as exc:
        raise _task_error(exc) from None


def label(task: Mapping[str, Any] | None) -> str | None:
    """The task as records name it: 'digits/output/seed0' plus any options ('/hidden=64')."""
    if task is None:
        return None
    parts = [str(task.get("dataset")), str(task.get("layer")), f"seed{task.get('seed')}"]
    parts += [f"{k}={v}" for k, v in sorted((task.get("options") or {}).items())]
    return "/".join(parts)


def key_component(generator: str, task: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The cache-key component of a job's accuracy: its task and the generator's identity."""
    if task is None:
        return None
    return {"task": dict(task), "identity": plugin(generator).identity()}


def evaluate(generator: str, parameters: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, float]:
    """Run the task for one point (in the job process); AccuracyError on any failure."""
    try:
        result = plugin(generator).evaluate(parameters, task)
    except AccuracyError:
        raise
    except Exception as exc:  # a failed evaluation must be one line in the job's error, not a traceback
        text = first_line(exc)
        raise AccuracyError("", f"accuracy {label(task)}: {text}") from None
    missing = [name for name in ACCURACY_METRICS if name not in result]
    if missing:
        raise AccuracyError("", f"accuracy {label(task)}: generator '{generator}' did not report {missing[0]}")
    return {name: float(result[name]) for name in ACCURACY_METRICS}


def apply(record, task: Mapping[str, Any] | None, values: Mapping[str, float] | None):
    """The record with the accuracy metrics filled in (a copy; the record itself is not changed)."""
    if task is None or values is None:
        return record
    metrics = record.metrics.model_copy(update=dict(values))
    steps = {**record.metric_steps, **{name: f"accuracy:{label(task)}" for name in values}}
    parameters = {**record.parameters, "accuracy": label(task)}  # as Job.record_parameters has it
    return record.model_copy(update={"metrics": metrics, "metric_steps": steps, "parameters": parameters})
