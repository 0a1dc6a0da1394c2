"""Optional generator hooks: what the orchestrator's generic report and ORFS import ask this
generator about its designs (``orchestrator.designs.generator_hooks``). Each one answers None for
a case it does not cover, and the orchestrator works without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SIZE_AXIS_NAME = "C·K·M"
SIZE_AXIS_LABEL = "C·K·M (codebooks × prototypes × outputs)"

# halutmatmul's ORFS flow wraps N encoders in one top named halut_encoder_<N>.
_ENCODER_UNITS = re.compile(r"^(halut_encoder)_(\d+)$")


def size_axis(parameters: Mapping[str, Any]) -> tuple[str, str, float] | None:
    """The design-space report's size axis, as (name, axis label, value): C·K·M, the number of
    (codebook, prototype, output) entries the LUTs hold. None when C, K or M is not a number (an
    imported ORFS run records the RTL's parameters only in part)."""
    values = [parameters.get(name) for name in ("C", "K", "M")]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return SIZE_AXIS_NAME, SIZE_AXIS_LABEL, float(values[0] * values[1] * values[2])
    return None


def orfs_design_parameters(orfs_design: str) -> tuple[str, dict[str, Any]] | None:
    """ORFS design name (without ORFS's uniquifying suffix) -> (design, RTL parameters):
    ``halut_encoder_<N>`` (the N-encoder wrapper) is ``halut_encoder`` with ``EncUnits=N``.
    None for any other name (it is the design's own)."""
    match = _ENCODER_UNITS.match(orfs_design)
    if not match:
        return None
    return match.group(1), {"EncUnits": int(match.group(2))}
