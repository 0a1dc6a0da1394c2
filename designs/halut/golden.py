"""Bit-exact numpy golden model of the halut RTL.

Data are carried as raw bit patterns (uint16 for fp16, uint32 for 32-bit results) so that signed
zeros, subnormals, infinities and NaNs compare exactly.

Numeric behaviour (the RTL matches it bit for bit):

* fp16 compare ``x > t`` is IEEE 754 compareQuietGreater, i.e. numpy ``float16 > float16``:
  +0 == -0 (gives 0), subnormals compare by value, +/-Inf are ordered, NaN on either side gives 0
  (so a NaN input always takes the left branch).
* Tree walk: ``k = 0; for l in 0..L-1: k = 2k + (x[l] > T[2^l - 1 + k])``; level 0 gives the MSB.
* int8: LUT words are two's complement int8, summed in codebook order into a wrapping int32.
* fp16: LUT words are converted exactly to float32 and summed in codebook order with numpy float32
  (IEEE round-to-nearest-even, subnormals kept), starting from -0.0 (so the first partial sum is
  exactly the first addend). Every NaN, whether from the LUT or from Inf + -Inf, is the canonical
  quiet NaN 0x7fc00000; infinities follow IEEE rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .params import ENCODER_UNITS

FP32_CANONICAL_NAN = 0x7FC00000
FP32_NEG_ZERO = 0x80000000


# ---------------------------------------------------------------- fp16 / fp32 primitives


def as_fp16_bits(values) -> np.ndarray:
    """float16-convertible values (or uint16 bit patterns) -> uint16 bit patterns."""
    array = np.asarray(values)
    if array.dtype == np.uint16:
        return array
    return np.asarray(array, dtype=np.float16).view(np.uint16)


def fp16_gt(a_bits, b_bits) -> np.ndarray:
    """``a > b`` for fp16 bit patterns, as the RTL comparator (IEEE compareQuietGreater)."""
    a = np.asarray(a_bits, dtype=np.uint16).view(np.float16)
    b = np.asarray(b_bits, dtype=np.uint16).view(np.float16)
    with np.errstate(invalid="ignore"):
        return a > b


def fp16_to_fp32_bits(h_bits) -> np.ndarray:
    """Exact fp16 -> fp32 conversion on bit patterns; NaN becomes the canonical quiet NaN."""
    h = np.asarray(h_bits, dtype=np.uint16)
    f = h.view(np.float16).astype(np.float32)
    return np.where(np.isnan(f), np.uint32(FP32_CANONICAL_NAN), f.view(np.uint32)).astype(np.uint32)


def fp32_add_bits(a_bits, b_bits) -> np.ndarray:
    """IEEE binary32 RNE addition on bit patterns (numpy float32), NaN canonicalised."""
    a = np.asarray(a_bits, dtype=np.uint32).view(np.float32)
    b = np.asarray(b_bits, dtype=np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        s = np.add(a, b, dtype=np.float32)
    return np.where(np.isnan(s), np.uint32(FP32_CANONICAL_NAN), s.view(np.uint32)).astype(np.uint32)


# ---------------------------------------------------------------- algorithm


def encode(x_bits, thresholds_bits) -> np.ndarray:
    """Leaf index per (row, codebook).

    x_bits: (N, C, L) fp16 split values, x[n, c, l] used at tree level l.
    thresholds_bits: (C, K - 1) fp16 thresholds in heap order.
    Returns int64 array (N, C) with values in [0, K).
    """
    x = np.asarray(x_bits, dtype=np.uint16)
    t = np.asarray(thresholds_bits, dtype=np.uint16)
    n_rows, n_cb, levels = x.shape
    if t.shape != (n_cb, (1 << levels) - 1):
        raise ValueError(f"thresholds shape {t.shape} does not fit x shape {x.shape}")
    k = np.zeros((n_rows, n_cb), dtype=np.int64)
    cb = np.arange(n_cb)[None, :]
    for level in range(levels):
        node = (1 << level) - 1 + k
        k = 2 * k + fp16_gt(x[:, :, level], t[cb, node]).astype(np.int64)
    return k


def lut_addends_fp32(lut_bits, k) -> np.ndarray:
    """(M, C, K) fp16 LUT and (N, C) leaves -> (N, M, C) fp32 addend bit patterns."""
    lut = np.asarray(lut_bits, dtype=np.uint16)
    n_cb = lut.shape[1]
    words = lut[:, np.arange(n_cb)[None, :], k]  # (M, N, C)
    return fp16_to_fp32_bits(np.transpose(words, (1, 0, 2)))


def decode(k, lut, dtype: str) -> np.ndarray:
    """Results (N, M) as uint32 bit patterns.

    k: (N, C) leaves; lut: (M, C, K) int8 values (dtype "int8") or fp16 bit patterns ("fp16").
    """
    k = np.asarray(k, dtype=np.int64)
    n_cb = k.shape[1]
    if dtype == "int8":
        words = np.asarray(lut, dtype=np.int8)[:, np.arange(n_cb)[None, :], k]  # (M, N, C)
        acc = np.zeros(words.shape[:2], dtype=np.int32)
        for c in range(n_cb):
            acc = (acc + words[:, :, c].astype(np.int32)).astype(np.int32)  # wraps like the RTL
        return acc.T.view(np.uint32).copy()
    if dtype == "fp16":
        addends = lut_addends_fp32(lut, k)  # (N, M, C)
        acc = np.full(addends.shape[:2], FP32_NEG_ZERO, dtype=np.uint32)
        for c in range(n_cb):
            acc = fp32_add_bits(acc, addends[:, :, c])
        return acc
    raise ValueError(f"unknown dtype {dtype!r}")


def matmul(x_bits, thresholds_bits, lut, dtype: str) -> np.ndarray:
    """Encode then decode: (N, M) uint32 result bit patterns."""
    return decode(encode(x_bits, thresholds_bits), lut, dtype)


def result_values(result_bits, dtype: str) -> np.ndarray:
    """uint32 result patterns -> int32 or float32 values (for display and float checks)."""
    bits = np.asarray(result_bits, dtype=np.uint32)
    return bits.view(np.int32) if dtype == "int8" else bits.view(np.float32)


# ---------------------------------------------------------------- cycle schedule of the RTL


@dataclass(frozen=True)
class EncoderStream:
    """Cycle-by-cycle encoder input, and the cycle each codebook step completes in.

    x_lanes[t, u], x_valid[t, u]: what lane u of the encoder gets in cycle t.
    step_done[s]: the cycle in which step s (= row * C + c) enters its last tree level; the
    encoder's (c, k, valid) for step s is visible right after that cycle's rising edge.
    """

    x_lanes: np.ndarray  # (T, UNITS) uint16
    x_valid: np.ndarray  # (T, UNITS) bool
    step_done: np.ndarray  # (N * C,) int64


def encoder_stream(x_bits, bubbles: Iterable[int] = ()) -> EncoderStream:
    """The diagonal lane schedule of the 4-unit encoder for rows x_bits (N, C, L).

    Step s enters lane s mod 4 at level l in slot s + l. ``bubbles`` are slot indices before which
    one all-idle cycle is inserted (a stall); they exercise the valid handshake.
    """
    x = np.asarray(x_bits, dtype=np.uint16)
    n_rows, n_cb, levels = x.shape
    if levels > ENCODER_UNITS:
        raise ValueError(f"tree depth {levels} exceeds the {ENCODER_UNITS} interleaved units")
    steps = x.reshape(n_rows * n_cb, levels)
    n_steps = steps.shape[0]
    n_slots = n_steps + levels - 1 if n_steps else 0
    bubble_set = sorted({int(b) for b in bubbles if 0 <= b < n_slots})
    slot_cycle = np.arange(n_slots, dtype=np.int64) + np.searchsorted(bubble_set, np.arange(n_slots), side="right")
    total = n_slots + len(bubble_set)
    lanes = np.zeros((total, ENCODER_UNITS), dtype=np.uint16)
    valid = np.zeros((total, ENCODER_UNITS), dtype=bool)
    for slot in range(n_slots):
        for lane in range(ENCODER_UNITS):
            level = (slot - lane) % ENCODER_UNITS
            step = slot - level
            if level < levels and 0 <= step < n_steps:
                lanes[slot_cycle[slot], lane] = steps[step, level]
                valid[slot_cycle[slot], lane] = True
    step_done = slot_cycle[np.arange(n_steps) + levels - 1] if n_steps else np.zeros(0, np.int64)
    return EncoderStream(lanes, valid, step_done)
