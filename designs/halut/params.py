"""Parameter schema and validation for the halut designs.

The schema lives in ``parameters.yaml`` (shared by all designs) and ``<design>.yaml`` (top name,
blocks in compile order, design-only rules). This module only interprets those files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from orchestrator.config import load_yaml
from orchestrator.errors import clip, cut

DESIGNS: tuple[str, ...] = ("halut_encoder", "halut_decoder", "halut_matmul")

# Encoder units interleaved in every encoder (unit u serves codebooks u, u+4, ...). Fixed by the
# micro-architecture: with tree depth <= 4 they deliver one (c, k) pair per cycle.
ENCODER_UNITS = 4


class ParameterError(ValueError):
    """A design name or parameter value is invalid; the message names it and its value."""


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    default: Any
    doc: str = ""
    choices: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None
    multiple_of: int | None = None
    power_of_two: bool = False


def _read_yaml(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    data = load_yaml(text)  # the orchestrator's bounded loader, as for every YAML document
    if not isinstance(data, dict):
        raise TypeError(f"{name}: expected a mapping at top level")
    return data


@cache
def parameter_schema() -> dict[str, ParameterSpec]:
    """Parameter name -> spec, in schema order."""
    raw = _read_yaml("parameters.yaml")["parameters"]
    specs = {}
    for name, fields in raw.items():
        fields = dict(fields)
        if "choices" in fields:
            fields["choices"] = tuple(fields["choices"])
        specs[name] = ParameterSpec(name=name, **fields)
    return specs


@cache
def _common_rules() -> tuple[dict[str, Any], ...]:
    return tuple(_read_yaml("parameters.yaml").get("rules", []))


@cache
def design_spec(design: str) -> dict[str, Any]:
    """The declarative description of one design (``<design>.yaml``)."""
    if design not in DESIGNS:
        raise ParameterError(f"design '{design}': unknown design (known: {', '.join(DESIGNS)})")
    return _read_yaml(f"{design}.yaml")


def defaults() -> dict[str, Any]:
    return {name: spec.default for name, spec in parameter_schema().items()}


def _fail(name: str, problem: str, value: Any) -> ParameterError:
    # Values come from config.yaml and --param: the message shows a bounded part of them.
    return ParameterError(f"parameter '{cut(name)}': {problem} (value: {clip(value)})")


def _check_one(spec: ParameterSpec, value: Any) -> Any:
    if spec.type == "int":
        # bool is an int subclass; True as a codebook count is a config mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(spec.name, "must be an integer", value)
        if spec.min is not None and value < spec.min:
            raise _fail(spec.name, f"must be at least {spec.min}", value)
        if spec.max is not None and value > spec.max:
            raise _fail(spec.name, f"must be at most {spec.max}", value)
        if spec.multiple_of is not None and value % spec.multiple_of:
            raise _fail(spec.name, f"must be a multiple of {spec.multiple_of}", value)
        if spec.power_of_two and value & (value - 1):
            raise _fail(spec.name, "must be a power of two", value)
        return int(value)
    if spec.type == "str":
        if not isinstance(value, str):
            raise _fail(spec.name, "must be a string", value)
        if spec.choices is not None and value not in spec.choices:
            raise _fail(spec.name, f"must be one of {', '.join(spec.choices)}", value)
        return value
    raise RuntimeError(f"parameters.yaml: parameter '{spec.name}' has unknown type '{spec.type}'")


def _check_rule(rule: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    name = rule["param"]
    value = params[name]
    why = f" ({rule['why']})" if "why" in rule else ""
    if "divides" in rule:
        other = rule["divides"]
        if params[other] % value:
            raise _fail(name, f"must divide {other}={params[other]}{why}", value)
    if "at_most" in rule:
        other = rule["at_most"]
        if value > params[other]:
            raise _fail(name, f"must not exceed {other}={params[other]}{why}", value)


def validate_params(design: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the normalised parameter dict (schema order, defaults filled) or raise ParameterError."""
    spec = design_spec(design)
    params = dict(params or {})
    schema = parameter_schema()
    for name in params:
        if name not in schema:
            raise _fail(str(name), f"unknown parameter (known: {', '.join(schema)})", params[name])
    normalised = {}
    for name, pspec in schema.items():
        normalised[name] = _check_one(pspec, params.get(name, pspec.default))
    for rule in (*_common_rules(), *spec.get("rules", [])):
        _check_rule(rule, normalised)
    return normalised


def clog2(value: int) -> int:
    """Ceiling log2, as Verilog's $clog2 (clog2(1) == 0)."""
    return max(0, (int(value) - 1).bit_length())


def lut_width(dtype: str) -> int:
    return {"int8": 8, "fp16": 16}[dtype]


def lut_addresses(C: int, K: int) -> list[int]:
    """Addresses of a decoder's LUT words: {c, k} for c < C."""
    return list(range(C * K))


def threshold_addresses(C: int, K: int) -> list[int]:
    """Addresses of one encoder unit's threshold words: {lc, p} for local codebook lc < C/4 and
    heap position p = node + 1 = 1..K-1 (the tree walk's own register; p = 0 holds nothing)."""
    return [(lc << clog2(K)) | p for lc in range(C // ENCODER_UNITS) for p in range(1, K)]


def scm_write_enable_lines(addresses: list[int], address_width: int) -> int:
    """Write-enable latches of a latch-style halut_scm: its address is predecoded in a high half
    (with the write enable) and a low half of floor(width / 2) bits, one latch per line that
    some word uses."""
    low = address_width // 2
    return len({a >> low for a in addresses}) + len({a & ((1 << low) - 1) for a in addresses})


def expected_storage_bits(design: str, params: Mapping[str, Any] | None) -> dict[str, int]:
    """Memory bits and words the design holds, from the parameters alone.

    Counts only the storage words of the memories (threshold SCMs in the encoder, LUT SCMs in the
    decoders), not pipeline/control registers:

    * ``threshold_words`` = C * (K - 1) fp16 thresholds, ``threshold_bits`` = 16 * threshold_words
      (encoder and matmul; 0 for the decoder);
    * ``lut_words`` = (M for matmul, else 1 for the decoder, 0 for the encoder) * C * K,
      ``lut_bits`` = lut_words * 8 (int8) or 16 (fp16);
    * ``memory_bits`` / ``memory_words``: the sums;
    * ``write_data_bits``: the latch style's write-data registers (one per memory: 16 bits per
      encoder unit, 8 or 16 per decoder); 0 for ``mem_style: flop``.
    * ``write_address_latches``: the latch style's latched write-enable lines (per memory, its
      predecoded write address: ``scm_write_enable_lines``; e.g. 32 + 16 for the C=32, K=16
      decoder); 0 for ``mem_style: flop``.

    With ``mem_style: latch`` each storage bit is one D latch, and each memory latches its
    predecoded write enable once (a word's clock gate ANDs clk with one high and one low line), so
    the RTL has memory_bits + write_address_latches latches and write_data_bits flops for the
    memories. Synthesis merges the latched lines that memories decode from the same address bits
    (the low half of the matmul's decoders and of the encoder's units), so a netlist may have
    fewer. With ``mem_style: flop`` each storage bit is one enabled flop and there are no latches.
    """
    p = validate_params(design, params)
    threshold_words = p["C"] * (p["K"] - 1) if design in ("halut_encoder", "halut_matmul") else 0
    decoders = {"halut_encoder": 0, "halut_decoder": 1, "halut_matmul": p["M"]}[design]
    lut_words = decoders * p["C"] * p["K"]
    threshold_bits = 16 * threshold_words
    lut_bits = lut_words * lut_width(p["dtype"])
    write_data_bits = write_address_latches = 0
    if p["mem_style"] == "latch":
        encoder_units = ENCODER_UNITS if threshold_words else 0
        write_data_bits = encoder_units * 16 + decoders * lut_width(p["dtype"])
        unit_width = max(1, clog2(p["C"] // ENCODER_UNITS)) + clog2(p["K"])
        lut_width_ = clog2(p["C"]) + clog2(p["K"])
        write_address_latches = (
            encoder_units * scm_write_enable_lines(threshold_addresses(p["C"], p["K"]), unit_width)
            + decoders * scm_write_enable_lines(lut_addresses(p["C"], p["K"]), lut_width_)
        )
    return {
        "threshold_words": threshold_words,
        "threshold_bits": threshold_bits,
        "lut_words": lut_words,
        "lut_bits": lut_bits,
        "memory_words": threshold_words + lut_words,
        "memory_bits": threshold_bits + lut_bits,
        "write_data_bits": write_data_bits,
        "write_address_latches": write_address_latches,
    }
