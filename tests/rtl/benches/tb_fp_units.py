"""cocotb bench for the floating-point blocks against the golden model: fp16 -> fp32 conversion
over all 65536 inputs, the fp32 adder and the fp16 comparator over random and corner operands
(subnormals, signed zeros, cancellation, overflow, Inf, NaN)."""

import cocotb
import numpy as np
from cocotb.triggers import Timer
from tb_common import load_config, random_fp16

from halut import golden

FP32_CORNERS = [
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x80800000,
    0x3F800000, 0xBF800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
    0xFFFFFFFF, 0x33800000, 0x4B800000, 0x3F800001, 0xBF7FFFFF,
]


def fp32_operands(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Operand pairs stressing alignment, cancellation, subnormals and rounding ties."""
    a = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    kind = rng.integers(0, 6, n)
    # 1: subnormal / tiny operands
    tiny = kind == 1
    a[tiny] = (a[tiny] & np.uint32(0x807FFFFF)) | (rng.integers(0, 3, int(tiny.sum())).astype(np.uint32) << 23)
    b[tiny] = (b[tiny] & np.uint32(0x807FFFFF)) | (rng.integers(0, 3, int(tiny.sum())).astype(np.uint32) << 23)
    # 2: near-cancellation: b = -(a +- a few ulps)
    cancel = kind == 2
    b[cancel] = (a[cancel] ^ np.uint32(0x80000000)) + rng.integers(-3, 4, int(cancel.sum())).astype(np.uint32)
    # 3: exponents close together (rounding ties and carries)
    close = kind == 3
    shift = rng.integers(-26, 27, int(close.sum())).astype(np.int64)
    exp_b = np.clip(((a[close] >> 23) & 0xFF).astype(np.int64) + shift, 0, 254).astype(np.uint32)
    b[close] = (b[close] & np.uint32(0x807FFFFF)) | (exp_b << 23)
    # 4: fp16-derived operands, as the decoder sees them
    half = kind == 4
    a[half] = golden.fp16_to_fp32_bits(random_fp16(rng, int(half.sum())))
    b[half] = golden.fp16_to_fp32_bits(random_fp16(rng, int(half.sum())))
    corners = np.array(FP32_CORNERS, dtype=np.uint32)
    pairs_a = np.repeat(corners, corners.size)
    pairs_b = np.tile(corners, corners.size)
    return np.concatenate([pairs_a, a]), np.concatenate([pairs_b, b])


@cocotb.test()
async def fp16_to_fp32_matches_golden_for_all_inputs(dut):
    inputs = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    want = golden.fp16_to_fp32_bits(inputs)
    for h, w in zip(inputs.tolist(), want.tolist(), strict=True):
        dut.conv_a_i.value = h
        await Timer(1, unit="ns")
        got = dut.conv_y_o.value.to_unsigned()
        assert got == w, f"fp16 {h:#06x}: got {got:#010x}, expected {w:#010x}"


@cocotb.test()
async def fp32_add_matches_numpy_float32(dut):
    cfg = load_config()
    rng = np.random.default_rng(cfg["seed"])
    a, b = fp32_operands(rng, cfg["vectors"])
    want = golden.fp32_add_bits(a, b)
    for x, y, w in zip(a.tolist(), b.tolist(), want.tolist(), strict=True):
        dut.add_a_i.value = x
        dut.add_b_i.value = y
        await Timer(1, unit="ns")
        got = dut.add_y_o.value.to_unsigned()
        assert got == w, f"{x:#010x} + {y:#010x}: got {got:#010x}, expected {w:#010x}"
    dut._log.info("%d additions checked", a.size)


@cocotb.test()
async def fp16_gt_matches_numpy_float16(dut):
    cfg = load_config()
    rng = np.random.default_rng(cfg["seed"] + 1)
    n = cfg["vectors"]
    a = random_fp16(rng, n, specials=0.05)
    b = random_fp16(rng, n, specials=0.05)
    pick = rng.random(n)
    b = np.where(pick < 0.2, a, b)  # equal
    b = np.where((pick >= 0.2) & (pick < 0.3), a ^ np.uint16(0x8000), b)  # sign-flipped twin
    want = golden.fp16_gt(a, b)
    for x, y, w in zip(a.tolist(), b.tolist(), want.tolist(), strict=True):
        dut.gt_a_i.value = x
        dut.gt_b_i.value = y
        await Timer(1, unit="ns")
        got = int(dut.gt_o.value)
        assert got == int(w), f"{x:#06x} > {y:#06x}: got {got}, expected {int(w)}"
