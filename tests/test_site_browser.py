"""The generated site in a real browser (headless Debian Chromium via Playwright, file:// URLs)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

from orchestrator import history
from orchestrator.report import ArtifactRoots, build_reports
from orchestrator.report.view import INDEX_ROWS, format_metric
from tests.orfs_reference import reference_path
from tests.synthetic_history import HOSTILE_TEXT, showcase_records

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REFERENCE = reference_path(Path(__file__).resolve().parents[1])
REFERENCE_GDS = REFERENCE / "latest/nangate45/fp_16_32_adder/results/6_final.gds"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (needed to drive chromium)")
if not CHROMIUM.is_file() and not shutil.which("chromium"):
    pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

# Every local reference a page can make; checked against the file system and, for images, decoded.
_COLLECT_REFS = """() => {
  const refs = [];
  // SVG <a>: .href is not a string, so resolve the attribute against the page
  for (const a of document.querySelectorAll('a[href]'))
    refs.push(['a', a.getAttribute('href'), new URL(a.getAttribute('href'), document.baseURI).href]);
  for (const i of document.querySelectorAll('img[src]')) refs.push(['img', i.getAttribute('src'), i.src]);
  for (const l of document.querySelectorAll('link[href]')) refs.push(['link', l.getAttribute('href'), l.href]);
  return refs;
}"""

# Load every image eagerly (the pages use loading=lazy) and report the ones that do not decode.
_BROKEN_IMAGES = """async () => {
  const broken = [];
  await Promise.all([...document.querySelectorAll('img[src]')].map(img => new Promise(resolve => {
    const probe = new Image();
    probe.onload = () => { if (!probe.naturalWidth) broken.push(img.getAttribute('src')); resolve(); };
    probe.onerror = () => { broken.push(img.getAttribute('src')); resolve(); };
    probe.src = img.src;
  })));
  return broken;
}"""

_INDEX_CELLS = """() => {
  const cells = [];
  for (const table of document.querySelectorAll('table.summary')) {
    for (const row of table.querySelectorAll('tbody tr[data-metric]')) {
      for (const td of row.querySelectorAll('td[data-design]')) {
        cells.push({pdk: table.dataset.pdk, metric: row.dataset.metric, design: td.dataset.design,
                    value: td.dataset.value === undefined ? null : td.dataset.value,
                    text: td.textContent.trim()});
      }
    }
  }
  return cells;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    gds = REFERENCE_GDS if REFERENCE_GDS.is_file() else None
    records = showcase_records(root / "build", gds=gds)
    roots = ArtifactRoots(build=(root / "build", *([REFERENCE_GDS.parent] if gds else [])))
    summary = build_reports(records, reports_dir=root / "reports", cache_dir=root / "cache", roots=roots)
    assert not summary.warnings, summary.warnings
    return summary.out_dir, records


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        executable = CHROMIUM if CHROMIUM.is_file() else Path(shutil.which("chromium"))
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(browser, path: Path):
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def only_local(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            problems.append(f"network request: {route.request.url}")
            route.abort()

    page.route("**/*", only_local)
    response = page.goto(path.as_uri(), wait_until="load")
    assert response is None or response.ok, path
    return page, problems


def _loaded_width(page, image) -> int:
    """The natural width of a lazy image once the browser has finished loading it (0 when broken)."""
    image.scroll_into_view_if_needed()
    handle = image.element_handle()
    page.wait_for_function("(img) => img.complete", arg=handle, timeout=30_000)
    return page.evaluate("(img) => img.naturalWidth", handle)


def test_every_page_loads_cleanly_and_every_local_link_and_image_resolves(site, browser):
    out_dir, _ = site
    pages = sorted(out_dir.rglob("*.html"))
    assert len(pages) > 30
    failures: list[str] = []
    for path in pages:
        failures += _page_failures(browser, path, out_dir)
    assert not failures, "\n".join(failures[:30])


def _page_failures(browser, path: Path, out_dir: Path) -> list[str]:
    """Console errors, scripts that ran, references that leave the site or miss, images that do not decode."""
    failures: list[str] = []
    page, problems = _open(browser, path)
    for kind, raw, absolute in page.evaluate(_COLLECT_REFS):
        parts = urlsplit(absolute)
        if raw.startswith(("http:", "https:", "//")):
            failures.append(f"{path.relative_to(out_dir)}: external {kind} reference {raw}")
            continue
        if parts.scheme != "file":
            continue
        target = Path(unquote(parts.path))
        if not target.is_file():
            failures.append(f"{path.relative_to(out_dir)}: {kind} {raw} -> missing {target}")
        elif out_dir not in target.parents:
            failures.append(f"{path.relative_to(out_dir)}: {kind} {raw} leaves the site")
    for src in page.evaluate(_BROKEN_IMAGES):
        failures.append(f"{path.relative_to(out_dir)}: image does not decode: {src}")
    if page.evaluate("() => window.__halut_xss !== undefined"):
        failures.append(f"{path.relative_to(out_dir)}: injected script ran")
    failures += [f"{path.relative_to(out_dir)}: {p}" for p in problems]
    page.close()
    return failures


def test_index_numbers_equal_the_history_dataframe(site, browser):
    out_dir, records = site
    page, problems = _open(browser, out_dir / "index.html")
    shown = {(c["pdk"], c["metric"], c["design"]): c for c in page.evaluate(_INDEX_CELLS)}
    page.close()
    assert not problems
    frame = history.to_dataframe(records)
    latest = history.latest(frame, passing_only=True)
    assert len(latest) >= 6
    # A design without any passing run shows its latest partial run instead (and says so).
    partial = history.latest(frame[frame["status"] == "partial"])
    shown_partial = partial[~partial["design"].isin(latest["design"])]
    assert list(shown_partial["design"]) == ["halut_synth_only"]
    compared = 0
    for _, row in pd.concat([latest, shown_partial]).iterrows():
        for index_row in INDEX_ROWS:
            cell = shown[(row["pdk"], index_row.metric, row["design"])]
            expected = row[index_row.metric]
            if pd.isna(expected):
                assert cell["value"] is None and cell["text"], (row["design"], index_row.metric, cell)
                assert not cell["text"].replace(".", "").isdigit()  # a reason, never a number
                continue
            assert math.isclose(float(cell["value"]), float(expected), rel_tol=1e-12), (row["design"], cell)
            assert cell["text"].rstrip("†") == format_metric(index_row.metric, expected)
            compared += 1
    assert compared >= 6 * 5
    # Every design shown has its latest passing run, or says why it has none.
    designs_shown = {(pdk, design) for pdk, _, design in shown}
    assert {(r["pdk"], r["design"]) for _, r in latest.iterrows()} <= designs_shown
    assert shown[("nangate45", "area_um2", "halut_failing")]["text"].startswith("no passing run")
    assert shown[("asap7", "utilization_pct", "halut_synth_only")]["text"] == "no P&R: openroad not installed"
    assert shown[("asap7", "area_um2", "halut_synth_only")]["text"].endswith("†")  # post-synthesis mark


def test_script_in_names_is_visible_text_not_markup(site, browser):
    out_dir, _ = site
    page, problems = _open(browser, out_dir / "index.html")
    headers = page.locator("table.summary thead th").all_inner_texts()
    assert any(HOSTILE_TEXT in text for text in headers)
    assert page.evaluate("() => window.__halut_xss") is None
    page.close()
    assert not problems


@pytest.mark.skipif(not REFERENCE_GDS.is_file(), reason=f"reference GDS not present at {REFERENCE_GDS}")
def test_rendered_gds_layout_is_shown_in_the_index(site, browser):
    out_dir, _ = site
    page, problems = _open(browser, out_dir / "index.html")
    image = page.locator('td:has(img[alt*="fp_16_32_adder routing"]) img')
    assert image.count() == 1
    assert _loaded_width(page, image) >= 500
    page.close()
    assert not problems


REFERENCE_NANGATE45 = REFERENCE / "latest" / "nangate45"


@pytest.fixture(scope="module")
def orfs_site(tmp_path_factory):
    """The ORFS reference runs of NanGate45 next to routed runs of this flow: one at an ORFS clock
    (6 ns), one at a clock ORFS never ran (3 ns in ``latest/``)."""
    from orchestrator.config import load_platforms
    from orchestrator.orfs_import import import_orfs
    from tests.synthetic_history import routed_record

    root = tmp_path_factory.mktemp("vs-orfs")
    platforms = load_platforms(Path(__file__).resolve().parents[1] / "platforms")
    import_orfs(REFERENCE_NANGATE45, root / "history", platforms)
    records = history.load_records(root / "history")
    matched = routed_record(root / "build6", clock_period_ns=6.0)
    unmatched = routed_record(root / "build3", clock_period_ns=3.0,
                              timestamp=matched.timestamp.replace(hour=23))
    summary = build_reports([*records, matched, unmatched], reports_dir=root / "reports", platforms=platforms,
                            cache_dir=root / "cache",
                            roots=ArtifactRoots(build=(root,), imports=(REFERENCE_NANGATE45,)))
    assert not summary.warnings, summary.warnings
    return summary.out_dir, records, matched, unmatched


@pytest.mark.skipif(not REFERENCE_NANGATE45.is_dir(),
                    reason=f"ORFS reference runs not present at {REFERENCE_NANGATE45}")
def test_orfs_comparison_page_loads_cleanly_links_both_runs_and_shows_both_layouts(orfs_site, browser):
    from orchestrator.report.view import slug

    out_dir, records, matched, unmatched = orfs_site
    page_path = out_dir / "vs-orfs.html"
    linked_runs = set()
    page, problems = _open(browser, page_path)
    row = page.locator('tr[data-design="halut_decoder"][data-clock="6.0"]')
    assert row.count() == 1
    theirs = next(r for r in records if r.design == "halut_decoder" and r.metrics.clock_period_ns == 6.0)
    assert row.locator("a.ours").get_attribute("href") == f"runs/{slug(matched.run_id)}.html"
    assert row.locator("a.theirs").get_attribute("href") == f"runs/{slug(theirs.run_id)}.html"
    area = row.locator('td[data-metric="area_um2"][data-side="theirs"]')
    assert float(area.get_attribute("data-value")) == theirs.metrics.area_um2
    images = row.locator("img")
    assert images.count() == 2  # our KLayout drawing and ORFS's routing image
    for index in range(images.count()):
        assert _loaded_width(page, images.nth(index)) > 0
    other = page.locator('tr[data-design="halut_decoder"][data-clock="3.0"]')
    assert "no ORFS run at 3 ns (ORFS ran halut_decoder on nangate45 at 6 ns)" in other.inner_text()
    for link in page.locator("a[href^='runs/']").all():
        linked_runs.add(out_dir / link.get_attribute("href"))
    page.close()
    assert not problems, problems
    # The page, the index that links to it, and every run page it links to.
    failures = []
    for path in [page_path, out_dir / "index.html", *sorted(linked_runs)]:
        failures += _page_failures(browser, path, out_dir)
    assert not failures, "\n".join(failures[:30])
    index, problems = _open(browser, out_dir / "index.html")
    assert index.locator("nav a", has_text="vs ORFS").get_attribute("href") == "vs-orfs.html"
    # The index shows our own routed layout (the latest run): its thumbnail, linking to the picture.
    layout = index.locator(f'a[href="runs/{slug(unmatched.run_id)}/img/layout.png"] img')
    assert layout.count() == 1 and _loaded_width(index, layout) > 0
    index.close()
    assert not problems


@pytest.fixture(scope="module")
def pictured_site(tmp_path_factory, pdk_data_root):
    """A routed run with the real small run's DEFs (tests/fixtures/pictures) and, as its GDS,
    NanGate45's cell GDS (the cells its final GDS holds), so every picture is drawn."""
    from tests.synthetic_history import routed_record

    pytest.importorskip("klayout.db", reason="klayout Python module not installed")
    cells = pdk_data_root / "lambdapdk/freepdk45/libs/nangate45/gds/NangateOpenCellLibrary.gds"
    if not cells.is_file():
        pytest.skip(f"NanGate45 cell GDS not at {cells}")
    root = tmp_path_factory.mktemp("pictures")
    record = routed_record(root / "build", with_defs=True)
    gds = Path(record.build_dir) / "halut_decoder/job0/write.gds/0/outputs/halut_decoder.gds"
    shutil.copyfile(cells, gds)
    record.gds = str(gds)
    summary = build_reports([record], reports_dir=root / "reports", cache_dir=root / "cache",
                            roots=ArtifactRoots(build=(root / "build",)))
    assert not summary.warnings, summary.warnings
    return summary.out_dir, record


def test_run_page_opens_with_the_pictures_of_the_chip_and_collapsed_files(pictured_site, browser):
    from orchestrator.report.view import slug

    out_dir, record = pictured_site
    page_path = out_dir / "runs" / f"{slug(record.run_id)}.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(page_path.as_uri(), wait_until="load")
    figures = page.locator("section.pictures figure")
    keys = [figures.nth(i).get_attribute("data-image") for i in range(figures.count())]
    assert keys[:4] == ["placement density", "clock tree", "routing layers", "congestion"]
    for index in range(4):
        image = figures.nth(index).locator("img")
        # Decoded, drawn a few hundred px wide, and in the first screenful or the next one.
        assert _loaded_width(page, image) >= 700
        box = image.bounding_box()
        assert box["width"] >= 500
    page.evaluate("window.scrollTo(0, 0)")
    first = figures.nth(0).locator("img").bounding_box()
    metrics = page.locator("h2", has_text="Metrics").bounding_box()
    assert first["y"] < 400 and first["y"] < metrics["y"]
    # The file list: one collapsed <details> per step, its links hidden until opened.
    groups = page.locator("details.files")
    assert groups.count() >= 10
    assert page.evaluate("[...document.querySelectorAll('details.files')].every(d => !d.open)")
    first_link = groups.nth(0).locator("a").first
    assert not first_link.is_visible()
    groups.nth(0).locator("summary").click()
    assert first_link.is_visible()
    page.close()
    assert not _page_failures(browser, page_path, out_dir)
