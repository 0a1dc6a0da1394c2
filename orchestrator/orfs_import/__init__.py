"""Import OpenROAD-flow-scripts (ORFS) run folders into the run history (``import-orfs``).

One ORFS run folder becomes one ``RunRecord`` (``source="orfs"``), in four jobs, one module each:
``find`` walks an archive for run folders (found by their layout, every path held to its run
folder), ``parse`` reads what ORFS wrote (metrics files, step logs, ``synth_stat.txt``, values),
``mapping`` maps ORFS keys, stages and design names onto the record's metrics, steps and designs
and decides the status, and ``importer`` builds the records and stores each run once. The names
used outside the package are re-exported here.
"""

from orchestrator.orfs_import.find import (
    IMAGE_SUFFIXES,
    METRICS_FILE_NAMES,
    OrfsImportError,
    OrfsRun,
    discover_runs,
    folder_timestamp,
)
from orchestrator.orfs_import.importer import ImportSummary, RunOutcome, import_orfs, run_to_record
from orchestrator.orfs_import.mapping import _FIGURE_STAGES, ORFS_STAGES, design_from_orfs_name, stage_origin
from orchestrator.orfs_import.parse import (
    _STEP_LOG_SEQUENCE,
    STEP_LOG_STAGE,
    SynthStat,
    parse_clocks,
    parse_generate_date,
    parse_number,
    parse_peak_memory_mib,
    parse_runtime_s,
    parse_synth_stat,
    parse_time_unit_ns,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "METRICS_FILE_NAMES",
    "ORFS_STAGES",
    "STEP_LOG_STAGE",
    "_FIGURE_STAGES",
    "_STEP_LOG_SEQUENCE",
    "ImportSummary",
    "OrfsImportError",
    "OrfsRun",
    "RunOutcome",
    "SynthStat",
    "design_from_orfs_name",
    "discover_runs",
    "folder_timestamp",
    "import_orfs",
    "parse_clocks",
    "parse_generate_date",
    "parse_number",
    "parse_peak_memory_mib",
    "parse_runtime_s",
    "parse_synth_stat",
    "parse_time_unit_ns",
    "run_to_record",
    "stage_origin",
]
