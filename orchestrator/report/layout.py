"""Run artefacts for the site: which files and images a record has and which of them may be
published (only regular files inside the run's own folder), what the site links for each
(``RunAssets``), copying them in, and rendering a GDS to PNG with the KLayout Python module
(headless ``klayout.lay.LayoutView``), cached by GDS content hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.fsutil import atomic_write_bytes
from orchestrator.record import RunRecord
from orchestrator.report.view import short_reason

GDS_RENDER_SIZE_PX = 1000
# Bumped when the rendering changes, so cached PNGs of an older look are not reused.
GDS_RENDER_VERSION = "1"


# Imported files a browser would run or render as a document: their copy gets a ".txt" name (served
# and opened as plain text) and their viewer page shows them escaped.
ACTIVE_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mjs",
                    ".pdf", ".swf"}
TEXT_SUFFIXES = {".log", ".txt", ".rpt", ".json", ".sdc", ".v", ".sv", ".tcl", ".yaml", ".yml", ".csv", ".md",
                  ".def", ".lef", ".lib", ".out", ".err", ".cfg", ".ys", ""}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}
# Image keys that are a drawing of the final GDS (KLayout): the record's own "layout" (written in
# write.gds) and the site's render of a GDS that came without images.
LAYOUT_RENDER_KEYS = ("layout", "layout (GDS render)")
# What each of SC's / the record's image names shows (run page captions).
IMAGE_TITLES = {
    "layout": "final GDS, rendered with KLayout (write.gds)",
    "layout (GDS render)": "final GDS, rendered with KLayout by the report",
    "placement": "placement (OpenROAD)",
    "clocks": "clock tree (OpenROAD)",
    "routing": "routing (OpenROAD)",
}


@dataclass
class FileLink:
    label: str
    href: str | None  # relative to the run page; None when the file is missing
    viewer: str | None  # inline text viewer page, when the file is text
    note: str = ""


@dataclass
class ImageLink:
    key: str
    href: str | None
    note: str = ""


@dataclass
class RunAssets:
    images: list[ImageLink] = field(default_factory=list)
    files: list[FileLink] = field(default_factory=list)
    gds_href: str | None = None
    gds_note: str = ""
    placement: str | None = None  # image picked for the index "clock tree / placement" row
    routing: str | None = None  # image picked for the index "routing" row (or the GDS render)
    routing_is_render: bool = False


def _index_preference(key: str, wanted: str) -> int | None:
    lowered = key.lower()
    if wanted == "placement":
        if "cts" in lowered or "clock" in lowered:
            return 0
        if "place" in lowered:
            return 1
        return None
    if "rout" in lowered:
        return 0
    return None


def pick_image(images: list[ImageLink], wanted: str) -> str | None:
    ranked = [(rank, i, img.href) for i, img in enumerate(images)
              if img.href and (rank := _index_preference(img.key, wanted)) is not None]
    return min(ranked)[2] if ranked else None


def no_artifact_reason(record: RunRecord, what: str) -> str:
    if record.skipped_stages:
        return f"no P&R: {short_reason(record.skipped_stages[0].reason)}"
    if record.status != "pass" and record.reason:
        return f"{record.status}: {short_reason(record.reason)}"
    if record.post_synthesis:
        return "no P&R (synthesis only)"
    return f"no {what} recorded for this run"


def image_reason(record: RunRecord, assets: RunAssets, kind: str) -> str:
    missing = [img.note for img in assets.images if img.href is None and img.note]
    if missing:
        return missing[0]
    if kind == "placement" and assets.routing_is_render:
        return "no placement image (GDS render shown below)"
    if assets.images:
        return f"no {kind} image among this run's images"
    return no_artifact_reason(record, "layout image")


_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_file_name(name: str) -> str:
    cleaned = _FILE_UNSAFE.sub("_", name).lstrip(".") or "file"
    return cleaned


def artifact_roots(record: RunRecord) -> list[Path]:
    """The folders a record's files may come from: its build directory, or the imported run folder."""
    roots = []
    for root in (record.build_dir, record.source_path):
        if root:
            path = Path(root)
            roots.append((path.parent if path.is_file() else path).resolve())
    return roots


def refuse_artifact(record: RunRecord, source: Path) -> str | None:
    """Why ``source`` must not be published (None: it may). Only regular files that are, once every
    symlink is resolved, inside the record's own folder: a symlink in an imported archive
    (``passwd.txt -> /etc/passwd``) or an absolute path in a record is never followed."""
    try:
        real = source.resolve(strict=True)
    except (OSError, RuntimeError):
        return "cannot be resolved"
    roots = artifact_roots(record)
    if roots and not any(real.is_relative_to(root) for root in roots):
        return f"it is outside the run folder (resolves to {real})"
    if not roots and source.is_symlink():  # a record without a folder names its files directly
        return f"it is a symbolic link (to {real})"
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            return "not a regular file"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None

def has_artifacts(record: RunRecord) -> bool:
    """Whether the record names any image, GDS, log or report to publish."""
    return bool(record.images or record.gds or record.logs or record.reports or any(s.log for s in record.steps))


def run_files(record: RunRecord) -> list[tuple[str, str]]:
    """(label, path) of every log and report the record names, each path once: step logs, then
    reports."""
    entries: list[tuple[str, str]] = []
    seen_paths: set[str] = set()
    for step, path in record.logs.items():
        entries.append((f"log: {step}", path))
        seen_paths.add(path)
    for step in record.steps:
        if step.log and step.log not in seen_paths:
            entries.append((f"log: {step.step}", step.log))
            seen_paths.add(step.log)
    for path in record.reports:
        if path not in seen_paths:
            entries.append((f"report: {Path(path).name}", path))
            seen_paths.add(path)
    return entries


def resolve_artifact(record: RunRecord, path: str | None) -> Path | None:
    """The existing file a record's path points at, or None.

    Paths are stored relative to the run's build dir when possible; imported runs may be relative
    to where they came from (``source_path``).
    """
    if not path:
        return None
    candidate = Path(path)
    bases: list[Path] = []
    if candidate.is_absolute():
        bases.append(candidate)
    else:
        for root in (record.build_dir, record.source_path):
            if root:
                bases.append(Path(root) / candidate)
                if Path(root).is_file():
                    bases.append(Path(root).parent / candidate)
        bases.append(candidate)
    for option in bases:
        if option.is_file():
            return option
    return None


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link when on the same file system (a GDS can be hundreds of MB), else copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LayoutRenderError(Exception):
    pass


def render_gds_png(gds: Path, png: Path, *, size_px: int = GDS_RENDER_SIZE_PX) -> None:
    """Render the top cell of ``gds`` with all hierarchy levels to ``png`` (headless)."""
    try:
        from klayout import lay
    except ImportError as exc:  # pragma: no cover - klayout is a declared dependency
        raise LayoutRenderError(f"klayout Python module not available: {exc}") from exc
    view = lay.LayoutView()
    try:
        view.set_config("background-color", "#ffffff")
        view.set_config("grid-visible", "false")
        view.set_config("text-visible", "false")
        try:
            view.load_layout(str(gds), True)
        except RuntimeError as exc:
            raise LayoutRenderError(f"{gds}: KLayout cannot read the layout: {exc}") from exc
        layout = view.cellview(0).layout()
        if layout.top_cell() is None:
            raise LayoutRenderError(f"{gds}: layout has no single top cell")
        view.max_hier()
        view.zoom_fit()
        tmp = png.with_name(f".{png.name}.{os.getpid()}.tmp.png")
        view.save_image(str(tmp), size_px, size_px)
        data = tmp.read_bytes()
        tmp.unlink()
        atomic_write_bytes(png, data)
    finally:
        view._destroy()


def cached_gds_render(gds: Path, cache_dir: Path | None, work_dir: Path) -> tuple[Path, bool]:
    """PNG of ``gds`` and whether it came from ``cache_dir`` (keyed by GDS hash) rather than a fresh
    render. Without a cache dir the PNG is rendered into ``work_dir``.
    """
    key = f"{file_sha256(gds)}-v{GDS_RENDER_VERSION}-{GDS_RENDER_SIZE_PX}"
    base = Path(cache_dir) / "layout" if cache_dir is not None else Path(work_dir)
    png = base / f"{key}.png"
    if png.is_file():
        return png, True
    base.mkdir(parents=True, exist_ok=True)
    render_gds_png(gds, png)
    return png, False
