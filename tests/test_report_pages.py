"""The registry of report pages (``report.pages.PAGES``): each entry's module and templates exist,
and a page added with one module, one template and one registry line is built into the site and
linked from every page's top bar."""

from __future__ import annotations

import importlib
import textwrap

import pytest

from orchestrator.report import build_site, pages
from orchestrator.report.site import TEMPLATES_DIR
from tests.synthetic_history import synthetic_records

PAGE_MODULE = '''
"""A report page of a test: one line per (pdk, design) with its run count."""

from orchestrator.report.pages import SiteView


def write_pages(site: SiteView) -> None:
    rows = [(pdk, design, len(group), site.run_href(group[-1], ""))
            for (pdk, design), group in sorted(site.groups.items())]
    site.write_page("extra/counts.html", "counts.html", rows=rows, total=len(site.records))
'''

PAGE_TEMPLATE = """\
{% extends "base.html" %}
{% block title %}Run counts{% endblock %}
{% block content %}
<h1>Run counts of {{ total }} runs</h1>
<ul>
{% for pdk, design, runs, href in rows %}
<li data-pair="{{ pdk }}/{{ design }}"><a href="{{ root }}{{ href }}">{{ runs }}</a></li>
{% endfor %}
</ul>
{% endblock %}
"""


@pytest.mark.parametrize("page", pages.PAGES, ids=lambda p: p.module)
def test_every_registered_page_has_its_module_and_templates(page):
    assert callable(getattr(importlib.import_module(page.module), "write_pages", None))
    folder = page.templates_dir or TEMPLATES_DIR
    assert page.templates and all((folder / name).is_file() for name in page.templates)
    assert page.about and "\n" not in page.about


def add_page(tmp_path, monkeypatch, **entry) -> None:
    """The three steps of docs/extending.md: a module, a template, a line in ``PAGES``."""
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "counts_page.py").write_text(textwrap.dedent(PAGE_MODULE), encoding="utf-8")
    (tmp_path / "plugin" / "templates").mkdir()
    (tmp_path / "plugin" / "templates" / "counts.html").write_text(PAGE_TEMPLATE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "plugin"))
    line = pages.Page("counts_page", ("counts.html",), "extra/counts.html: the run count per design and PDK",
                      nav=("Counts", "extra/counts.html"), templates_dir=tmp_path / "plugin" / "templates")
    monkeypatch.setattr(pages, "PAGES", (*pages.PAGES, pages.Page(**{**line.__dict__, **entry})))


def test_a_page_added_through_the_registry_is_built_and_linked(tmp_path, monkeypatch):
    records = synthetic_records(12)
    before = build_site(records, tmp_path / "before")
    add_page(tmp_path, monkeypatch)
    summary = build_site(records, tmp_path / "site")
    page = (tmp_path / "site" / "extra" / "counts.html").read_text(encoding="utf-8")
    assert "<h1>Run counts of 12 runs</h1>" in page
    pairs = {(r.pdk, r.design) for r in records}
    assert page.count("data-pair=") == len(pairs)
    assert 'href="../runs/' in page  # links from its own depth, through the site's run_href
    assert summary.pages == before.pages + 1
    # Every page of the site links to it, from its own depth.
    assert '<a href="extra/counts.html">Counts</a>' in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    design_space = (tmp_path / "site" / "design-space" / "index.html").read_text(encoding="utf-8")
    assert '<a href="../extra/counts.html">Counts</a>' in design_space


def test_a_page_may_render_only_the_templates_its_entry_declares(tmp_path, monkeypatch):
    records = synthetic_records(6)
    build_site(records, tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    add_page(tmp_path, monkeypatch, templates=("other.html",))
    with pytest.raises(pages.PageError, match=r"report page counts_page: template 'counts.html' is not one of"):
        build_site(records, tmp_path / "site")
    assert (tmp_path / "site" / "index.html").read_text(encoding="utf-8") == index  # the old site stays


def test_a_registered_page_whose_module_is_missing_is_one_error_naming_it(tmp_path, monkeypatch):
    add_page(tmp_path, monkeypatch, module="no_such_page_module")
    with pytest.raises(pages.PageError, match=r"^report page no_such_page_module: cannot be imported"):
        build_site(synthetic_records(3), tmp_path / "site")
