"""Run artefacts for the site: which files and images a record has and which of them may be
published (``locate_artifact``: only regular files inside the folders where this project's runs
live, ``ArtifactRoots``), what the site links for each (``RunAssets``), publishing them
(``publish_artifact``), and rendering a GDS to PNG with the KLayout Python module (headless
``klayout.lay.LayoutView``), cached by GDS content hash.
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
from orchestrator.names import NOT_PLAIN
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
    "placement density": "share of each bin covered by placed cells",
    "clock tree": "clock nets by depth in the tree, clock buffers and sinks",
    "routing layers": "every routed wire, one colour per metal layer",
    "congestion": "routed wire length per GCell over its track length; global routing's overflow and "
                  "per-layer usage",
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
    thumb: str | None = None  # the small copy the page shows (href: the full-size one)
    source: str = ""  # what it was drawn from, for the caption ("route.detailed DEF")


@dataclass
class FileGroup:
    """The run page's files of one SC step (or "other"), shown as one collapsed list."""

    step: str
    files: list[FileLink] = field(default_factory=list)


@dataclass
class RunAssets:
    images: list[ImageLink] = field(default_factory=list)
    files: list[FileLink] = field(default_factory=list)
    file_groups: list[FileGroup] = field(default_factory=list)
    gds_href: str | None = None
    gds_note: str = ""
    placement: str | None = None  # image picked for the index "clock tree / placement" row
    routing: str | None = None  # image picked for the index "routing" row (or the GDS render)
    thumbs: dict[str, str] = field(default_factory=dict)  # image href -> its thumbnail's href
    routing_is_render: bool = False


_STEP_IN_PATH = re.compile(r"/job[^/]*/([a-z_]+\.[a-z0-9_]+)/\d+/")


def file_step(label: str, path: str) -> str:
    """The SC step a run file belongs to: named in a log's label ("log: route.global"), else the
    ``<job>/<step>/<index>/`` part of its path; "other" for neither (an imported run's files)."""
    if label.startswith("log: "):
        return label.removeprefix("log: ")
    match = _STEP_IN_PATH.search(path.replace("\\", "/"))
    return match.group(1) if match else "other"


def group_files(entries: list[tuple[str, str, FileLink]], step_order: list[str]) -> list[FileGroup]:
    """(label, path, link) -> one group per step: the steps of ``step_order`` (the flow's) in its
    order, then any other in the order first met."""
    groups: dict[str, FileGroup] = {}
    for label, path, link in entries:
        step = file_step(label, path)
        groups.setdefault(step, FileGroup(step)).files.append(link)
    rank = {step: position for position, step in enumerate(step_order)}
    return sorted(groups.values(), key=lambda g: rank.get(g.step, len(rank)))


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


def safe_file_name(name: str) -> str:
    cleaned = NOT_PLAIN.sub("_", name).lstrip(".") or "file"
    return cleaned


@dataclass(frozen=True)
class ArtifactRoots:
    """The folders the consumer knows this project's runs live in: the configured build folder
    (``paths.build_dir``, for SiliconCompiler runs) and the folders ORFS runs were imported from
    (``history.import_roots``). A record is data from elsewhere (a restored history branch, an
    artifact): its own ``build_dir`` and ``source_path`` only say where inside these to look,
    never where files may come from."""

    build: tuple[Path, ...] = ()
    imports: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        # Resolved once, so a root given through a symlink still contains its own files.
        object.__setattr__(self, "build", tuple(Path(r).resolve() for r in self.build))
        object.__setattr__(self, "imports", tuple(Path(r).resolve() for r in self.imports))

    def for_record(self, record: RunRecord) -> tuple[Path, ...]:
        return self.imports if record.source == "orfs" else self.build


@dataclass(frozen=True)
class Artifact:
    """Where a record's path led: ``path`` is the file to publish (fully resolved, a regular file
    inside the record's roots); else ``refused`` says why not, or neither is set (no such file)."""

    path: Path | None = None
    refused: str | None = None
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file that was checked


def _candidates(record: RunRecord, path: str) -> list[Path]:
    """Where a record's path may be: as written when absolute, else below its build dir or the
    imported run folder (paths are stored relative to them when possible)."""
    candidate = Path(path)
    if candidate.is_absolute():
        return [candidate]
    bases = []
    for root in (record.build_dir, record.source_path):
        if root:
            bases.append(Path(root) / candidate)
            if Path(root).is_file():
                bases.append(Path(root).parent / candidate)
    return bases


def locate_artifact(record: RunRecord, path: str | None, roots: ArtifactRoots) -> Artifact:
    """The one check every published file of a record passes: ``path`` may be published only if it
    names a regular file (not a symlink, FIFO, device or folder) that, with every symlink on the
    way resolved, lies inside one of ``roots.for_record(record)``. The record's own ``build_dir``
    or ``source_path`` is never a root: a record claiming ``"build_dir": "/"`` with
    ``/etc/shadow`` among its reports gets nothing published."""
    if not path:
        return Artifact()
    for candidate in _candidates(record, path):
        try:
            own = os.lstat(candidate)
        except (OSError, ValueError):  # ValueError: a NUL byte in the path
            continue
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return Artifact(refused="cannot be resolved")
        allowed = roots.for_record(record)
        if not any(real.is_relative_to(root) for root in allowed):
            where = "import folders" if record.source == "orfs" else "build folder"
            return Artifact(refused=f"outside the project's {where} (resolves to {real})")
        if stat.S_ISLNK(own.st_mode):
            return Artifact(refused=f"a symbolic link (to {real})")
        try:
            target = os.lstat(real)
        except OSError as exc:
            return Artifact(refused=f"cannot be read: {exc.strerror or exc}")
        if not stat.S_ISREG(target.st_mode):
            return Artifact(refused="not a regular file")
        return Artifact(path=real, identity=(target.st_dev, target.st_ino))
    return Artifact()


def publish_artifact(artifact: Artifact, target: Path) -> bool:
    """Hard-link (a GDS can be hundreds of MB) or else copy the checked file to ``target``. The file
    is opened without following symlinks and must still be the very file ``locate_artifact``
    checked, so a path swapped for a symlink meanwhile publishes nothing. False: not published."""
    assert artifact.path is not None and artifact.identity is not None
    try:
        fd = os.open(artifact.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != artifact.identity:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        try:  # linkat(AT_SYMLINK_FOLLOW) of the open file: the inode checked, not a path looked up again
            os.link(f"/proc/self/fd/{fd}", target)
            return True
        except OSError:
            pass
        with open(target, "wb") as out, os.fdopen(os.dup(fd), "rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
        return True
    finally:
        os.close(fd)


def read_artifact(artifact: Artifact, limit: int) -> bytes | None:
    """The first ``limit`` + 1 bytes of the checked file (so a caller sees it is larger), opened
    as ``publish_artifact`` opens it: without following symlinks, and only if it is still the file
    ``locate_artifact`` checked. None: it changed meanwhile."""
    assert artifact.path is not None and artifact.identity is not None
    try:
        fd = os.open(artifact.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != artifact.identity:
            return None
        return handle.read(limit + 1)


def has_artifacts(record: RunRecord) -> bool:
    """Whether the record names any image, GDS, log or report to publish."""
    return bool(record.images or record.gds or record.logs or record.reports or record.defs
                or any(s.log for s in record.steps))


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
