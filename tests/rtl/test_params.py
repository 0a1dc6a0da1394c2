"""Parameter validation: defaults, normalisation, and one clear error naming the parameter."""

from __future__ import annotations

import pytest

import halut

REFERENCE = {
    "halut_encoder": dict(C=32, K=16, M=4, DU=2, dtype="int8", mem_style="latch"),
    "halut_decoder": dict(C=32, K=16, M=4, DU=2, dtype="int8", mem_style="latch"),
    "halut_matmul": dict(C=16, K=16, M=8, DU=4, dtype="int8", mem_style="latch"),
}


def test_designs_are_the_three_tops():
    assert halut.DESIGNS == ("halut_encoder", "halut_decoder", "halut_matmul")


@pytest.mark.parametrize("design", halut.DESIGNS)
def test_defaults_fill_every_parameter(design):
    assert halut.validate_params(design, {}) == dict(C=32, K=16, M=4, DU=2, dtype="int8", mem_style="latch")


@pytest.mark.parametrize("design", halut.DESIGNS)
def test_reference_configurations_validate_unchanged(design):
    assert halut.validate_params(design, REFERENCE[design]) == REFERENCE[design]


def test_normalised_order_is_the_schema_order():
    params = halut.validate_params("halut_decoder", {"mem_style": "flop", "C": 8, "dtype": "fp16"})
    assert list(params) == ["C", "K", "M", "DU", "dtype", "mem_style"]


@pytest.mark.parametrize(
    ("design", "params", "name", "fragment"),
    [
        ("halut_encoder", {"C": 30}, "C", "multiple of 4"),
        ("halut_encoder", {"C": 0}, "C", "at least 4"),
        ("halut_decoder", {"C": "32"}, "C", "integer"),
        ("halut_decoder", {"C": True}, "C", "integer"),
        ("halut_decoder", {"C": 32.0}, "C", "integer"),
        ("halut_encoder", {"K": 12}, "K", "power of two"),
        ("halut_encoder", {"K": 32}, "K", "at most 16"),
        ("halut_encoder", {"K": 2}, "K", "at least 4"),
        ("halut_matmul", {"DU": 3, "M": 6}, "DU", "power of two"),
        ("halut_matmul", {"DU": 4, "M": 6}, "DU", "divide M"),
        ("halut_encoder", {"DU": 8, "M": 4}, "DU", "divide M"),
        ("halut_matmul", {"C": 4, "M": 8, "DU": 8}, "DU", "exceed C"),
        ("halut_matmul", {"M": 0}, "M", "at least 1"),
        ("halut_matmul", {"dtype": "bf16"}, "dtype", "int8, fp16"),
        ("halut_matmul", {"mem_style": "sram"}, "mem_style", "latch, flop"),
        ("halut_matmul", {"mem_style": None}, "mem_style", "string"),
        ("halut_decoder", {"N": 3}, "N", "unknown parameter"),
    ],
)
def test_invalid_parameter_is_named_with_its_value(design, params, name, fragment):
    with pytest.raises(halut.ParameterError) as info:
        halut.validate_params(design, params)
    message = str(info.value)
    assert message.startswith(f"parameter '{name}': ")
    assert fragment in message
    assert f"(value: {params[name]!r})" in message
    assert "\n" not in message


def test_parameter_error_is_a_value_error_with_the_documented_format():
    with pytest.raises(ValueError, match=r"^parameter 'C': must be a multiple of 4 \(value: 30\)$"):
        halut.validate_params("halut_encoder", {"C": 30, "M": 4, "DU": 2})


def test_decoder_does_not_apply_the_matmul_group_rule():
    # a lone decoder has no groups: DU > C only matters for halut_matmul
    assert halut.validate_params("halut_decoder", {"C": 4, "M": 8, "DU": 8})["DU"] == 8


def test_unknown_design_is_an_error():
    with pytest.raises(halut.ParameterError, match="design 'halut_foo': unknown design"):
        halut.validate_params("halut_foo", {})


@pytest.mark.parametrize(
    ("design", "params", "expected"),
    [
        ("halut_encoder", REFERENCE["halut_encoder"],
         dict(threshold_words=480, threshold_bits=7680, lut_words=0, lut_bits=0, memory_words=480, memory_bits=7680,
              write_data_bits=64, write_address_latches=96)),
        ("halut_decoder", REFERENCE["halut_decoder"],
         dict(threshold_words=0, threshold_bits=0, lut_words=512, lut_bits=4096, memory_words=512, memory_bits=4096,
              write_data_bits=8, write_address_latches=48)),
        ("halut_matmul", REFERENCE["halut_matmul"],
         dict(threshold_words=240, threshold_bits=3840, lut_words=2048, lut_bits=16384,
              memory_words=2288, memory_bits=20224, write_data_bits=128,
              write_address_latches=320)),
        ("halut_decoder", dict(C=8, dtype="fp16", mem_style="flop"),
         dict(threshold_words=0, threshold_bits=0, lut_words=128, lut_bits=2048, memory_words=128, memory_bits=2048,
              write_data_bits=0, write_address_latches=0)),
    ],
)
def test_expected_storage_bits(design, params, expected):
    assert halut.expected_storage_bits(design, params) == expected


def test_expected_storage_bits_validates_first():
    with pytest.raises(halut.ParameterError, match="parameter 'C'"):
        halut.expected_storage_bits("halut_encoder", {"C": 6})
