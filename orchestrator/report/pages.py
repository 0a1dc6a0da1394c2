"""The registry of the site's report pages: ``PAGES``, one ``Page`` line per page (the module that
builds it, its templates, what it shows), and ``SiteView``, what a page module is given.

The builder (``site.py``) writes the gallery's own pages itself: ``index.html``, a page per run
(``runs/``) and per design and PDK (``history/<pdk>/<design>/``), spread over worker processes
when the site is large. Every other page is an entry here, written from the whole history once
the run assets are published. Adding one is a module with ``write_pages(site: SiteView) -> None``,
its template(s) under ``templates/`` (``{% extends "base.html" %}``) and its line in ``PAGES``
(with ``nav``, every page's top bar links to it). A page may only render the templates its entry
declares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from orchestrator.config import Platform
from orchestrator.errors import OrchestratorError
from orchestrator.record import RunRecord


@dataclass(frozen=True)
class Page:
    """One entry of the registry."""

    module: str  # dotted name of the module whose ``write_pages(site)`` writes the page(s)
    templates: tuple[str, ...]  # the templates it renders (names under ``templates_dir``)
    about: str  # one line: where the page is and what it shows
    nav: tuple[str, str] | None = None  # (label, href from the site root): a link in every page's top bar
    templates_dir: Path | None = None  # None: ``orchestrator/report/templates`` (a page from elsewhere brings its own)


PAGES: tuple[Page, ...] = (
    Page("orchestrator.report.pdk_pages", ("pdk.html",),
         "history/<pdk>/index.html: per PDK, the cross-design comparison plots and the list of its designs"),
    Page("orchestrator.report.design_space", ("design_space_index.html", "design_space.html"),
         "design-space/: per (design, PDK) every configuration run, as scatter plots with the Pareto front",
         nav=("Design space", "design-space/index.html")),
    Page("orchestrator.report.orfs_compare", ("vs_orfs.html",),
         "vs-orfs.html: this flow vs the imported halutmatmul ORFS runs, at the same clock",
         nav=("vs ORFS", "vs-orfs.html")),
)


class PageWriter(Protocol):
    """Writes one site page: ``rel`` (path under the site root) from ``template`` with ``context``;
    the template gets ``root`` (the way back to the site root) and ``csp`` besides."""

    def __call__(self, rel: str, template: str, **context: Any) -> None: ...


@dataclass(frozen=True)
class SiteView:
    """What a page module gets: the history, the links into the site, and its page writer."""

    records: list[RunRecord]  # every record, oldest first
    groups: Mapping[tuple[str, str], list[RunRecord]]  # (pdk, design) -> its records, oldest first
    platforms: Mapping[str, Platform]  # the platforms known to the config (may be empty)
    orfs_reference: Mapping[str, dict] | None  # design -> the parameters the imported ORFS runs used
    plot_pages: Mapping[tuple[str, str], list[dict]]  # the plots drawn: (pdk, "") comparisons, (pdk, "trend")
    run_href: Callable[[RunRecord, str], str]  # (record, prefix to the root) -> its run page
    history_href: Callable[[str, str, str], str]  # (pdk, design, prefix) -> its history page
    layout_href: Callable[[RunRecord | None], str | None]  # the run's routed-layout image, from the root
    write_page: PageWriter


class PageError(OrchestratorError):
    """A registered page cannot be built: its module is missing, has no ``write_pages``, or renders a
    template its entry does not declare."""
