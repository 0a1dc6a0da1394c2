"""cocotb bench for halut_encoder, halut_decoder and halut_matmul: golden-model cycle plans
(the pytest runner passes the case in HALUT_TB_CONFIG)."""

import cocotb
from cocotb.triggers import Timer
from plans import PLANS
from tb_common import load_config, read_bits, reset, run_plan, start_clock


@cocotb.test()
async def outputs_match_golden_model_every_cycle(dut):
    cfg = load_config()
    plan = PLANS[cfg["design"]](cfg)
    start_clock(dut)
    checks = await run_plan(dut, plan)
    dut._log.info("%s %s: %d cycles, %d output fields checked", cfg["design"], cfg["params"], plan.cycles, checks)
    assert checks > plan.cycles  # the plan really checked data, not just valid


@cocotb.test()
async def async_reset_mid_stream_clears_valid_and_restarts_cleanly(dut):
    cfg = load_config()
    plan = PLANS[cfg["design"]](cfg)
    start_clock(dut)
    # stop at a cycle in the second half of the stream where a valid output is expected
    valid_cycles = [t for t, (mask, want) in enumerate(plan.expect["valid_o"]) if want]
    stop = valid_cycles[len(valid_cycles) // 2]
    await run_plan(dut, plan, stop_after=stop)
    assert read_bits(dut.valid_o, -1, "valid_o before reset") != 0
    dut.rst_ni.value = 0  # clock is low: no edge until the next rising edge
    await Timer(1, unit="ns")
    assert read_bits(dut.valid_o, -1, "valid_o during reset") == 0, "reset is not asynchronous"
    await reset(dut, list(plan.inputs))
    # a full run after the interrupted one: counters and pipelines must start from scratch
    assert await run_plan(dut, plan) > plan.cycles
