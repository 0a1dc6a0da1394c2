"""Reports: the static gallery (``build_site``) and the machine-readable tables (``write_tables``).

``build_reports`` does both from a list of records; ``build_reports_from_config`` is what
``python -m orchestrator report`` calls.
"""

from orchestrator.report.api import build_reports, build_reports_from_config
from orchestrator.report.layout import ArtifactRoots
from orchestrator.report.site import SiteSummary, build_site
from orchestrator.report.tables import summary_markdown, write_tables

__all__ = [
    "ArtifactRoots",
    "SiteSummary",
    "build_reports",
    "build_reports_from_config",
    "build_site",
    "summary_markdown",
    "write_tables",
]
