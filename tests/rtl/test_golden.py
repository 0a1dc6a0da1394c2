"""The golden model against independent references: a float64 tree walk, exact rational
rounding for fp32 addition, plain Python sums, and known fp16 corner cases."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from halut import golden

POS_ZERO, NEG_ZERO = 0x0000, 0x8000
MIN_SUB, NEG_MIN_SUB, MAX_SUB = 0x0001, 0x8001, 0x03FF
MIN_NORMAL, MAX_HALF = 0x0400, 0x7BFF
POS_INF, NEG_INF, QNAN, SNAN = 0x7C00, 0xFC00, 0x7E00, 0x7C01
ONE, NEG_ONE, TWO, NEG_TWO = 0x3C00, 0xBC00, 0x4000, 0xC000


@pytest.mark.parametrize(
    ("a", "b", "greater"),
    [
        (POS_ZERO, NEG_ZERO, False),  # +0 == -0
        (NEG_ZERO, POS_ZERO, False),
        (POS_ZERO, POS_ZERO, False),
        (MIN_SUB, POS_ZERO, True),  # subnormals are ordered values
        (MIN_SUB, NEG_ZERO, True),
        (NEG_MIN_SUB, NEG_ZERO, False),
        (NEG_ZERO, NEG_MIN_SUB, True),
        (MIN_NORMAL, MAX_SUB, True),
        (NEG_ONE, NEG_TWO, True),  # two negatives: order reversed
        (NEG_TWO, NEG_ONE, False),
        (ONE, NEG_TWO, True),
        (NEG_ONE, TWO, False),
        (ONE, ONE, False),  # equal gives 0
        (NEG_ONE, NEG_ONE, False),
        (POS_INF, MAX_HALF, True),
        (POS_INF, POS_INF, False),
        (NEG_INF, NEG_ONE, False),
        (NEG_ONE, NEG_INF, True),
        (QNAN, ONE, False),  # NaN on either side gives 0
        (ONE, QNAN, False),
        (SNAN, NEG_INF, False),
        (NEG_INF, QNAN | 0x8000, False),
    ],
)
def test_fp16_gt_corner_cases(a, b, greater):
    assert bool(golden.fp16_gt(np.uint16(a), np.uint16(b))) is greater


def _fp16_pool(rng, n):
    """Random fp16 patterns of every class (normals, subnormals, zeros, Inf, NaN)."""
    bits = rng.integers(0, 1 << 16, n).astype(np.uint16)
    classes = rng.integers(0, 4, n)
    bits[classes == 1] &= np.uint16(0x83FF)  # subnormal or zero
    bits[classes == 2] &= np.uint16(0x8000)  # signed zero
    return bits


def _tree_walk_float64(x_row, thresholds_row):
    k = 0
    for level, x in enumerate(x_row):
        node = (1 << level) - 1 + k
        k = 2 * k + (1 if x > thresholds_row[node] else 0)  # Python float: IEEE, NaN compares False
    return k


@pytest.mark.parametrize("levels", [2, 3, 4])
def test_encode_matches_float64_tree_walk(levels):
    rng = np.random.default_rng(levels)
    n_rows, n_cb = 40, 12
    thresholds = _fp16_pool(rng, n_cb * ((1 << levels) - 1)).reshape(n_cb, -1)
    x = _fp16_pool(rng, n_rows * n_cb * levels).reshape(n_rows, n_cb, levels)
    # make about a third of the comparisons hit an equal value
    x[:, :, 0] = np.where(rng.random((n_rows, n_cb)) < 0.3, thresholds[None, :, 0], x[:, :, 0])
    leaves = golden.encode(x, thresholds)
    x64 = x.view(np.float16).astype(np.float64)
    t64 = thresholds.view(np.float16).astype(np.float64)
    for r in range(n_rows):
        for c in range(n_cb):
            assert leaves[r, c] == _tree_walk_float64(x64[r, c], t64[c])


def test_encode_level_zero_decision_is_the_msb():
    thresholds = np.zeros((1, 15), dtype=np.float16)
    x_right = np.array([[[1.0, -1.0, -1.0, -1.0]]], dtype=np.float16)
    assert golden.encode(golden.as_fp16_bits(x_right), golden.as_fp16_bits(thresholds))[0, 0] == 8


def test_fp16_to_fp32_is_exact_for_all_non_nan_inputs():
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    converted = golden.fp16_to_fp32_bits(halves)
    values = halves.view(np.float16)
    finite = ~np.isnan(values)
    assert np.array_equal(converted[finite].view(np.float32).astype(np.float64), values[finite].astype(np.float64))
    assert np.all(converted[~finite] == golden.FP32_CANONICAL_NAN)
    # signed zeros keep their sign
    assert golden.fp16_to_fp32_bits(np.uint16(NEG_ZERO)) == 0x80000000


def _f32_round_exact(q: Fraction) -> int:
    """Round a rational to binary32 (round to nearest, ties to even, subnormals, overflow to Inf)."""
    sign = 0x80000000 if q < 0 else 0
    q = abs(q)
    if q == 0:
        return sign
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    e = max(e, -126)  # below 2^-126 the spacing stays 2^-149 (subnormals)
    scaled = q / Fraction(2) ** (e - 23)
    m = scaled.numerator // scaled.denominator
    rest = scaled - m
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and m % 2 == 1):
        m += 1
    if m == 1 << 24:
        m, e = 1 << 23, e + 1
    if e > 127:
        return sign | 0x7F800000
    if m < 1 << 23:  # subnormal
        return sign | m
    return sign | ((e + 127) << 23) | (m - (1 << 23))


def _fraction_of(bits: int) -> Fraction:
    return Fraction(float(np.uint32(bits).view(np.float32)))


def test_fp32_add_is_correctly_rounded_including_subnormals():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 1 << 32, 3000, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 1 << 32, 3000, dtype=np.uint64).astype(np.uint32)
    a[:1000] &= np.uint32(0x81FFFFFF)  # tiny exponents: subnormal operands and results
    b[:1000] &= np.uint32(0x81FFFFFF)
    b[1000:2000] = (a[1000:2000] ^ np.uint32(0x80000000)) + rng.integers(-2, 3, 1000).astype(np.uint32)
    sums = golden.fp32_add_bits(a, b)
    checked = 0
    for x, y, s in zip(a.tolist(), b.tolist(), sums.tolist(), strict=True):
        fx, fy = np.uint32(x).view(np.float32), np.uint32(y).view(np.float32)
        if not (np.isfinite(fx) and np.isfinite(fy)):
            continue
        exact = _fraction_of(x) + _fraction_of(y)
        want = _f32_round_exact(exact)
        if exact == 0:  # sign of an exact zero: -0 only for (-0) + (-0)
            want = 0x80000000 if (x & y) >> 31 else 0
        assert s == want, f"{x:#010x} + {y:#010x}: {s:#010x} != {want:#010x}"
        checked += 1
    assert checked > 2500
    assert any(0 < (s & 0x7FFFFFFF) < 0x00800000 for s in sums.tolist())  # subnormal results seen


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (0x7F800000, 0xFF800000, golden.FP32_CANONICAL_NAN),  # Inf + -Inf
        (0x7FC00001, 0x3F800000, golden.FP32_CANONICAL_NAN),  # NaN payload dropped
        (0xFFC00000, 0x3F800000, golden.FP32_CANONICAL_NAN),  # NaN sign dropped
        (0x7F800000, 0x7F7FFFFF, 0x7F800000),  # Inf + finite
        (0x7F7FFFFF, 0x7F7FFFFF, 0x7F800000),  # overflow rounds to Inf
        (0x80000000, 0x80000000, 0x80000000),  # -0 + -0
        (0x80000000, 0x00000000, 0x00000000),  # -0 + +0
        (0x3F800000, 0xBF800000, 0x00000000),  # x + -x
    ],
)
def test_fp32_add_specials(a, b, want):
    assert int(golden.fp32_add_bits(np.uint32(a), np.uint32(b))) == want


def test_decode_int8_matches_python_integer_sum():
    rng = np.random.default_rng(3)
    lut = rng.integers(-128, 128, (3, 8, 16)).astype(np.int8)
    leaves = rng.integers(0, 16, (5, 8))
    results = golden.result_values(golden.decode(leaves, lut, "int8"), "int8")
    for r in range(5):
        for m in range(3):
            assert results[r, m] == sum(int(lut[m, c, leaves[r, c]]) for c in range(8))


def test_decode_fp16_is_a_sequential_float32_sum_in_codebook_order():
    rng = np.random.default_rng(4)
    lut = rng.standard_normal((2, 16, 16)).astype(np.float16) * np.float16(100)
    lut[0, :, 0] = np.float16(6e-8)  # subnormal fp16
    leaves = rng.integers(0, 16, (6, 16))
    leaves[0] = 0
    results = golden.result_values(golden.decode(leaves, golden.as_fp16_bits(lut), "fp16"), "fp16")
    for r in range(6):
        for m in range(2):
            acc = np.float32(lut[m, 0, leaves[r, 0]])
            for c in range(1, 16):
                acc = np.float32(acc + np.float32(lut[m, c, leaves[r, c]]))
            assert results[r, m].tobytes() == acc.tobytes()


def test_decode_fp16_signed_zero_and_nan_rules():
    lut = np.full((1, 4, 4), NEG_ZERO, dtype=np.uint16)
    assert golden.decode(np.zeros((1, 4), int), lut, "fp16")[0, 0] == 0x80000000  # all -0 sum to -0
    lut[0, 2, 0] = POS_ZERO
    assert golden.decode(np.zeros((1, 4), int), lut, "fp16")[0, 0] == 0x00000000
    lut[0, 1, 0] = SNAN | 0x8000
    assert golden.decode(np.zeros((1, 4), int), lut, "fp16")[0, 0] == golden.FP32_CANONICAL_NAN


@pytest.mark.parametrize("levels", [2, 3, 4])
def test_encoder_stream_is_diagonal_and_completes_one_step_per_cycle(levels):
    rng = np.random.default_rng(levels)
    x = rng.integers(0, 1 << 16, (3, 8, levels)).astype(np.uint16)
    stall_before = [0, 5, 6, 11]
    stream = golden.encoder_stream(x, stall_before)
    steps = x.reshape(-1, levels)
    # every step's values appear on lane s mod 4, one level per valid cycle, in order
    for s in range(steps.shape[0]):
        lane = s % 4
        cycles = np.flatnonzero(stream.x_valid[:, lane])
        per_step = cycles.reshape(-1, levels)[s // 4]
        assert list(stream.x_lanes[per_step, lane]) == list(steps[s])
        assert stream.step_done[s] == per_step[-1]
    assert np.all(np.diff(stream.step_done) >= 1)  # in order, never two in one cycle
    idle = np.flatnonzero(~stream.x_valid.any(axis=1))
    assert len(idle) == len(stall_before)
    assert stream.x_valid.sum() == steps.size
