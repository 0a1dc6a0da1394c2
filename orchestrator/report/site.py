"""The static gallery: ``build_site(records, out_dir)`` writes a self-contained HTML site (relative
links only, no scripts from elsewhere) and swaps it into place atomically.

Layout of the site::

    index.html                              summary table per PDK (the halutmatmul table)
    runs/<run>.html                         one page per run: metrics, steps, tools, files, layout
    runs/<run>/files/<n>-<name>[.html]      copied logs/reports and their inline text viewer
    runs/<run>/img/...                      layout images (copied, or rendered from the GDS)
    runs/<run>/<name>.gds                   the run's GDS (hard link when possible)
    history/<pdk>/<design>/index.html       trend plot per metric + the table behind them
    data/history.csv                        the whole history as one table

and the pages of the registry (``pages.PAGES``), written by their own modules::

    history/<pdk>/index.html                cross-design comparison plot per PDK (``pdk_pages``)
    design-space/...                        configurations and Pareto fronts (``design_space``)
    vs-orfs.html                            this flow vs the imported halutmatmul ORFS runs, same clock
"""

from __future__ import annotations

import hashlib
import html
import importlib
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from orchestrator import __version__
from orchestrator.config import Platform
from orchestrator.fsutil import (
    atomic_write_bytes,
    current_umask,
    make_swap_directory,
    remove_swap_leftovers,
    swap_directory_into_place,
)
from orchestrator.history import record_sort_key, to_dataframe
from orchestrator.record import METRIC_NAMES, METRIC_SPEC, METRIC_UNITS, VIEWS, RunRecord, parameters_key
from orchestrator.report import def_file, identity, pages, pictures, plots, trends
from orchestrator.report import layout as layout_mod
from orchestrator.report.layout import ArtifactRoots, FileLink, ImageLink, RunAssets
from orchestrator.report.view import (
    IndexTable,
    build_index_tables,
    build_signoff_tables,
    format_metric,
    format_runtime,
    is_post_synthesis,
    metric_label,
    missing_reason,
    short_reason,
    slug,
)
from orchestrator.report.workers import PARALLEL_WORK_THRESHOLD, Workers

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

# Text files larger than this are shown truncated inline (the full copy is linked).
INLINE_TEXT_LIMIT_BYTES = 2 * 1024 * 1024
# Every page forbids scripts, plugins, forms and a <base> redirect: the site is static, and a run's
# reports come from elsewhere (an imported archive). Styles and images only from the site itself
# ('self'; file: for a site opened from disk), inline styles allowed (no script can come with them).
CONTENT_SECURITY_POLICY = ("default-src 'self' file:; script-src 'none'; object-src 'none'; "
                           "frame-src 'none'; base-uri 'none'; form-action 'none'; "
                           "style-src 'self' file: 'unsafe-inline'; img-src 'self' file: data:")
# Published images wider than this are replaced by a copy this wide (a 4096 px render opened from
# a thumbnail is 11 MB); thumbnails on the run page are THUMB_IMAGE_PX wide.
FULL_IMAGE_PX = 1600
THUMB_IMAGE_PX = 800
# Metric of the cross-design trend per PDK (first one any run has), and those of the cross-design
# comparison plot per PDK: chosen in ``record.VIEWS``.
CROSS_DESIGN_TREND_METRICS = tuple(c.metric for c in VIEWS["cross_design_trend"])
COMPARISON_METRICS = tuple(c.metric for c in VIEWS["comparison"])


@dataclass
class SiteSummary:
    """What ``build_site`` wrote."""

    out_dir: Path
    index: Path
    pages: int = 0
    runs: int = 0
    plots: int = 0
    images_copied: int = 0
    layouts_rendered: int = 0  # GDS renders done now (cache misses)
    layout_cache_hits: int = 0
    pictures_drawn: int = 0  # run-page pictures drawn now from DEFs and reports (cache misses)
    picture_cache_hits: int = 0
    files_copied: int = 0  # logs and reports
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    index_tables: list[IndexTable] = field(default_factory=list)
    # (design, pdk) -> {"placement"/"routing"/"gds": path relative to out_dir, or "<kind>_note": why
    # there is none} for the runs shown in the index.
    index_assets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


def _environment(registered: Iterable[pages.Page] = ()) -> Environment:
    """The pages' Jinja2 environment: ``templates/``, then the folders of registered pages that bring
    their own templates."""
    registered = tuple(registered)
    extra = list(dict.fromkeys(str(p.templates_dir) for p in registered if p.templates_dir is not None))
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES_DIR)), *map(FileSystemLoader, extra)]),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["metric"] = format_metric
    env.filters["runtime"] = format_runtime
    env.filters["when"] = _when
    env.globals["METRIC_UNITS"] = METRIC_UNITS
    env.globals["version"] = __version__
    env.globals["nav_links"] = [page.nav for page in registered if page.nav is not None]
    return env


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


class _SiteBuilder:
    def __init__(self, records: list[RunRecord], root: Path, platforms: dict[str, Platform] | None,
                 cache_dir: Path | None, summary: SiteSummary, roots: ArtifactRoots,
                 record_files: Mapping[str, Path], orfs_reference: dict[str, dict] | None = None) -> None:
        self.orfs_reference = orfs_reference
        self.records = sorted(records, key=record_sort_key)
        self.roots = roots
        self.record_files = record_files
        self.root = root
        self.platforms = platforms or {}
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.summary = summary
        self.pages = pages.PAGES  # read now: the registry as it is when the site is built
        self.env = _environment(self.pages)
        # Keyed by id(record), not run id: two records sharing a run id still get a page each.
        self.run_slug: dict[int, str] = {}
        self.groups: dict[tuple[str, str], list[RunRecord]] = {}
        self.assets: dict[int, RunAssets] = {}
        self._refused: set[tuple[int, str | None]] = set()  # (id(record), path) already warned about
        self._template_cache: dict[str, Any] = {}

    # ---- helpers -------------------------------------------------------------------------
    def template(self, name: str):
        tpl = self._template_cache.get(name)
        if tpl is None:
            tpl = self._template_cache[name] = self.env.get_template(name)
        return tpl

    def write_page(self, rel: str, template: str, *, mkdir: bool = True, **context: Any) -> None:
        depth = rel.count("/")
        html = self.template(template).render(root="../" * depth, csp=CONTENT_SECURITY_POLICY, **context)
        path = self.root / rel
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(html)
        self.summary.pages += 1

    def run_href(self, record: RunRecord, depth_prefix: str) -> str:
        return f"{depth_prefix}runs/{self.run_slug[id(record)]}.html"

    def history_href(self, pdk: str, design: str, depth_prefix: str) -> str:
        return f"{depth_prefix}history/{slug(pdk)}/{slug(design)}/index.html"

    # ---- build ---------------------------------------------------------------------------
    def build(self) -> None:
        self._assign_slugs()
        for record in self.records:
            self.groups.setdefault((record.pdk, record.design), []).append(record)
        shutil.copytree(STATIC_DIR, self.root / "static")
        (self.root / "runs").mkdir()

        plot_jobs, plot_pages = self._plan_plots()
        self.summary.plots = len(plot_jobs)
        self._collect_assets()  # file copies and GDS renders: before forking, so workers see them
        tables = build_index_tables(
            self.records, list(self.platforms) or None, {k: p.description for k, p in self.platforms.items()}
        )
        self.summary.index_tables = tables
        neighbours = self._neighbours()
        frame = to_dataframe(self.records)
        # One DataFrame for the whole history, split per group (to_dataframe per group is slow).
        frames = {key: part for key, part in frame.groupby(["pdk", "design"], sort=False)}
        group_keys = sorted(self.groups)

        def worker_share(share: int, shares: int) -> None:
            plots.draw_batch(plot_jobs[share::shares])
            self._write_group_pages(group_keys[share::shares], plot_pages, frames)
            self._write_run_pages(self.records[share::shares], neighbours)

        workers = plots.plot_workers() if self._work_units(plot_jobs) >= PARALLEL_WORK_THRESHOLD else 1
        with Workers(worker_share, workers):
            # Meanwhile, here: the pages that need the whole history.
            self._write_data(frame)
            self._write_index(tables)
            self._write_registered_pages(plot_pages)  # pages.PAGES: per-PDK, vs-orfs, design-space
        # Pages the workers wrote (their counters are not shared).
        if workers > 1:
            self.summary.pages += len(self.records) + len(group_keys)
        self.summary.runs = len(self.records)
        self._prune_plot_cache(plot_jobs)

    def _prune_plot_cache(self, plot_jobs: list) -> None:
        """Drop cached plots this history no longer draws (each new run changes its group's
        plots), so the cache stays the size of one site."""
        if self.cache_dir is None:
            return
        used = {job.cache.name for job in plot_jobs if job.cache is not None}
        for cached in (self.cache_dir / "plots").glob("*.svg"):
            if cached.name not in used:
                cached.unlink(missing_ok=True)

    def _work_units(self, plot_jobs: list) -> int:
        # A plot costs about as much as 100 run pages.
        return len(self.records) + 100 * len(plot_jobs)

    def _neighbours(self) -> dict[int, tuple[str | None, str | None]]:
        """id(record) -> (previous, next) run page of the same (design, pdk)."""
        result: dict[int, tuple[str | None, str | None]] = {}
        for group in self.groups.values():
            names = [self.run_slug[id(r)] for r in group]
            for position, record in enumerate(group):
                result[id(record)] = (
                    f"{names[position - 1]}.html" if position > 0 else None,
                    f"{names[position + 1]}.html" if position + 1 < len(names) else None,
                )
        return result

    def _assign_slugs(self) -> None:
        used: set[str] = set()
        for record in self.records:
            name = slug(record.run_id)
            if name in used:  # two records with one run id (should not happen): never overwrite
                name = slug(f"{record.run_id}#{len(used)}")
            used.add(name)
            self.run_slug[id(record)] = name

    # ---- plots ---------------------------------------------------------------------------
    def _plan_plots(self) -> tuple[list, dict]:
        jobs: list = []
        pages: dict[tuple[str, str], list[dict]] = {}
        for (pdk, design), group in self.groups.items():
            pages[(pdk, design)] = self._plan_group_plots(pdk, design, group, jobs)
        for pdk in sorted({p for p, _ in self.groups}):
            trend = self._cross_design_trend(pdk)
            if trend is not None:
                jobs.append(trend)
                pages[(pdk, "trend")] = [{"src": trend.path.name, "metric": trend.ylabel}]
            pages[(pdk, "")] = self._plan_comparisons(pdk, jobs)
        return jobs, pages

    def _cached(self, job):
        if self.cache_dir is not None:
            job.cache = self.cache_dir / "plots" / f"{job.digest()}.svg"
        return job

    def _plan_group_plots(self, pdk: str, design: str, group: list[RunRecord], jobs: list) -> list[dict]:
        """The trend plots of one (design, PDK), x by run order, one colour per configuration on
        every plot of the page; a metric no configuration ever changed is a sentence instead."""
        positions = np.arange(len(group), dtype=float)
        ticks = _date_labels(group)
        passing = np.array([r.status == "pass" for r in group])
        keys = [trends.series_key(r) for r in group]
        labels = trends.series_labels(group)
        colors = trends.assign_colors(trends.color_key(k) for k in keys)
        entries = []
        for metric in METRIC_NAMES:
            values = np.array([_num(getattr(r.metrics, metric)) for r in group], dtype=float)
            present = ~np.isnan(values)
            if not present.any():
                continue
            series = trends.trend_series(group, metric, positions, values, passing, keys=keys, labels=labels,
                                         colors=colors)
            constant = _constant_text(metric, series, int(present.sum()))
            if constant is not None:
                # A flat line says nothing a sentence cannot; skipping it keeps big sites fast.
                entries.append({"metric": metric, "label": metric_label(metric), "src": None,
                                "points": int(present.sum()), "constant": constant})
                continue
            file_name = f"{slug(metric)}.svg"
            job = self._cached(plots.TrendPlot(
                path=self.root / f"history/{slug(pdk)}/{slug(design)}" / file_name,
                title=f"{design} on {pdk}: {METRIC_SPEC[metric].title}",
                ylabel=metric_label(metric), series=series, force_legend=trends.needs_legend(series),
                tick_labels=ticks, signed=METRIC_SPEC[metric].signed,
            ))
            jobs.append(job)
            entries.append({"metric": metric, "label": metric_label(metric), "src": file_name,
                            "points": int(present.sum()), "constant": None})
        return entries

    def _plan_comparisons(self, pdk: str, jobs: list) -> list[dict]:
        """One bar chart per kind of run (source, stage) on ``pdk``: the latest passing run of each
        design of that kind; ORFS imports and this flow, or estimates and routed figures, never
        share an axis. A panel whose bars would all be one value is a sentence instead."""
        records = [r for (p, _), group in self.groups.items() if p == pdk for r in group]
        latest = identity.newest_per(records, identity.design_kind)
        kinds = sorted({kind for _, _, kind in latest}, key=lambda k: (not k.is_own, k.stage != "post-route", k))
        entries = []
        for kind in kinds:
            chosen = {design: r for (_, design, k), r in latest.items() if k == kind}
            designs = sorted(chosen)
            panels, constants = [], []
            for metric in COMPARISON_METRICS:
                values = [_num(getattr(chosen[d].metrics, metric)) for d in designs]
                shown = [v for v in values if not np.isnan(v)]
                if not shown:
                    continue
                if len(set(shown)) == 1:  # one bar, or bars of one height: a sentence says it
                    who = "every design" if len(shown) > 1 else next(d for d, v in zip(designs, values, strict=True)
                                                                      if not np.isnan(v))
                    unit = METRIC_UNITS.get(metric, "")
                    constants.append(f"{METRIC_SPEC[metric].title}: {who} {format_metric(metric, shown[0])} {unit}"
                                     .strip())
                    continue
                panels.append((metric_label(metric), values))
            name = f"comparison-{slug(kind.source)}-{slug(kind.stage.replace(' ', '-'))}.svg"
            if panels:
                colors = trends.assign_colors(designs)
                jobs.append(self._cached(plots.ComparisonPlot(
                    path=self.root / "history" / slug(pdk) / name,
                    title=f"{pdk}, {kind.label}: latest passing run per design",
                    designs=designs, panels=panels, colors=[colors[d] for d in designs],
                )))
            entries.append({"src": name if panels else None, "kind": kind.label, "constants": constants,
                            "runs": [chosen[d] for d in designs]})
        return entries

    def _cross_design_trend(self, pdk: str) -> plots.TrendPlot | None:
        """GE (else area) of every design on ``pdk`` by run order, one line per configuration."""
        records = sorted((r for (p, _), group in self.groups.items() if p == pdk for r in group),
                         key=record_sort_key)
        for metric in CROSS_DESIGN_TREND_METRICS:
            with_value = [r for r in records if getattr(r.metrics, metric) is not None]
            if not with_value:
                continue
            keys = [trends.series_key(r) for r in with_value]
            labels = {key: f"{key.design}: {label}" for key, label in trends.series_labels(with_value).items()}
            series = trends.trend_series(
                with_value, metric, np.arange(len(with_value), dtype=float),
                np.array([float(getattr(r.metrics, metric)) for r in with_value]),
                np.array([r.status == "pass" for r in with_value]), keys=keys, labels=labels)
            return self._cached(plots.TrendPlot(
                path=self.root / "history" / slug(pdk) / f"trend-{slug(metric)}.svg",
                title=f"{pdk}: {METRIC_SPEC[metric].title} of every design",
                ylabel=metric_label(metric), series=series, force_legend=True,
                tick_labels=_date_labels(with_value), signed=METRIC_SPEC[metric].signed,
            ))
        return None

    # ---- run artefacts -------------------------------------------------------------------
    def _collect_assets(self) -> None:
        for record in self.records:
            if layout_mod.has_artifacts(record):
                self.assets[id(record)] = self._run_assets(record)
            else:
                self.assets[id(record)] = RunAssets(gds_note=layout_mod.no_artifact_reason(record, "GDS"))

    def _run_assets(self, record: RunRecord) -> RunAssets:
        run_dir = self.root / "runs" / self.run_slug[id(record)]
        assets = RunAssets()
        used: set[str] = set()

        def unique(name: str) -> str:
            candidate, n = name, 1
            while candidate in used:
                n += 1
                stem, dot, ext = name.rpartition(".")
                candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
            used.add(candidate)
            return candidate

        for key, path in record.images.items():
            found = self._locate(record, path)
            if found.path is None:
                note = f"image not copied: {found.refused}" if found.refused else f"image file missing: {path}"
                assets.images.append(ImageLink(key=key, href=None, note=note))
                continue
            if found.path.suffix.lower() in layout_mod.ACTIVE_SUFFIXES:
                note = "image not copied: an SVG image can carry scripts"
                assets.images.append(ImageLink(key=key, href=None, note=note))
                continue
            suffix = found.path.suffix.lower() if found.path.suffix.lower() in layout_mod.IMAGE_SUFFIXES else ".png"
            rel = f"img/{unique(slug(key) + suffix)}"
            if not self._publish(record, path, found, run_dir / rel):
                assets.images.append(ImageLink(key=key, href=None, note="image not copied: it changed while read"))
                continue
            self.summary.images_copied += 1
            assets.images.append(self._shrink(record, key, run_dir, rel))

        gds = self._locate(record, record.gds)
        if gds.refused:
            assets.gds_note = f"GDS not copied: {gds.refused}"
        elif gds.path is not None:
            rel = unique(layout_mod.safe_file_name(gds.path.name))
            if self._publish(record, record.gds, gds, run_dir / rel):
                assets.gds_href = rel
                if not any(img.href for img in assets.images):
                    # Rendered from the site's own copy: the very file that was checked.
                    assets.images.append(self._render_layout(record, run_dir / rel, run_dir))
            else:
                assets.gds_note = "GDS not copied: it changed while read"
        elif record.gds:
            assets.gds_note = f"GDS file missing: {record.gds}"
        else:
            assets.gds_note = layout_mod.no_artifact_reason(record, "GDS")
        # The pictures drawn here lead; the record's own images (the KLayout render) follow.
        gds_copy = run_dir / assets.gds_href if assets.gds_href else None
        assets.images[:0] = self._draw_pictures(record, run_dir, gds_copy)
        assets.thumbs = {img.href: img.thumb for img in assets.images if img.href and img.thumb}

        assets.placement = layout_mod.pick_image(assets.images, "placement")
        assets.routing = layout_mod.pick_image(assets.images, "routing")
        if assets.routing is None:
            rendered = [img.href for img in assets.images if img.key in layout_mod.LAYOUT_RENDER_KEYS and img.href]
            if rendered:
                assets.routing, assets.routing_is_render = rendered[0], True

        entries = []
        for index, (label, path) in enumerate(layout_mod.run_files(record), start=1):
            link = self._copy_file(record, label, path, run_dir, f"{index:02d}")
            assets.files.append(link)
            entries.append((label, path, link))
        assets.file_groups = layout_mod.group_files(entries, [step.step for step in record.steps])
        return assets

    def _shrink(self, record: RunRecord, key: str, run_dir: Path, rel: str) -> ImageLink:
        """The published image, with a thumbnail for the page; an image wider than
        ``FULL_IMAGE_PX`` (SC's KLayout render is 4096 px, 11 MB) is replaced by a smaller copy (a
        new file: the hard link to the build folder's file is swapped, never written through)."""
        copy = run_dir / rel
        if copy.suffix.lower() != ".png":
            return ImageLink(key=key, href=rel)
        thumb = rel.removesuffix(".png") + "-thumb.png"
        try:
            # Decoding a 4096 px PNG takes a second: the smaller copies are kept by content hash.
            cached = None
            if self.cache_dir is not None:
                key_hash = f"{layout_mod.file_sha256(copy)}-{pictures.PICTURE_VERSION}-{FULL_IMAGE_PX}-{THUMB_IMAGE_PX}"
                cached = self.cache_dir / "thumbs" / key_hash
            if cached is not None and (cached / "thumb.png").is_file():
                if (cached / "full.png").is_file():
                    copy.unlink()  # the hard link to the build folder's file; the copy replaces it
                    shutil.copyfile(cached / "full.png", copy)
                shutil.copyfile(cached / "thumb.png", run_dir / thumb)
                return ImageLink(key=key, href=rel, thumb=thumb)
            if pictures.png_width(copy) > FULL_IMAGE_PX:
                smaller = pictures.thumbnail_of(copy, width_px=FULL_IMAGE_PX)
                atomic_write_bytes(copy, smaller)
                if cached is not None:
                    atomic_write_bytes(cached / "full.png", smaller)
            small = pictures.thumbnail_of(copy, width_px=THUMB_IMAGE_PX)
            atomic_write_bytes(run_dir / thumb, small)
            if cached is not None:
                atomic_write_bytes(cached / "thumb.png", small)
        except (OSError, ValueError, pictures.PictureError) as exc:
            self.summary.warnings.append(f"{self._record_name(record)}: {key} image: no thumbnail: {exc}")
            return ImageLink(key=key, href=rel)
        return ImageLink(key=key, href=rel, thumb=thumb)

    def _draw_pictures(self, record: RunRecord, run_dir: Path, gds: Path | None) -> list[ImageLink]:
        """The run page's own pictures (``pictures.plan``), each drawn from a DEF of the record
        read through ``locate_artifact``, cached by the hash of everything it is drawn from."""
        planned = pictures.plan(record.defs, [step.step for step in record.steps])
        if not planned:
            return []
        links: list[ImageLink] = []
        texts: dict[str, str] = {}
        for name, path in (("congestion_report", self._congestion_report(record)),
                           ("global_route_log", record.logs.get("route.global"))):
            found = self._locate(record, path) if path else layout_mod.Artifact()
            data = layout_mod.read_artifact(found, pictures.MAX_REPORT_BYTES) if found.path else None
            texts[name] = data[:pictures.MAX_REPORT_BYTES].decode("utf-8", errors="replace") if data else ""
        gds_digest = layout_mod.file_sha256(gds) if gds is not None else ""
        sizes: dict[str, tuple[float, float]] | None = None
        parsed: dict[str, def_file.DefLayout] = {}
        for key, step, path in planned:
            source = f"{step} DEF"
            found = self._locate(record, path)
            if found.path is None:
                note = f"not drawn: {found.refused}" if found.refused else f"not drawn: DEF missing: {path}"
                links.append(ImageLink(key=key, href=None, note=note, source=source))
                continue
            data = layout_mod.read_artifact(found, def_file.MAX_DEF_BYTES)
            if data is None:
                links.append(ImageLink(key=key, href=None, note="not drawn: the DEF changed while read", source=source))
                continue
            digest = hashlib.sha256()
            for part in (pictures.PICTURE_VERSION, key, step, data,
                         gds_digest if key in pictures.NEEDS_CELL_SIZES else "",
                         texts["congestion_report"] if key == "congestion" else "",
                         texts["global_route_log"] if key == "congestion" else ""):
                digest.update(part if isinstance(part, bytes) else part.encode())
                digest.update(b"\0")
            name = layout_mod.safe_file_name(key.replace(" ", "-"))
            rel, thumb = f"img/{name}.png", f"img/{name}-thumb.png"
            cached = (self.cache_dir / "pictures" / digest.hexdigest()) if self.cache_dir is not None else None
            if cached is not None and (cached / "full.png").is_file() and (cached / "thumb.png").is_file():
                (run_dir / "img").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(cached / "full.png", run_dir / rel)
                shutil.copyfile(cached / "thumb.png", run_dir / thumb)
                self.summary.picture_cache_hits += 1
                links.append(ImageLink(key=key, href=rel, thumb=thumb, source=source))
                continue
            try:
                if key in pictures.NEEDS_CELL_SIZES and sizes is None and gds is not None:
                    sizes = pictures.cell_sizes_from_gds(gds)
                if step not in parsed:
                    parsed[step] = def_file.parse_def(def_file.decode(data, def_file.MAX_DEF_BYTES, Path(path).name))
                drawn = pictures.draw(key, parsed[step], step, sizes=sizes,
                                      congestion_report=texts["congestion_report"],
                                      global_route_log=texts["global_route_log"])
            except (pictures.PictureError, def_file.DefError, OSError, RuntimeError, ValueError) as exc:
                self.summary.warnings.append(f"{self._record_name(record)}: {key} picture not drawn: {exc}")
                links.append(ImageLink(key=key, href=None, note=f"not drawn: {short_reason(str(exc))}", source=source))
                continue
            pictures.write(drawn, run_dir / rel, run_dir / thumb)
            if cached is not None:
                pictures.write(drawn, cached / "full.png", cached / "thumb.png")
            self.summary.pictures_drawn += 1
            links.append(ImageLink(key=key, href=rel, thumb=thumb, source=source))
        return links

    @staticmethod
    def _congestion_report(record: RunRecord) -> str | None:
        """Global routing's congestion report among the record's reports (SC 0.38 names it
        ``route.global/<index>/reports/route/<top>.congestion.rpt``; only written on overflow)."""
        name = f"{record.top}.congestion.rpt" if record.top else ".congestion.rpt"
        return next((path for path in record.reports
                     if path.replace("\\", "/").endswith(name) and "/route.global/" in path.replace("\\", "/")),
                    None)

    def _render_layout(self, record: RunRecord, gds: Path, run_dir: Path) -> ImageLink:
        key = "layout (GDS render)"
        try:
            png, hit = layout_mod.cached_gds_render(gds, self.cache_dir, self.root / ".render")
        except (layout_mod.LayoutRenderError, OSError, RuntimeError) as exc:
            message = f"{record.run_id}: layout render failed: {exc}"
            self.summary.warnings.append(message)
            return ImageLink(key=key, href=None, note=f"render failed: {short_reason(str(exc))}")
        if hit:
            self.summary.layout_cache_hits += 1
        else:
            self.summary.layouts_rendered += 1
        rel = "img/layout-gds.png"
        (run_dir / "img").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, run_dir / rel)
        return self._shrink(record, key, run_dir, rel)

    def _locate(self, record: RunRecord, path: str | None) -> layout_mod.Artifact:
        """``layout.locate_artifact`` against this site's roots; a refusal is one warning line naming
        the record's file and the path, once per path."""
        found = layout_mod.locate_artifact(record, path, self.roots)
        if found.refused and (id(record), path) not in self._refused:
            self._refused.add((id(record), path))
            self.summary.warnings.append(f"{self._record_name(record)}: {path}: not published: {found.refused}")
        return found

    def _publish(self, record: RunRecord, path: str | None, found: layout_mod.Artifact, target: Path) -> bool:
        if layout_mod.publish_artifact(found, target):
            return True
        self.summary.warnings.append(f"{self._record_name(record)}: {path}: not published: changed while read")
        return False

    def _record_name(self, record: RunRecord) -> str:
        """The record's history file, for warnings (its run id when it was not read from one)."""
        return str(self.record_files.get(record.run_id) or f"record {record.run_id}")

    def _copy_file(self, record: RunRecord, label: str, path: str, run_dir: Path, prefix: str) -> FileLink:
        found = self._locate(record, path)
        if found.path is None:
            note = f"not copied: {found.refused}" if found.refused else f"file missing: {path}"
            return FileLink(label=label, href=None, viewer=None, note=note)
        source = found.path
        name = f"{prefix}-{layout_mod.safe_file_name(source.name)}"
        active = source.suffix.lower() in layout_mod.ACTIVE_SUFFIXES
        if active:
            name += ".txt"  # a document or script from elsewhere is published as plain text only
        copy = run_dir / "files" / name
        if not self._publish(record, path, found, copy):
            return FileLink(label=label, href=None, viewer=None, note="not copied: it changed while read")
        self.summary.files_copied += 1
        viewer = None
        if active or source.suffix.lower() in layout_mod.TEXT_SUFFIXES or source.suffix.lower().startswith(".log"):
            text, truncated = _read_text(copy)  # the site's copy: the file that was checked
            if text is not None:
                viewer_rel = f"files/{name}.html"
                self.write_page(
                    f"runs/{self.run_slug[id(record)]}/{viewer_rel}", "file.html",
                    record=record, label=label, source=str(source), raw_href=name, text=text,
                    truncated=truncated, run_href=f"../../{self.run_slug[id(record)]}.html",
                    size=copy.stat().st_size,
                )
                viewer = viewer_rel
        return FileLink(label=label, href=f"files/{name}", viewer=viewer)

    # ---- pages ---------------------------------------------------------------------------
    def _write_run_pages(self, records: list[RunRecord], neighbours: dict) -> None:
        for record in records:
            name = self.run_slug[id(record)]
            prev_href, next_href = neighbours[id(record)]
            self.write_page(
                f"runs/{name}.html", "run.html", mkdir=False,
                record=record,
                metric_rows=_metric_rows_html(record),
                image_titles=layout_mod.IMAGE_TITLES,
                steps=record.steps,
                total_runtime=_total_runtime(record),
                assets=self.assets[id(record)],
                asset_base=f"{name}/",
                params=sorted(record.parameters.items()),
                params_key=parameters_key(record.parameters),
                history_href=self.history_href(record.pdk, record.design, "../"),
                prev_href=prev_href,
                next_href=next_href,
            )

    def _write_group_pages(self, keys: list[tuple[str, str]], plot_pages: dict, frames: dict) -> None:
        """History page per (pdk, design): trend plots, the table behind them and its CSV."""
        for pdk, design in keys:
            group = self.groups[(pdk, design)]
            metrics = [m for m in METRIC_NAMES if any(getattr(r.metrics, m) is not None for r in group)]
            keys = [parameters_key(r.parameters) for r in group]
            labels = trends.series_labels(group)
            rows = [
                HistoryRow(
                    record=r,
                    href=self.run_href(r, "../../../"),
                    params_key=key,
                    params_label=labels[trends.series_key(r)] if len(labels) > 1 else "",
                    # Thousands of rows: one pre-escaped string per row instead of a template loop.
                    cells=Markup("".join(
                        f'<td class="num">{html.escape(format_metric(m, getattr(r.metrics, m)))}</td>'
                        for m in metrics
                    )),
                )
                for r, key in zip(reversed(group), reversed(keys), strict=True)  # newest first
            ]
            rel_dir = f"history/{slug(pdk)}/{slug(design)}"
            (self.root / rel_dir).mkdir(parents=True, exist_ok=True)
            group_frame = frames.get((pdk, design))
            if group_frame is not None:
                group_frame.dropna(axis=1, how="all").to_csv(self.root / rel_dir / "runs.csv", index=False)
            self.write_page(
                f"{rel_dir}/index.html", "history.html",
                pdk=pdk, design=design, plots=plot_pages.get((pdk, design), []), metrics=metrics, rows=rows,
                passing=sum(r.status == "pass" for r in group), total=len(group),
                pdk_href="../index.html",
            )

    def _write_registered_pages(self, plot_pages: dict) -> None:
        """Every page of the registry (``pages.PAGES``), in its order."""
        for page in self.pages:
            try:
                module = importlib.import_module(page.module)
            except ImportError as exc:
                raise pages.PageError(f"report page {page.module}: cannot be imported: {exc}") from None
            write = getattr(module, "write_pages", None)
            if not callable(write):
                raise pages.PageError(f"report page {page.module}: has no write_pages(site) function")
            write(self._site_view(page, plot_pages))

    def _site_view(self, page: pages.Page, plot_pages: dict) -> pages.SiteView:
        def write_page(rel: str, template: str, **context: Any) -> None:
            if template not in page.templates:
                raise pages.PageError(f"report page {page.module}: template {template!r} is not one of its "
                                      f"entry's ({', '.join(page.templates)})")
            self.write_page(rel, template, **context)

        def layout_href(record: RunRecord | None) -> str | None:
            assets = self.assets.get(id(record)) if record is not None else None
            if assets is None or not assets.routing:
                return None
            return f"runs/{self.run_slug[id(record)]}/{assets.routing}"

        return pages.SiteView(records=self.records, groups=self.groups, platforms=self.platforms,
                              orfs_reference=self.orfs_reference, plot_pages=plot_pages, run_href=self.run_href,
                              history_href=self.history_href, layout_href=layout_href, write_page=write_page)

    def _write_data(self, frame) -> None:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        frame.to_csv(data / "history.csv", index=False)

    def _write_index(self, tables: list[IndexTable]) -> None:
        table_views = []
        for table in tables:
            columns = []
            for column in table.columns:
                record = column.record
                assets = self.assets.get(id(record)) if record is not None else None
                column_view = {
                    "design": column.design,
                    "note": column.note,
                    "record": record,
                    "run_href": self.run_href(record, "") if record else None,
                    "history_href": self.history_href(table.pdk, column.design, ""),
                    "parameters": identity.configuration(record).parameters_text() if record else "",
                    "placement": None, "routing": None, "routing_is_render": False, "gds": None,
                    "placement_thumb": None, "routing_thumb": None,
                    "placement_note": "", "routing_note": "", "gds_note": "",
                }
                if record is not None and assets is not None:
                    base = f"runs/{self.run_slug[id(record)]}/"
                    for kind in ("placement", "routing"):
                        href = getattr(assets, kind)
                        if href:
                            column_view[kind] = base + href
                            column_view[f"{kind}_thumb"] = base + assets.thumbs.get(href, href)
                        else:
                            column_view[f"{kind}_note"] = layout_mod.image_reason(record, assets, kind)
                    column_view["routing_is_render"] = assets.routing_is_render
                    if assets.gds_href:
                        column_view["gds"] = base + assets.gds_href
                    else:
                        # _collect_assets gives every run without a GDS copy its reason.
                        column_view["gds_note"] = assets.gds_note
                else:
                    for kind in ("placement", "routing", "gds"):
                        column_view[f"{kind}_note"] = column.note or "no run"
                self.summary.index_assets[(column.design, table.pdk)] = {
                    key: column_view[key]
                    for key in ("placement", "routing", "gds", "placement_note", "routing_note", "gds_note")
                    if column_view[key]
                }
                columns.append(column_view)
            table_views.append({"table": table, "columns": columns, "kind": table.kind,
                                "pdk_href": f"history/{slug(table.pdk)}/index.html",
                                "platform": self.platforms.get(table.pdk)})
        counts = {"runs": len(self.records), "passing": sum(r.status == "pass" for r in self.records)}
        self.write_page("index.html", "index.html", tables=table_views, counts=counts,
                        generated=datetime.now().astimezone(), signoff=self._signoff_views())

    def _signoff_views(self) -> dict[tuple, dict[str, Any]]:
        """(pdk, kind) -> the sign-off table of this flow's runs of that kind (``view.build_signoff_tables``),
        shown under the index table of the same kind."""
        views = {}
        for table in build_signoff_tables(self.records, list(self.platforms) or None):
            columns = [{
                "design": column.design,
                "note": column.note,
                "record": column.record,
                "run_href": self.run_href(column.record, "") if column.record else None,
            } for column in table.columns]
            views[(table.pdk, table.kind)] = {"table": table, "columns": columns}
        return views



def _date_labels(records: list[RunRecord]) -> list[str]:
    """The start date of each run, the tick labels of a run-order axis."""
    return [r.timestamp.strftime("%Y-%m-%d") for r in records]


def _constant_text(metric: str, series: list[plots.Series], points: int) -> str | None:
    """The sentence that replaces a plot of ``metric`` whose every line is flat, else None.
    One value overall: "every run: 3.000 ns" ("one run: ..." for a single value); one per line:
    the value of each configuration."""
    def text(value: float) -> str:
        return f"{format_metric(metric, value)} {METRIC_UNITS.get(metric, '')}".strip()

    per_series = [np.unique(s.values) for s in series]
    if any(len(values) > 1 for values in per_series):
        return None
    distinct = {float(values[0]) for values in per_series}
    if len(distinct) == 1:
        return f"{'one run' if points == 1 else f'every run ({points})'}: {text(distinct.pop())}"
    return "; ".join(f"{s.label}: {text(float(values[0]))}" for s, values in zip(series, per_series, strict=True))


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


@dataclass(slots=True)
class HistoryRow:
    record: RunRecord
    href: str
    params_key: str
    params_label: str  # the parameters that differ within the design ("M=8"); "" with one set
    cells: Markup  # the metric <td>s, already escaped


def _metric_rows_html(record: RunRecord) -> Markup:
    """The rows of a run page's metrics table. Built here rather than in the template because it
    is the hot loop of a 10 000-run site; every text that can come from outside is escaped."""
    metrics = record.metrics
    steps = record.metric_steps
    parts = []
    for metric in METRIC_NAMES:
        value = getattr(metrics, metric)
        step = html.escape(steps.get(metric, ""))
        unit = _UNITS_HTML[metric]
        if value is None:
            cell = f'<td class="missing">{html.escape(missing_reason(record, metric))}</td>'
        elif is_post_synthesis(record, metric):
            cell = (f'<td class="num synth" data-value="{value!r}">{html.escape(format_metric(metric, value))}'
                    '<sup class="mark">†</sup></td>')
        else:
            cell = f'<td class="num" data-value="{value!r}">{html.escape(format_metric(metric, value))}</td>'
        scenario = html.escape(record.metric_scenarios.get(metric, ""))
        parts.append(f'<tr data-metric="{metric}"><td>{metric}</td>{cell}<td>{unit}</td><td>{step}</td>'
                     f'<td>{scenario}</td></tr>\n')
    return Markup("".join(parts))


_UNITS_HTML = {metric: html.escape(METRIC_UNITS.get(metric, "")) for metric in METRIC_NAMES}


def _total_runtime(record: RunRecord) -> float | None:
    return record.total_runtime_s


def _read_text(path: Path) -> tuple[str | None, bool]:
    """File text for the inline viewer (None when binary), and whether it was truncated."""
    with open(path, "rb") as handle:
        data = handle.read(INLINE_TEXT_LIMIT_BYTES + 1)
    truncated = len(data) > INLINE_TEXT_LIMIT_BYTES
    data = data[:INLINE_TEXT_LIMIT_BYTES]
    if b"\x00" in data[:8192]:
        return None, False
    return data.decode("utf-8", errors="replace"), truncated


def build_site(records: Iterable[RunRecord], out_dir: Path, *, platforms: dict[str, Platform] | None = None,
               cache_dir: Path | None = None, roots: ArtifactRoots | None = None,
               record_files: Mapping[str, Path] | None = None,
               orfs_reference: dict[str, dict] | None = None) -> SiteSummary:
    """Write the gallery for ``records`` to ``out_dir`` (replaced atomically as a whole).

    ``platforms`` adds PDK descriptions and orders the index; ``cache_dir`` keeps GDS renders
    (keyed by GDS hash) between builds; ``roots``: the folders records' files may be published
    from (none given: no file of any record is published); ``record_files``: run id -> the history
    file it was read from, named in warnings; ``orfs_reference``: design -> the parameters the
    imported ORFS runs were made at (without it, vs ORFS prints no ratio). Returns counts, warnings
    and the index tables.
    """
    started = time.perf_counter()
    target = Path(out_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_swap_leftovers(target)
    building = make_swap_directory(target)
    summary = SiteSummary(out_dir=target, index=target / "index.html")
    try:
        _SiteBuilder(list(records), building, platforms, cache_dir, summary, roots or ArtifactRoots(),
                     record_files or {}, orfs_reference).build()
        shutil.rmtree(building / ".render", ignore_errors=True)
        # mkdtemp makes it 0700; like every other folder, it gets what the umask allows (a static host reads it)
        os.chmod(building, 0o777 & ~current_umask())
        swap_directory_into_place(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    summary.seconds = time.perf_counter() - started
    return summary
