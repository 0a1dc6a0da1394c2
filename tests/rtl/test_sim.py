"""Rendered RTL against the golden model, cycle by cycle, on Icarus Verilog and Verilator."""

from __future__ import annotations

from pathlib import Path

import pytest

import halut

BOTH = ("icarus", "verilator")

# (id, design, params, rows, specials, simulators): small parameter sets for speed, plus the
# reference configurations; together they cover both dtypes, both memory styles and K in {4, 8, 16}.
CASES = [
    ("enc-c8-int8-latch", "halut_encoder", dict(C=8, M=2, DU=2), 12, 0.0, BOTH),
    ("enc-c12-k8-flop-specials", "halut_encoder", dict(C=12, K=8, mem_style="flop"), 10, 0.05, BOTH),
    ("enc-c4-k4-latch", "halut_encoder", dict(C=4, K=4, M=1, DU=1), 16, 0.02, BOTH),
    ("enc-ref-c32", "halut_encoder", dict(C=32, M=4, DU=2), 4, 0.0, BOTH),
    ("dec-c8-int8-latch", "halut_decoder", dict(C=8), 16, 0.0, BOTH),
    ("dec-c8-fp16-flop", "halut_decoder", dict(C=8, dtype="fp16", mem_style="flop"), 24, 0.0, BOTH),
    ("dec-c4-k8-fp16-latch-specials", "halut_decoder", dict(C=4, K=8, dtype="fp16"), 32, 0.03, BOTH),
    ("dec-ref-c32", "halut_decoder", dict(C=32, M=4, DU=2), 4, 0.0, BOTH),
    ("mm-c8-m4-du2-int8-latch", "halut_matmul", dict(C=8, M=4, DU=2), 6, 0.0, BOTH),
    ("mm-c8-m2-du1-fp16-flop", "halut_matmul", dict(C=8, M=2, DU=1, dtype="fp16", mem_style="flop"), 6, 0.01, BOTH),
    ("mm-c4-m4-du4-k4-fp16-latch", "halut_matmul", dict(C=4, K=4, M=4, DU=4, dtype="fp16"), 8, 0.0, BOTH),
    ("mm-c12-m3-du1-k8-int8-flop", "halut_matmul", dict(C=12, K=8, M=3, DU=1, mem_style="flop"), 5, 0.0, BOTH),
    # The full reference matmul has 2288 latch words: Icarus needs ~80 s of CPU for it (every word's
    # clock gate wakes on every clock edge), Verilator ~30 s including its build.
    ("mm-ref-c16-m8-du4", "halut_matmul", dict(C=16, M=8, DU=4), 3, 0.0, ("verilator",)),
]
RUNS = [pytest.param(sim, *case[1:5], id=f"{sim}-{case[0]}") for case in CASES for sim in case[5]]


@pytest.mark.slow
@pytest.mark.parametrize(("simulator", "design", "params", "rows", "specials"), RUNS, indirect=["simulator"])
def test_rendered_rtl_matches_golden_model(cocotb_run, tmp_path, design, params, rows, specials):
    rendered = halut.render(design, params, tmp_path / "rtl")
    config = {
        "design": design,
        "params": rendered.params,
        "rows": rows,
        "specials": specials,
        "seed": sum(map(ord, f"{design}{sorted(params.items())}")),
    }
    cocotb_run.run(rendered.files, rendered.top, "tb_halut", config)


@pytest.mark.slow
def test_floating_point_blocks_match_golden_model(cocotb_run, tmp_path):
    rendered = halut.render("halut_matmul", dict(C=4, M=1, DU=1, dtype="fp16"), tmp_path / "rtl")
    blocks = {"halut_fp32_add.sv", "halut_fp16_to_fp32.sv", "halut_fp16_gt.sv"}
    sources = [f for f in rendered.files if f.name in blocks]
    assert len(sources) == len(blocks)
    wrapper = Path(__file__).parent / "benches" / "tb_fp_units.sv"
    cocotb_run.run([*sources, wrapper], "tb_fp_units", "tb_fp_units", {"seed": 2024, "vectors": 20000})
