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
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2

from orchestrator.config import Config, DesignSpec, Platform
from orchestrator.errors import OrchestratorError
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


def load_generator(name: str) -> ModuleType:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise DesignError(f"generator '{name}' cannot be imported: {exc}") from None
    for attr in ("DESIGNS", "validate_params", "render"):
        if not hasattr(module, attr):
            raise DesignError(f"generator '{name}' lacks '{attr}'")
    return module


KNOWN_GENERATORS: tuple[str, ...] = ("halut",)
"""The generators asked about a run record, which does not name its generator: a design entry's
default generator (``DesignSpec.generator``)."""


@cache
def _importable_generator(name: str) -> ModuleType | None:
    try:
        return load_generator(name)
    except DesignError:
        return None


def generator_hooks(hook: str, design: str | None = None,
                    generators: Iterable[str] | None = None) -> list[Callable[..., Any]]:
    """The optional hook ``hook`` of each generator that has it, in ``generators`` order (default
    ``KNOWN_GENERATORS``); with ``design``, only of the generators that render that design (list
    it in ``DESIGNS``). A generator that cannot be imported has no hooks."""
    found = []
    for name in KNOWN_GENERATORS if generators is None else generators:
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
