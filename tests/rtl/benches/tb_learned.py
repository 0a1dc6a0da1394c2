"""cocotb bench: halut_matmul holding a *learned* layer (halut.learn). It writes the learned
thresholds and LUTs through the write ports, streams the test set's gathered split values, checks
every output in every cycle against the golden model (``run_plan``) and saves what the RTL put on
result_o, per row and column, for the pytest side to score."""

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge
from plans import matmul_plan_for
from tb_common import load_config, read_bits, run_plan, start_clock

from halut.render import template_context


async def _collect(dut, ctx, results, seen):
    """Every valid (m, result) pair of every group, after each rising edge."""
    groups, mw = ctx["G"], ctx["MW"]
    while True:
        await FallingEdge(dut.clk_i)
        valid = read_bits(dut.valid_o, 0, "valid_o")
        if not valid:
            continue
        m_bits = read_bits(dut.m_o, (1 << (mw * groups)) - 1, "m_o")
        result_bits = read_bits(dut.result_o, (1 << (32 * groups)) - 1, "result_o")
        for g in range(groups):
            if valid >> g & 1:
                m = m_bits >> (mw * g) & ((1 << mw) - 1)
                results[seen[m], m] = result_bits >> (32 * g) & 0xFFFFFFFF
                seen[m] += 1


@cocotb.test()
async def learned_layer_runs_bit_exact(dut):
    cfg = load_config()
    data = np.load(cfg["data"])
    ctx = template_context(cfg["params"])
    plan = matmul_plan_for(ctx, np.random.default_rng(cfg["seed"]), data["thresholds"], data["x"], data["lut"])
    rows = data["x"].shape[0]
    results = np.zeros((rows, ctx["M"]), dtype=np.uint32)
    seen = [0] * ctx["M"]
    start_clock(dut)
    collector = cocotb.start_soon(_collect(dut, ctx, results, seen))
    checks = await run_plan(dut, plan)
    collector.cancel()
    dut._log.info("learned layer %s: %d rows, %d cycles, %d output fields checked",
                  cfg["params"], rows, plan.cycles, checks)
    assert seen == [rows] * ctx["M"], f"results per column: {seen}, expected {rows} each"
    np.save(cfg["out"], results)
