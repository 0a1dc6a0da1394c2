"""Silicon in the loop: a layer learned on the digits data runs through halut_matmul's RTL."""

from __future__ import annotations

import numpy as np
import pytest

import halut
from halut import accuracy, learn

DIGITS_OUTPUT = {"dataset": "digits", "layer": "output", "seed": 0}


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus"], indirect=True)
@pytest.mark.parametrize(("C", "K", "dtype", "mem_style"), [(8, 8, "int8", "latch"), (16, 4, "fp16", "flop")])
def test_learned_digits_layer_on_rtl_is_bit_exact_and_as_accurate(cocotb_run, tmp_path, C, K, dtype, mem_style):
    pytest.importorskip("sklearn", reason="scikit-learn not installed")
    layer = accuracy.load_layer(DIGITS_OUTPUT)
    learned = learn.learn(layer.A_train, layer.B, C=C, K=K, dtype=dtype)
    params = learned.rtl_params(DU=2, mem_style=mem_style)  # M = 10 output columns: 5 groups of 2
    x = learned.gather(layer.A_test)  # host-side gather of the split columns, (N, C, L) fp16
    golden_bits = learned.raw(layer.A_test)
    data, out = tmp_path / "layer.npz", tmp_path / "rtl_results.npy"
    np.savez(data, thresholds=learned.thresholds, lut=learned.lut, x=x)
    rendered = halut.render("halut_matmul", params, tmp_path / "rtl")
    cocotb_run.run(rendered.files, rendered.top, "tb_learned",
                   {"params": rendered.params, "data": str(data), "out": str(out), "seed": 13})

    rtl_bits = np.load(out)
    assert np.array_equal(rtl_bits, golden_bits)  # bit for bit, all 540 x 10 results
    rtl_accuracy = layer.accuracy_pct(learned.dequantize(rtl_bits))
    exact = layer.A_test @ layer.B
    assert rtl_accuracy == layer.accuracy_pct(learned(layer.A_test))
    assert rtl_accuracy > 8 * 100.0 / layer.n_classes
    print(f"RTL C={C} K={K} {dtype}: accuracy {rtl_accuracy:.2f} % (exact layer {layer.accuracy_pct(exact):.2f} %), "
          f"relative Frobenius error {learn.relative_error(learned.dequantize(rtl_bits), exact):.4f}")
