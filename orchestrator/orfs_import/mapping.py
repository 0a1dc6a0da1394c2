"""Map ORFS onto the record: its keys to our metrics, its stages to our steps, its design names to
our designs and parameters, and what a run folder holds to a status.

Mapping: each metric ORFS reports is declared with its ORFS key and unit in the registry
(``MetricSpec.orfs``; the table is in docs/metrics.md). ``<stage>__<key>`` is read at the latest
ORFS stage that has it (``finish`` first, then ``detailedroute``, ``globalroute``, ``cts``, ...,
``floorplan``; ``steps.ORFS_STAGE_SPECS``) unless the registry names one stage, scaled from ORFS's
unit (a utilization fraction, watts, the platform's time unit) to the record's. Beyond that:

=============================================  ===================  ===============================
ORFS key                                       field                conversion
=============================================  ===================  ===============================
``synth_stat.txt`` "Chip area for top module"  ``area_um2``         only when no P&R stage has area
``constraints__clocks__details``               ``clock_period_ns``  "clk_i: 1500.0000" x time unit
(derived)                                      ``target_freq_mhz``  1000 / clock_period_ns
(derived)                                      ``fmax_mhz``         1000 / (period - ws); not when
                                                                    ws is exactly 0 (clamped slack)
(derived)                                      ``ge``               area / ge_reference_area_um2
(ORFS platform corner)                         ``voltage_v``        ``Platform.orfs_voltage_v``
``<stage>__runtime__total`` ("M:SS.ss")        ``StepInfo.runtime_s`` seconds
``<stage>__mem__peak`` (KiB)                   ``StepInfo.peak_memory_mib`` / 1024
=============================================  ===================  ===============================

``metric_steps`` names the ORFS stage each value came from (``"finish"``, ``"synth"``,
``"constraints"``, ``"platform"``). The time unit is ``run__flow__platform__time_units``, or the
platform file's ``time_unit`` when a file lacks it.

Design names: ORFS's uniquifying suffix is dropped (``halut_decoder__2864165611389228789`` ->
``halut_decoder``); a generator's ``orfs_design_parameters`` hook maps the rest (halut:
``halut_encoder_<N>``, the N-encoder wrapper, -> ``halut_encoder`` with ``{"EncUnits": N}``, the
RTL parameter); without a hook that answers, the name is the design. ``parameters["orfs_design"]``
keeps the ORFS name without the uniquifying suffix; ``top`` keeps it whole.

Status: ``pass`` = a metrics file with finish metrics; ``partial`` = a metrics file that stops
before finish; ``fail`` = no (readable) metrics file -- a crashed stage, a truncated file, a
folder with synthesis reports only. A failure keeps whatever real figures exist (synthesis area,
the last stage log's timing), never zeros.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.config import TIME_UNIT_NS, Platform
from orchestrator.designs import generator_hooks
from orchestrator.metrics import Figures
from orchestrator.orfs_import.find import METRICS_FILE_NAMES, OrfsImportError, OrfsRun
from orchestrator.orfs_import.parse import (
    _STEP_LOG_SEQUENCE,
    STEP_LOG_STAGE,
    SynthStat,
    _RunData,
    parse_clocks,
    parse_number,
    parse_peak_memory_mib,
    parse_runtime_s,
    parse_synth_stat,
    parse_time_unit_ns,
)
from orchestrator.record import METRIC_SPEC, MetricOrigin, StepInfo
from orchestrator.steps import ORFS_STAGE, ORFS_STAGE_SPECS, orfs_stage_origin

# ORFS metric stages (the prefix of every metric key) in flow order, declared in ``steps``.
ORFS_STAGES: tuple[str, ...] = tuple(spec.name for spec in ORFS_STAGE_SPECS)

# Stages that report design figures, latest first: "the latest stage that has it".
_FIGURE_STAGES: tuple[str, ...] = tuple(spec.name for spec in reversed(ORFS_STAGE_SPECS) if spec.figures)


def _orfs_key(name: str) -> str:
    """The ORFS key of a registry metric, with its stage when it has one."""
    orfs = METRIC_SPEC[name].orfs
    return f"{orfs.stage}__{orfs.key}" if orfs.stage else orfs.key


_UNIQUIFY_SUFFIX = re.compile(r"__\d+$")


def design_from_orfs_name(orfs_design: str) -> tuple[str, dict[str, Any]]:
    """ORFS design name -> (logical design, parameters), see the module docstring."""
    base = _UNIQUIFY_SUFFIX.sub("", orfs_design)
    parameters: dict[str, Any] = {}
    for hook in generator_hooks("orfs_design_parameters"):
        answer = hook(base)
        if answer is not None:
            base, found = answer
            parameters.update(found)
            break
    # Without the per-run uniquifying suffix: it would make every run its own parameter set and
    # split the history trends. The full name stays in the record's ``top``.
    parameters["orfs_design"] = _UNIQUIFY_SUFFIX.sub("", orfs_design)
    return base, parameters


def stage_origin(stage: str) -> MetricOrigin:
    return orfs_stage_origin(stage)


def _stages_in(data: dict[str, Any]) -> list[str]:
    prefixes = {key.split("__", 1)[0] for key in data if "__" in key}
    known = [s for s in ORFS_STAGES if s in prefixes]
    # A stage ORFS added later still shows up if it reports its own runtime.
    extra = sorted(p for p in prefixes - set(ORFS_STAGES) if f"{p}__runtime__total" in data)
    return known + extra


def _latest(data: dict[str, Any], suffix: str, stages: tuple[str, ...] = _FIGURE_STAGES) -> tuple[float, str] | None:
    for stage in stages:
        value = parse_number(data.get(f"{stage}__{suffix}"))
        if value is not None:
            return value, stage
    return None


def _time_unit_ns(data: dict[str, Any], platform: Platform, problems: list[str]) -> float | None:
    """The unit of every timing figure in the files, in ns; the platform's when the files lack it."""
    text = data.get("run__flow__platform__time_units")
    if text is None:
        return TIME_UNIT_NS[platform.time_unit]
    try:
        return parse_time_unit_ns(text)
    except ValueError:
        problems.append(f"run__flow__platform__time_units: not a time unit ({text!r})")
        return None


def _synthesis_figures(run: OrfsRun, data: dict[str, Any], problems: list[str]) -> SynthStat:
    """Area and cell count of synthesis: synth_stat.txt's whole-design total, else ORFS's synth keys."""
    stat = SynthStat(None, None)
    if run.synth_stat is not None:
        try:
            stat = parse_synth_stat(run.synth_stat.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            problems.append(f"{run.synth_stat.name}: cannot read: {exc}")
    area = stat.area_um2
    if area is None:
        area = parse_number(data.get("synth__design__instance__area__stdcell"))
    count = stat.cell_count
    if count is None:
        number = parse_number(data.get("synth__design__instance__count__stdcell"))
        count = int(round(number)) if number is not None else None
    return SynthStat(area, count)


def _figures(run: OrfsRun, data: dict[str, Any], pdk: str, platform: Platform, problems: list[str]) -> Figures:
    """ORFS keys -> normalised metrics (see the mapping table in the module docstring)."""
    out = Figures()
    unit_ns = _time_unit_ns(data, platform, problems)

    # Area and cell count: the latest P&R stage, else synthesis.
    area = _latest(data, _orfs_key("area_um2"))
    count = _latest(data, _orfs_key("stdcell_count"))
    if area is None or count is None:
        synth = _synthesis_figures(run, data, problems)
        if area is None and synth.area_um2 is not None:
            area = (synth.area_um2, "synth")
        if count is None and synth.cell_count is not None:
            count = (synth.cell_count, "synth")
    if area:
        out.put("area_um2", area[0], area[1])
        out.put("ge", area[0] / platform.ge_reference_area_um2, area[1])
        out.origin = stage_origin(area[1])
    if count:
        out.put("stdcell_count", int(round(count[0])), count[1])
        out.origin = out.origin or stage_origin(count[1])

    # Key and unit of each are the registry's (``MetricSpec.orfs``); a metric declared with an ORFS
    # key must be named here or above (tests/test_metric_registry.py).
    for name in ("utilization_pct", "die_area_um2", "core_area_um2", "power_mw"):
        found = _latest(data, METRIC_SPEC[name].orfs.key)
        if found:
            out.put(name, found[0] * METRIC_SPEC[name].orfs_scale, found[1])
    # Detailed routing's own figures (after its last iteration).
    for name in ("drc_count", "wirelength_um"):
        spec = METRIC_SPEC[name]
        value = parse_number(data.get(_orfs_key(name)))
        if value is not None and value >= 0:
            value *= spec.orfs_scale
            out.put(name, int(round(value)) if spec.kind is int else value, spec.orfs.stage)

    period_ns: float | None = None
    clock_key = _orfs_key("clock_period_ns")
    if clock_key in data and unit_ns is not None:
        try:
            clocks = parse_clocks(data[clock_key])
        except ValueError as exc:
            problems.append(f"{clock_key}: {exc}")
            clocks = []
        if clocks:
            # One clock in every halutmatmul run; with several, the platform's clock port decides.
            period_ns = next((p for n, p in clocks if n == platform.clock_port), clocks[0][1]) * unit_ns
            if not period_ns > 0:  # a zero or negative period: no frequency can be derived from it
                raise OrfsImportError(f"{run.path}: {clock_key}: clock period must be > 0 "
                                      f"(value: {data[clock_key]!r})")
            out.put("clock_period_ns", period_ns, "constraints")
            out.put("target_freq_mhz", 1000.0 / period_ns, "constraints")

    if unit_ns is not None:
        wns = _latest(data, _orfs_key("wns_ns"))
        tns = _latest(data, _orfs_key("tns_ns"))
        if wns:
            wns_ns = wns[0] * unit_ns
            out.put("wns_ns", wns_ns, wns[1])
            # A slack of exactly 0 is ORFS clamping (or no constrained path): fmax is unknown.
            if period_ns is not None and wns_ns != 0 and period_ns - wns_ns > 0:
                out.put("fmax_mhz", 1000.0 / (period_ns - wns_ns), wns[1])
        if tns:
            out.put("tns_ns", tns[0] * unit_ns, tns[1])

    out.put("voltage_v", platform.orfs_voltage_v or platform.voltage_v, "platform")
    return out


def _steps(run: OrfsRun, loaded: _RunData) -> list[StepInfo]:
    """One step per ORFS stage seen (metrics, step logs, synthesis report), in flow order."""
    seen = _stages_in(loaded.data)
    if run.synth_stat is not None and "synth" not in seen:
        seen.insert(0, "synth")
    seen += [stage for stage, _log in loaded.log_stages if stage not in seen]
    seen.sort(key=lambda s: ORFS_STAGES.index(s) if s in ORFS_STAGES else len(ORFS_STAGES))
    logs = {stage: str(log) for stage, log in loaded.log_stages}
    return [
        StepInfo(
            step=stage,
            status="success",
            tool=ORFS_STAGE[stage].tool if stage in ORFS_STAGE else "openroad",
            runtime_s=parse_runtime_s(loaded.data.get(f"{stage}__runtime__total")),
            peak_memory_mib=parse_peak_memory_mib(loaded.data.get(f"{stage}__mem__peak")),
            log=logs.get(stage),
        )
        for stage in seen
    ]


def _status(run: OrfsRun, loaded: _RunData, steps: list[StepInfo]) -> tuple[str, str | None, StepInfo | None]:
    """(status, reason, the step that crashed when the step logs tell)."""
    looked_for = ", ".join(METRICS_FILE_NAMES)
    if loaded.problems:
        return "fail", "; ".join(loaded.problems), None
    if loaded.metrics_file is not None:
        name = loaded.metrics_file.name
        if any(key.startswith("finish__") for key in loaded.data):
            return "pass", None, None
        if steps:
            return "partial", f"no finish metrics in {name}: flow stopped after {steps[-1].step}", None
        return "fail", f"{name} holds no stage metrics", None
    if loaded.log_stages:
        last_log = loaded.log_stages[-1][1].stem
        if last_log in _STEP_LOG_SEQUENCE[:-1]:
            next_log = _STEP_LOG_SEQUENCE[_STEP_LOG_SEQUENCE.index(last_log) + 1]
            crashed = STEP_LOG_STAGE[next_log]
            reason = (
                f"{stage_origin(crashed)} crashed: flow stopped after step {last_log} "
                f"({next_log} did not finish) and wrote no metrics file"
            )
            return "fail", reason, StepInfo(step=crashed, status="error", tool="openroad")
        return "fail", f"no metrics file (looked for {looked_for}); last step log is {last_log}", None
    if run.synth_stat is not None:
        reason = (
            f"no metrics file (looked for {looked_for}) and no step logs: "
            f"only the synthesis report {run.synth_stat.name} is present"
        )
        return "fail", reason, None
    return "fail", "no metrics file, step logs or synthesis report in the run folder", None


def _tool_versions(data: dict[str, Any]) -> dict[str, str]:
    keys = (
        ("openroad", "run__flow__openroad_version"),
        ("openroad_commit", "run__flow__openroad_commit"),
        ("orfs", "run__flow__scripts_commit"),
        ("orfs_platform", "run__flow__platform_commit"),
        ("orfs_metrics", "run__flow__metrics_version"),
    )
    versions = {name: str(data.get(key, "")).strip() for name, key in keys if isinstance(data.get(key), str)}
    return {name: value for name, value in versions.items() if value and value.upper() != "N/A"}
