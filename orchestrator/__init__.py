"""halut ASIC flow orchestrator: render -> verify -> flow -> metrics -> history -> report."""

__version__ = "0.1.0"
