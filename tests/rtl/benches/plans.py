"""Cycle plans (inputs + expected outputs per cycle) for the three halut designs, from the golden
model. Pure Python: the cocotb benches run them, and they need no simulator to build."""

from __future__ import annotations

import numpy as np
from tb_common import Plan, bubbles, random_fp16, random_lut, split_values

from halut import golden
from halut.render import template_context


def _shuffled(rng: np.random.Generator, items: list) -> list:
    order = rng.permutation(len(items))
    return [items[i] for i in order]


def _threshold_writes(rng, ctx, thresholds) -> list[tuple[int, int]]:
    """(address, data) for every threshold, plus writes the encoder must ignore: node K-1 and,
    when C is not a power of two, codebooks >= C."""
    kw, n_cb, k = ctx["KW"], ctx["C"], ctx["K"]
    writes = [((c << kw) | node, int(thresholds[c, node])) for c in range(n_cb) for node in range(k - 1)]
    ignored = [((c << kw) | (k - 1), int(rng.integers(0, 1 << 16))) for c in range(n_cb)]
    ignored += [((c << kw) | node, int(rng.integers(0, 1 << 16)))
                for c in range(n_cb, 1 << ctx["CW"]) for node in range(k)]
    return _shuffled(rng, writes + ignored)


def _thresholds(rng, ctx, specials: float) -> np.ndarray:
    """Random fp16 thresholds, one in ten a signed zero so that +0 vs -0 decisions occur often."""
    thresholds = random_fp16(rng, (ctx["C"], ctx["K"] - 1), specials)
    zero = rng.random(thresholds.shape) < 0.1
    thresholds[zero] = rng.choice(np.array([0x0000, 0x8000], dtype=np.uint16), int(zero.sum()))
    return thresholds


def _lut_word(value, dtype: str) -> int:
    return int(value) & (0xFF if dtype == "int8" else 0xFFFF)


def _lut_writes(rng, ctx, lut, with_m: bool) -> list[tuple[int, int]]:
    """(address, data) for every LUT word: address {m, c, k} (matmul) or {c, k} (decoder), plus
    ignored addresses (c >= C, m >= M) when the fields are not full."""
    kw, cw, dtype = ctx["KW"], ctx["CW"], ctx["dtype"]
    lut_aw = ctx["LUT_AW"]
    n_m = lut.shape[0] if with_m else 1
    writes = []
    for m in range(n_m):
        base = (m << lut_aw) if with_m else 0
        for c in range(ctx["C"]):
            for k in range(ctx["K"]):
                writes.append((base | (c << kw) | k, _lut_word(lut[m, c, k], dtype)))
        for c in range(ctx["C"], 1 << cw):
            writes.append((base | (c << kw), int(rng.integers(0, 1 << ctx["LW"]))))
    if with_m:
        for m in range(n_m, 1 << ctx["MW"]):
            writes.append(((m << lut_aw), int(rng.integers(0, 1 << ctx["LW"]))))
    return _shuffled(rng, writes)


def _write_phase(plan: Plan, start: int, we: str, waddr: str, wdata: str, writes) -> int:
    for i, (address, data) in enumerate(writes):
        t = start + i
        plan.input(we)[t] = 1
        plan.input(waddr)[t] = address
        plan.input(wdata)[t] = data
        plan.labels[t] = f"write {waddr}={address:#x}"
    return start + len(writes)


def _stream_phase(plan: Plan, start: int, stream: golden.EncoderStream) -> None:
    lanes, valid = plan.input("x_i"), plan.input("x_valid_i")
    for t in range(stream.x_lanes.shape[0]):
        packed = 0
        for u in range(stream.x_lanes.shape[1]):
            packed |= int(stream.x_lanes[t, u]) << (16 * u)
        lanes[start + t] = packed
        valid[start + t] = int(sum(int(v) << u for u, v in enumerate(stream.x_valid[t])))
        plan.labels[start + t] = f"stream cycle {t}"


def _stimulus(cfg: dict):
    ctx = template_context(cfg["params"])
    rng = np.random.default_rng(cfg["seed"])
    specials = cfg.get("specials", 0.0)
    return ctx, rng, specials


def encoder_plan(cfg: dict) -> Plan:
    ctx, rng, specials = _stimulus(cfg)
    rows, n_cb, levels = cfg["rows"], ctx["C"], ctx["L"]
    thresholds = _thresholds(rng, ctx, specials)
    x = split_values(rng, thresholds, rows, specials)
    leaves = golden.encode(x, thresholds)
    writes = _threshold_writes(rng, ctx, thresholds)
    stream = golden.encoder_stream(x, bubbles(rng, rows * n_cb + levels))
    stream_start = len(writes) + 1
    plan = Plan(stream_start + stream.x_lanes.shape[0] + levels + 3)
    plan.input("thr_we_i"), plan.input("thr_waddr_i"), plan.input("thr_wdata_i")
    _write_phase(plan, 0, "thr_we_i", "thr_waddr_i", "thr_wdata_i", writes)
    _stream_phase(plan, stream_start, stream)
    for t in range(plan.cycles):
        plan.expect_bits("valid_o", t, 0, 1, 0)
    for step, done in enumerate(stream.step_done):
        t = stream_start + int(done)
        row, c = divmod(step, n_cb)
        plan.expect_bits("valid_o", t, 0, 1, 1)
        plan.expect_bits("c_o", t, 0, ctx["CW"], c)
        plan.expect_bits("k_o", t, 0, ctx["KW"], int(leaves[row, c]))
        plan.labels[t] += f" -> row {row} c {c}"
    return plan


def decoder_plan(cfg: dict) -> Plan:
    ctx, rng, specials = _stimulus(cfg)
    rows, n_cb = cfg["rows"], ctx["C"]
    lut = random_lut(rng, (1, n_cb, ctx["K"]), ctx["dtype"], specials)
    leaves = rng.integers(0, ctx["K"], (rows, n_cb))
    results = golden.decode(leaves, lut, ctx["dtype"])[:, 0]
    writes = _lut_writes(rng, ctx, lut, with_m=False)
    # (c, k) stream in codebook order with random one-cycle stalls
    stream: list[tuple[int, int] | None] = []
    for row in range(rows):
        for c in range(n_cb):
            if rng.random() < 0.1:
                stream.append(None)
            stream.append((c, int(leaves[row, c])))
    stream_start = len(writes) + 1
    plan = Plan(stream_start + len(stream) + 4)
    plan.input("c_i"), plan.input("k_i"), plan.input("valid_i")
    _write_phase(plan, 0, "lut_we_i", "lut_waddr_i", "lut_wdata_i", writes)
    row = 0
    done_cycles = []
    for i, item in enumerate(stream):
        t = stream_start + i
        if item is None:
            plan.labels[t] = "stall"
            continue
        c, k = item
        plan.input("c_i")[t], plan.input("k_i")[t], plan.input("valid_i")[t] = c, k, 1
        plan.labels[t] = f"row {row} c {c} k {k}"
        if c == n_cb - 1:
            done_cycles.append(t + 1)  # two register stages: visible after edge t + 1
            row += 1
    for t in range(plan.cycles):
        plan.expect_bits("valid_o", t, 0, 1, 0)
    for row, t_done in enumerate(done_cycles):
        plan.expect_bits("valid_o", t_done, 0, 1, 1)
        plan.labels[t_done] += f" -> result row {row}"
        # result_o holds until the next row completes
        t_end = done_cycles[row + 1] if row + 1 < len(done_cycles) else plan.cycles
        for t in range(t_done, t_end):
            plan.expect_bits("result_o", t, 0, 32, int(results[row]))
    return plan


def matmul_plan(cfg: dict) -> Plan:
    ctx, rng, specials = _stimulus(cfg)
    thresholds = _thresholds(rng, ctx, specials)
    x = split_values(rng, thresholds, cfg["rows"], specials)
    lut = random_lut(rng, (ctx["M"], ctx["C"], ctx["K"]), ctx["dtype"], specials)
    return matmul_plan_for(ctx, rng, thresholds, x, lut)


def matmul_plan_for(ctx: dict, rng: np.random.Generator, thresholds, x, lut) -> Plan:
    """The matmul plan for given thresholds (C, K-1), split values x (rows, C, L) and LUT (M, C, K)."""
    rows, n_cb, levels = x.shape[0], ctx["C"], ctx["L"]
    du, mw = ctx["DU"], ctx["MW"]
    results = golden.matmul(x, thresholds, lut, ctx["dtype"])  # (rows, M)
    thr_writes = _threshold_writes(rng, ctx, thresholds)
    lut_writes = _lut_writes(rng, ctx, lut, with_m=True)
    stream = golden.encoder_stream(x, bubbles(rng, rows * n_cb + levels))
    stream_start = len(thr_writes) + len(lut_writes) + 1
    plan = Plan(stream_start + stream.x_lanes.shape[0] + levels + du + 4)
    for name in ("thr_we_i", "thr_waddr_i", "thr_wdata_i", "lut_we_i", "lut_waddr_i", "lut_wdata_i"):
        plan.input(name)
    t = _write_phase(plan, 0, "thr_we_i", "thr_waddr_i", "thr_wdata_i", thr_writes)
    _write_phase(plan, t, "lut_we_i", "lut_waddr_i", "lut_wdata_i", lut_writes)
    _stream_phase(plan, stream_start, stream)
    for t in range(plan.cycles):
        plan.expect_bits("valid_o", t, 0, ctx["G"], 0)
    for row in range(rows):
        # encoder output after edge e; decoders register twice more; then DU serialised cycles
        e = stream_start + int(stream.step_done[row * n_cb + n_cb - 1])
        for g in range(ctx["G"]):
            for j in range(du):
                t, m = e + 2 + j, g * du + j
                plan.expect_bits("valid_o", t, g, 1, 1)
                plan.expect_bits("m_o", t, g * mw, mw, m)
                plan.expect_bits("result_o", t, 32 * g, 32, int(results[row, m]))
                plan.labels[t] += f" -> row {row} m {m}"
    return plan


PLANS = {"halut_encoder": encoder_plan, "halut_decoder": decoder_plan, "halut_matmul": matmul_plan}
