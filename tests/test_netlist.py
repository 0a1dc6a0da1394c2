"""The flop/latch census of gate-level netlists, flat and hierarchical."""

from __future__ import annotations

import pytest

from orchestrator import netlist

CLASSES = {"DFF_X1": "ff", "DLH_X1": "latch"}

HIERARCHICAL = r"""
module \$paramod$ab12\halut_scm_bank (clk_i, d, q);
  DLH_X1 \gen_word[0].q[0]  (.D(d), .G(clk_i), .Q(q[0]));
  DLH_X1 \gen_word[1].q[0]  (.D(d), .G(clk_i), .Q(q[1]));
  AND2_X1 _1_ (.A1(d), .A2(clk_i), .ZN(x));
endmodule

module halut_encoder (clk_i, d, q);
  \$paramod$ab12\halut_scm_bank  \u0/i_bank  (.clk_i(clk_i), .d(d), .q(a));
  \$paramod$ab12\halut_scm_bank  \u1/i_bank  (.clk_i(clk_i), .d(d), .q(b));
  \$paramod$ab12\halut_scm_bank  \u2/i_bank  (.clk_i(clk_i), .d(d), .q(c));
  DFF_X1 \out_q[0]$_DFF_P_  (.D(d), .CK(clk_i), .Q(q));
endmodule
"""


def test_a_module_instantiated_three_times_counts_three_times(tmp_path):
    path = tmp_path / "n.vg"
    path.write_text(HIERARCHICAL)
    assert netlist.census(path, CLASSES) == netlist.Census(flops=1, latches=6)


def test_flat_netlist_counts_each_instance(tmp_path):
    path = tmp_path / "n.vg"
    path.write_text("module top (a);\n  DLH_X1 l0 (.D(a));\n  DLH_X1 \\l1[0]  (.D(a));\n  DFF_X1 f (.D(a));\n"
                    "  INV_X1 i (.A(a));\nendmodule\n")
    assert netlist.census(path, CLASSES) == netlist.Census(flops=1, latches=2)


def test_a_module_that_instantiates_itself_is_refused(tmp_path):
    path = tmp_path / "n.vg"
    path.write_text("module a (x);\n  b u (.x(x));\nendmodule\nmodule b (x);\n  a u (.x(x));\nendmodule\n"
                    "module top (x);\n  a u (.x(x));\nendmodule\n")
    with pytest.raises(ValueError, match="deeper than 64"):
        netlist.census(path, CLASSES)
