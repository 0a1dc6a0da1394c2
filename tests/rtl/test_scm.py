"""halut_scm on its own, in plain Icarus (no cocotb): every word written reads back, for one bank
and for several. Icarus 11 once spun forever at one time step on the bank select (an always_comb
over two or more banks), which hung the learned-layer sim and with it a whole CI run; the
subprocess timeout turns such a hang into a failure naming the configuration."""

from __future__ import annotations

import subprocess

import pytest

import halut

BENCH = """
module tb;
  localparam int AW = {addr_width}, W = 8;
  logic clk = 0, we = 0;
  logic [AW-1:0] waddr = '0, raddr = '0;
  logic [W-1:0] wdata = '0, rdata;
  int errors = 0;
  halut_scm #(.AddrWidth(AW), .Width(W)) dut(.clk_i(clk), .we_i(we), .waddr_i(waddr), .wdata_i(wdata),
                                            .raddr_i(raddr), .rdata_o(rdata));
  always #5 clk = ~clk;
  initial begin
    for (int i = 0; i < (1 << AW); i++) begin
      @(negedge clk); we = 1; waddr = AW'(i); wdata = W'(i * 7 + 3);
    end
    @(negedge clk); we = 0;
    @(negedge clk);
    for (int i = 0; i < (1 << AW); i++) begin
      raddr = AW'(i); #1;
      if (rdata !== W'(i * 7 + 3)) errors++;
    end
    $display("words %0d errors %0d", 1 << AW, errors);
    $finish;
  end
endmodule
"""


@pytest.fixture(scope="module")
def scm_sources(tmp_path_factory):
    """halut_scm.sv and halut_scm_bank.sv as the decoder renders them, per memory style."""
    sources = {}
    for style in ("latch", "flop"):
        params = halut.validate_params("halut_decoder", {"C": 4, "K": 4, "M": 2, "DU": 1, "mem_style": style})
        out = tmp_path_factory.mktemp(f"scm_{style}")
        rendered = halut.render("halut_decoder", params, out)
        sources[style] = [f for f in rendered.files if f.name.startswith("halut_scm")]
    return sources


@pytest.mark.slow
@pytest.mark.parametrize("mem_style", ["latch", "flop"])
@pytest.mark.parametrize("addr_width", [4, 6, 9])  # one bank, 2 banks, 16 banks (the reference decoder's)
def test_every_word_written_reads_back(iverilog_executable, scm_sources, tmp_path, mem_style, addr_width):
    bench = tmp_path / "tb.sv"
    bench.write_text(BENCH.format(addr_width=addr_width), encoding="utf-8")
    sim = tmp_path / "sim.vvp"
    subprocess.run([str(iverilog_executable), "-g2012", "-o", str(sim), str(bench),
                    *map(str, scm_sources[mem_style])], check=True, capture_output=True, text=True, timeout=120)
    try:
        run = subprocess.run(["vvp", "-n", str(sim)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Icarus did not finish in 60 s: halut_scm AddrWidth={addr_width} {mem_style} (a zero-delay loop)")
    assert f"words {1 << addr_width} errors 0" in run.stdout, run.stdout + run.stderr
