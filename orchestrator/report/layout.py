"""Run artefacts for the site: locating a record's files, copying them in, and rendering a GDS to
PNG with the KLayout Python module (headless ``klayout.lay.LayoutView``), cached by GDS content hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from orchestrator.fsutil import atomic_write_bytes
from orchestrator.record import RunRecord

GDS_RENDER_SIZE_PX = 1000
# Bumped when the rendering changes, so cached PNGs of an older look are not reused.
GDS_RENDER_VERSION = "1"


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
