"""Accuracy of a halut layer on real data: a small classifier trained on a dataset a package ships,
one of its layers replaced by the learned halut approximation.

A *task* names the dataset, the layer and the seed (plus options); ``evaluate(params, task)``
learns the layer for the point's (C, K, dtype) and returns the held-out accuracy with the exact
layer and with the halut layer (computed through ``golden``, i.e. bit-identical to the RTL), and
the approximation error of the layer's product on the test set.

Tasks:

``dataset: digits`` -- scikit-learn's bundled ``load_digits`` (1797 8x8 images, 10 classes; no
download), pixels scaled to [0, 1], a stratified 70/30 train/test split, and an MLP with one ReLU
hidden layer of ``hidden`` units (option, default 32) trained with scikit-learn's
``MLPClassifier`` (Adam, seeded). ``layer``:

* ``output``: A = the hidden activations (N x hidden), B = the output weights (hidden x 10);
* ``hidden``: A = the pixels (N x 64), B = the hidden weights (64 x hidden), ReLU after.

Biases stay exact (added on the host after the halut product). ``ridge`` (option, default 1.0;
``null`` = none) is passed to ``learn``.

What the accuracy depends on: C, K, dtype and the task. Not on M, DU or mem_style: M decoders
serve M output columns at a time, and the layer's columns are streamed through them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.errors import clip, cut

from . import learn as learn_module

DATASETS = ("digits",)
LAYERS = ("output", "hidden")
OPTIONS = {"hidden": (int, 32), "ridge": (float, 1.0)}


class TaskError(ValueError):
    """An accuracy task is invalid. ``key``: the sub-key of the task (".dataset", "" for the whole
    task), ``message``: what is wrong with it, naming the value; str() is "accuracy<key>: <message>"."""

    def __init__(self, key: str, message: str):
        super().__init__(f"accuracy{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Layer:
    """One layer of a trained model: its inputs, weights and the rest of the model around it."""

    A_train: np.ndarray  # (N_train, D) inputs of the layer
    A_test: np.ndarray  # (N_test, D)
    B: np.ndarray  # (D, M)
    finish: Callable[[np.ndarray], np.ndarray]  # A . B (N x M) -> predicted labels
    y_test: np.ndarray
    n_classes: int

    def accuracy_pct(self, product: np.ndarray) -> float:
        return 100.0 * float(np.mean(self.finish(product) == self.y_test))


def validate_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised task (defaults filled) or ``TaskError`` naming the key."""
    task = dict(task)
    unknown = sorted(set(task) - {"dataset", "layer", "seed", "options"})
    if unknown:
        raise TaskError("", f"unknown key '{cut(str(unknown[0]))}' (known: dataset, layer, seed, options)")
    dataset, layer, seed = task.get("dataset"), task.get("layer", "output"), task.get("seed", 0)
    if dataset not in DATASETS:
        raise TaskError(".dataset", f"unknown dataset (value: {clip(dataset)}; known: {', '.join(DATASETS)})")
    if layer not in LAYERS:
        raise TaskError(".layer", f"unknown layer (value: {clip(layer)}; known: {', '.join(LAYERS)})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TaskError(".seed", f"must be an integer >= 0 (value: {clip(seed)})")
    options = dict(task.get("options") or {})
    normalised_options = {}
    for name, (kind, default) in OPTIONS.items():
        value = options.pop(name, default)
        if name == "ridge" and value is None:
            normalised_options[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind is int and not isinstance(value, int)):
            what = "an integer" if kind is int else "a number"
            raise TaskError(f".options.{name}", f"must be {what} (value: {clip(value)})")
        if value < (1 if kind is int else 0):
            raise TaskError(f".options.{name}", f"must be {'>= 1' if kind is int else '>= 0'} (value: {clip(value)})")
        normalised_options[name] = kind(value)
    if options:
        first = cut(str(sorted(options, key=str)[0]))
        raise TaskError(".options", f"unknown option '{first}' (known: {', '.join(OPTIONS)})")
    return {"dataset": dataset, "layer": layer, "seed": seed, "options": normalised_options}


def task_name(task: Mapping[str, Any]) -> str:
    """Short stable name, e.g. 'digits/mlp32.output/seed0' (records and plot labels carry it)."""
    t = validate_task(task)
    ridge = t["options"]["ridge"]
    suffix = "" if ridge == OPTIONS["ridge"][1] else f"/ridge{ridge}"
    return f"{t['dataset']}/mlp{t['options']['hidden']}.{t['layer']}/seed{t['seed']}{suffix}"


def layer_inputs(task: Mapping[str, Any]) -> int:
    """D, the layer's input width (C must not exceed it)."""
    t = validate_task(task)
    return t["options"]["hidden"] if t["layer"] == "output" else 64


def check_point(params: Mapping[str, Any], task: Mapping[str, Any]) -> None:
    """TaskError when the point cannot be learned for the task (more codebooks than inputs)."""
    D = layer_inputs(task)
    if params["C"] > D:
        raise TaskError("", f"C={params['C']} codebooks exceed the layer's {D} inputs")


def _sklearn():
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        raise TaskError("", "scikit-learn is not installed (pip install scikit-learn)") from None
    return load_digits, train_test_split, MLPClassifier


@lru_cache(maxsize=8)
def _digits_mlp(hidden: int, seed: int):
    import warnings

    load_digits, train_test_split, MLPClassifier = _sklearn()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    model = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", max_iter=300, random_state=seed)
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    # One BLAS thread: the same weights on every machine, whatever its core count (a multi-threaded
    # reduction may round differently), and no oversubscription beside parallel synthesis jobs.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed budget is the point
        model.fit(X_train, y_train)
    return X_train, X_test, y_test, model


def load_layer(task: Mapping[str, Any]) -> Layer:
    """Train the task's model (deterministic for its seed) and cut out the layer to replace."""
    t = validate_task(task)
    X_train, X_test, y_test, model = _digits_mlp(t["options"]["hidden"], t["seed"])
    (W0, W1), (b0, b1) = model.coefs_, model.intercepts_
    classes = model.classes_

    def relu(z):
        return np.maximum(z, 0.0)

    if t["layer"] == "output":
        return Layer(relu(X_train @ W0 + b0), relu(X_test @ W0 + b0), W1,
                     lambda product: classes[np.argmax(product + b1, axis=1)], y_test, len(classes))
    return Layer(X_train, X_test, W0,
                 lambda product: classes[np.argmax(relu(product + b0) @ W1 + b1, axis=1)], y_test, len(classes))


def evaluate(params: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, float]:
    """Learn the task's layer for ``params`` (C, K, dtype) and measure it on the test set.

    Returns accuracy_pct (halut layer, through the bit-exact golden model), exact_accuracy_pct,
    chance_pct, approx_error (relative Frobenius error of A . B on the test rows) and n_test.
    """
    t = validate_task(task)
    check_point(params, t)
    layer = load_layer(t)
    learned = learn_module.learn(layer.A_train, layer.B, params["C"], params["K"], params["dtype"],
                                 ridge=t["options"]["ridge"])
    exact = layer.A_test @ layer.B
    approx = learned(layer.A_test)
    return {
        "accuracy_pct": layer.accuracy_pct(approx),
        "exact_accuracy_pct": layer.accuracy_pct(exact),
        "chance_pct": 100.0 / layer.n_classes,
        "approx_error": learn_module.relative_error(approx, exact),
        "n_test": float(len(layer.y_test)),
    }


def identity() -> dict[str, Any]:
    """What decides ``evaluate``'s result besides its arguments: this package's learning code and
    the versions of numpy and scikit-learn (part of the orchestrator's job cache key)."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in ("accuracy.py", "learn.py", "golden.py", "params.py"):
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    versions = {}
    for package in ("numpy", "scikit-learn"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {"sources": digest.hexdigest(), "packages": versions}
