"""Render stage: turn a ``DesignSpec`` into RTL files via its generator package, and the SDC.

A generator is a Python package (``halut`` lives in ``designs/halut/``) exposing:

* ``DESIGNS``: names of the designs it can render;
* ``validate_params(design, params) -> dict`` raising ``ValueError`` naming the bad parameter;
* ``render(design, params, out_dir) -> Rendered`` with ``.top`` and ``.files`` (compile order).

and optionally hooks that generic consumers ask (``generator_hooks``), each answering None for a
case it does not cover; code that asks works without them:

* ``size_axis(parameters) -> (name, axis label, value) | None``: the design-space report's size
  axis of a configuration (halut: C·K·M);
* ``orfs_design_parameters(orfs_design) -> (design, parameters) | None``: an ORFS design name of
  this generator's designs (halut: ``halut_encoder_4`` is ``halut_encoder`` with ``EncUnits=4``).

Generators are found as the entry points of the group ``halut_orchestrator.generators`` (name =
the generator's name, value = its module; ``pyproject.toml`` declares ``halut = "halut"``), plus
``BUILTIN_GENERATORS``, found by import name when the package is not installed (a plain checkout
on PYTHONPATH has no metadata declaring them). A design entry's ``generator:`` is an entry point's
name, else an importable module.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2

from orchestrator.config import Config, DesignSpec, Platform
from orchestrator.errors import OrchestratorError, cut
from orchestrator.names import short_number


class DesignError(OrchestratorError):
    """Unknown design/generator or invalid design parameters."""


@dataclass(frozen=True)
class RenderedDesign:
    design: str
    top: str
    parameters: dict[str, Any]
    rtl_files: list[Path]
    sdc_file: Path
    out_dir: Path
    clock_period: float  # in the platform time unit


GENERATOR_GROUP = "halut_orchestrator.generators"
"""The entry-point group a package declares its generators in
(``[project.entry-points."halut_orchestrator.generators"]``, ``name = "module"``)."""

BUILTIN_GENERATORS: tuple[str, ...] = ("halut",)
"""The generators this repository ships: found by import name even without installed metadata
(run from a checkout with ``designs/`` on PYTHONPATH), after those of the entry points."""

KNOWN_GENERATORS: tuple[str, ...] | None = None
"""The generators asked about a run record, which does not name its generator. None (the
default): the discovered ones (``known_generators``); a tuple replaces discovery."""


@cache
def _generator_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Name -> entry point of the group; a name declared twice: the first distribution on sys.path."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry in importlib.metadata.entry_points(group=GENERATOR_GROUP):
        found.setdefault(entry.name, entry)
    return found


def known_generators() -> tuple[str, ...]:
    """The generators asked for hooks, in order: the entry points of ``GENERATOR_GROUP``, then the
    built-in ones not declared there (``KNOWN_GENERATORS``, when set, instead)."""
    if KNOWN_GENERATORS is not None:
        return tuple(KNOWN_GENERATORS)
    return tuple(dict.fromkeys([*_generator_entry_points(), *BUILTIN_GENERATORS]))


def clear_generator_cache() -> None:
    """Forget discovered entry points and loaded generators (after sys.path or installs changed)."""
    _generator_entry_points.cache_clear()
    _importable_generator.cache_clear()


def _load_entry_point(entry: importlib.metadata.EntryPoint) -> Any:
    try:
        return entry.load()
    except Exception as exc:  # an installed package's bug: any error, one line naming the entry point
        dist = getattr(entry, "dist", None)
        where = f" of {dist.name} {dist.version}" if dist is not None else ""
        message = (str(exc).strip().splitlines() or [""])[0]
        raise DesignError(f"generator entry point '{entry.name} = {entry.value}' (group {GENERATOR_GROUP}{where}) "
                          f"cannot be loaded: {type(exc).__name__}: {cut(message)}") from None


def load_generator(name: str) -> ModuleType:
    """The generator ``name``: its entry point's object if the group declares one, else the module."""
    entry = _generator_entry_points().get(name)
    if entry is not None:
        module = _load_entry_point(entry)
    else:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise DesignError(f"generator '{name}' cannot be imported: {exc}") from None
    for attr in ("DESIGNS", "validate_params", "render"):
        if not hasattr(module, attr):
            raise DesignError(f"generator '{name}' lacks '{attr}'")
    return module


@cache
def _importable_generator(name: str) -> ModuleType | None:
    """The generator, or None when a name that no entry point declares cannot be imported (a
    built-in one outside its checkout). A declared generator that does not load is an error."""
    try:
        return load_generator(name)
    except DesignError:
        if name in _generator_entry_points():
            raise
        return None


def generator_hooks(hook: str, design: str | None = None,
                    generators: Iterable[str] | None = None) -> list[Callable[..., Any]]:
    """The optional hook ``hook`` of each generator that has it, in ``generators`` order (default
    ``known_generators()``); with ``design``, only of the generators that render that design (list
    it in ``DESIGNS``). A generator that cannot be imported has no hooks; one whose entry point is
    broken raises ``DesignError`` naming it."""
    found = []
    for name in known_generators() if generators is None else generators:
        module = _importable_generator(name)
        function = getattr(module, hook, None) if module is not None else None
        if callable(function) and (design is None or design in module.DESIGNS):
            found.append(function)
    return found


def validate_parameters(generator: str, design: str, parameters: dict[str, Any]) -> dict[str, Any]:
    module = load_generator(generator)
    if design not in module.DESIGNS:
        known = ", ".join(module.DESIGNS)
        raise DesignError(f"unknown design '{design}' (generator '{generator}' has: {known})")
    try:
        return dict(module.validate_params(design, parameters))
    except (ValueError, TypeError) as exc:
        raise DesignError(f"design '{design}': {exc}") from None


def platform_for(spec: DesignSpec, platform: Platform) -> Platform:
    """The platform as this design uses it: its own floorplan settings (``floorplan.<pdk>``) in place
    of the platform's. The job carries this one, so the cache key, the closure loop's start and the
    record all see the same numbers."""
    override = spec.floorplan.get(platform.name)
    if override is None:
        return platform
    return platform.model_copy(update=override.model_dump(exclude_none=True))


def clock_period_for(spec: DesignSpec, platform: Platform) -> float:
    return spec.clock_period.get(platform.name, platform.clock_period)


def render_sdc(config: Config, platform: Platform, design: str, clock_period: float, out_path: Path) -> Path:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(config.path("platforms_dir"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # SDC is Tcl, not markup
    )
    template = env.get_template(platform.sdc_template)
    text = template.render(
        design=design,
        platform=platform,
        period=short_number(clock_period),
        io_delay=short_number(clock_period * platform.io_delay_fraction),
        uncertainty=short_number(platform.clock_uncertainty),
        freq_mhz=1000.0 / platform.to_ns(clock_period),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return out_path


def render_design(config: Config, spec: DesignSpec, platform: Platform, out_dir: Path) -> RenderedDesign:
    """Render RTL + SDC for one (design, parameter set, platform) into ``out_dir``."""
    module = load_generator(spec.generator)
    params = validate_parameters(spec.generator, spec.name, spec.parameters)
    rtl_dir = out_dir / "rtl"
    try:
        rendered = module.render(spec.name, params, rtl_dir)
    except (ValueError, TypeError) as exc:
        raise DesignError(f"design '{spec.name}': {exc}") from None
    period = clock_period_for(spec, platform)
    sdc = render_sdc(config, platform, rendered.top, period, out_dir / "sdc" / f"{rendered.top}.sdc")
    return RenderedDesign(
        design=spec.name,
        top=rendered.top,
        parameters=params,
        rtl_files=[Path(f) for f in rendered.files],
        sdc_file=sdc,
        out_dir=out_dir,
        clock_period=period,
    )
