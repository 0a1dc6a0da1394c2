"""cocotb bench for halut_encoder, halut_decoder and halut_matmul: one golden-model cycle plan per
run (the pytest runner passes the case in HALUT_TB_CONFIG)."""

import cocotb

from plans import PLANS
from tb_common import load_config, run_plan


@cocotb.test()
async def outputs_match_golden_model_every_cycle(dut):
    cfg = load_config()
    plan = PLANS[cfg["design"]](cfg)
    checks = await run_plan(dut, plan)
    dut._log.info("%s %s: %d cycles, %d output fields checked", cfg["design"], cfg["params"], plan.cycles, checks)
    assert checks > plan.cycles  # the plan really checked data, not just valid
