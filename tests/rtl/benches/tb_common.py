"""Shared cocotb bench machinery: configuration, stimulus, and a cycle-by-cycle plan runner.

A bench builds a ``Plan`` up front from the golden model: the value of every input in every cycle
and, for every cycle, the expected value of every output under a bit mask (mask 0 = don't care).
``run_plan`` then drives and checks it cycle by cycle, so every output is compared in every cycle.

Timing convention: inputs for cycle t are applied after the falling edge before rising edge t;
outputs are sampled at the next falling edge, i.e. ``observed[t]`` is the state right after
rising edge t.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from halut import golden

CLOCK_PERIOD_NS = 10


def load_config() -> dict:
    """The case description the pytest runner wrote (design, params, seed, sizes)."""
    return json.loads(Path(os.environ["HALUT_TB_CONFIG"]).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- stimulus


def random_fp16(rng: np.random.Generator, shape, specials: float = 0.0) -> np.ndarray:
    """Random fp16 bit patterns: both signs, a wide exponent range, subnormals, signed zeros and,
    with probability ``specials``, infinities and NaNs."""
    size = int(np.prod(shape))
    sign = rng.integers(0, 2, size).astype(np.uint16) << 15
    exponent = rng.integers(1, 31, size).astype(np.uint16)
    mantissa = rng.integers(0, 1024, size).astype(np.uint16)
    bits = sign | (exponent << 10) | mantissa
    kind = rng.random(size)
    subnormal = kind < 0.15
    bits[subnormal] = sign[subnormal] | rng.integers(1, 1024, int(subnormal.sum())).astype(np.uint16)
    zero = (kind >= 0.15) & (kind < 0.20)
    bits[zero] = sign[zero]
    special = kind >= 1.0 - specials
    inf_or_nan = rng.integers(0, 1024, int(special.sum())).astype(np.uint16)
    inf_or_nan[rng.random(inf_or_nan.size) < 0.5] = 0  # half infinities, half NaNs
    bits[special] = sign[special] | np.uint16(0x7C00) | inf_or_nan
    return bits.reshape(shape)


def split_values(rng: np.random.Generator, thresholds: np.ndarray, rows: int, specials: float = 0.0) -> np.ndarray:
    """Split values (rows, C, L) that often hit the visited node's threshold exactly (equal
    values), its sign-flipped twin (+0 vs -0, negatives) or a neighbour one ulp away."""
    n_cb, nodes = thresholds.shape
    levels = int(np.log2(nodes + 1))
    x = random_fp16(rng, (rows, n_cb, levels), specials)
    k = np.zeros((rows, n_cb), dtype=np.int64)
    cb = np.arange(n_cb)[None, :]
    for level in range(levels):
        t = thresholds[cb, (1 << level) - 1 + k]
        choice = rng.random((rows, n_cb))
        neighbour = (t.astype(np.int32) + rng.choice([-1, 1], t.shape)).clip(0, 0xFFFF).astype(np.uint16)
        x[:, :, level] = np.select(
            [choice < 0.25, choice < 0.35, choice < 0.45],
            [t, t ^ np.uint16(0x8000), neighbour],
            x[:, :, level],
        )
        k = 2 * k + golden.fp16_gt(x[:, :, level], t).astype(np.int64)
    return x


def random_lut(rng: np.random.Generator, shape, dtype: str, specials: float = 0.0) -> np.ndarray:
    """int8 values (extremes over-represented) or fp16 bit patterns."""
    if dtype == "int8":
        values = rng.integers(-128, 128, shape)
        extreme = rng.random(shape) < 0.1
        values[extreme] = rng.choice([-128, 127, -1, 0], int(extreme.sum()))
        return values.astype(np.int8)
    return random_fp16(rng, shape, specials)


def bubbles(rng: np.random.Generator, slots: int, rate: float = 0.1) -> list[int]:
    """Slots before which the stream stalls for one cycle."""
    return [int(s) for s in np.flatnonzero(rng.random(slots) < rate)]


# ---------------------------------------------------------------- plan


@dataclass
class Plan:
    cycles: int
    inputs: dict[str, list[int]] = field(default_factory=dict)
    # output name -> per-cycle (mask, value); mask 0 means "don't care"
    expect: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # human-readable label per cycle for failure messages
    labels: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.labels = [""] * self.cycles

    def input(self, name: str, default: int = 0) -> list[int]:
        return self.inputs.setdefault(name, [default] * self.cycles)

    def output(self, name: str) -> list[tuple[int, int]]:
        return self.expect.setdefault(name, [(0, 0)] * self.cycles)

    def expect_bits(self, name: str, cycle: int, lsb: int, width: int, value: int) -> None:
        """Expect bits [lsb +: width] of ``name`` to equal ``value`` after rising edge ``cycle``."""
        column = self.output(name)
        mask, current = column[cycle]
        field_mask = ((1 << width) - 1) << lsb
        column[cycle] = (mask | field_mask, (current & ~field_mask) | ((int(value) << lsb) & field_mask))


def start_clock(dut) -> None:
    cocotb.start_soon(Clock(dut.clk_i, CLOCK_PERIOD_NS, unit="ns").start())


async def reset(dut, inputs: list[str]) -> None:
    """Zero the inputs and hold rst_ni low over two rising edges; returns at a falling edge."""
    for name in inputs:
        getattr(dut, name).value = 0
    dut.rst_ni.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk_i)
    dut.rst_ni.value = 1
    await FallingEdge(dut.clk_i)


async def run_plan(dut, plan: Plan, stop_after: int | None = None) -> int:
    """Reset, then drive and check every cycle of ``plan`` (up to and including ``stop_after``).

    Returns the number of checked output fields. Call ``start_clock`` first.
    """
    await reset(dut, list(plan.inputs))
    handles_in = {name: getattr(dut, name) for name in plan.inputs}
    handles_out = {name: getattr(dut, name) for name in plan.expect}
    last: dict[str, int] = {}
    checks = 0
    for t in range(plan.cycles if stop_after is None else stop_after + 1):
        for name, values in plan.inputs.items():
            value = values[t]
            if last.get(name) != value:
                handles_in[name].value = value
                last[name] = value
        await FallingEdge(dut.clk_i)
        for name, column in plan.expect.items():
            mask, want = column[t]
            if not mask:
                continue
            got = read_bits(handles_out[name], mask, f"cycle {t} {plan.labels[t]}: {name}")
            assert got & mask == want, (
                f"cycle {t} {plan.labels[t]}: {name} = {got & mask:#x} under mask {mask:#x}, expected {want:#x}"
            )
            checks += 1
    return checks


def read_bits(handle, mask: int, what: str) -> int:
    """The handle's value as an int; X/Z is an error only in bits under ``mask``."""
    text = str(handle.value)  # binary, MSB first; X/Z as letters
    bad = [i for i, ch in enumerate(reversed(text)) if ch not in "01" and (mask >> i) & 1]
    assert not bad, f"{what} has X/Z in checked bits: {text}"
    return int("".join(ch if ch in "01" else "0" for ch in text), 2)
