"""halut: Jinja2 RTL generator and bit-exact golden model for the MADDNESS (halutmatmul) hardware.

Public API (used by the orchestrator's render stage and by the tests):

* ``DESIGNS`` - the renderable designs;
* ``validate_params(design, params)`` - normalised parameters or ``ParameterError``;
* ``render(design, params, out_dir)`` - ``Rendered(top, files, params)``;
* ``expected_storage_bits(design, params)`` - memory sizes for netlist sanity checks;
* ``golden`` - the numpy golden model;
* ``learn`` - MADDNESS learning of thresholds and LUTs in the RTL's formats;
* ``accuracy`` - the orchestrator's accuracy plug-in (a layer of a classifier on real data);
* ``size_axis(parameters)``, ``orfs_design_parameters(orfs_design)`` - optional generator hooks of
  the design-space report and the ORFS import (``hooks``).
"""

from . import accuracy, golden, learn
from .hooks import orfs_design_parameters, size_axis
from .params import (
    DESIGNS,
    ParameterError,
    expected_storage_bits,
    parameter_schema,
    validate_params,
)
from .render import Rendered, render

__all__ = [
    "DESIGNS",
    "ParameterError",
    "Rendered",
    "accuracy",
    "expected_storage_bits",
    "golden",
    "learn",
    "orfs_design_parameters",
    "parameter_schema",
    "render",
    "size_axis",
    "validate_params",
]
