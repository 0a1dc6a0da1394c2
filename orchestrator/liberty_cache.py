"""A content-addressed cache for SiliconCompiler's Yosys Liberty preparation.

Before every ``yosys/syn_asic`` node SC rewrites each std-cell Liberty file for Yosys and ABC
(``siliconcompiler.tools.yosys.prepareLib.process_liberty_file``: comments out ``original_pin``,
quotes ``!`` functions, fixes the capacitive load unit). The result depends only on the file's
bytes and on that function, yet SC recomputes it per job: 2.5 s for the five ASAP7 RVT files,
0.4 s for NanGate45 — 10-20 % of a halut synthesis job. ``install`` makes the job process use a
cache keyed by (file content, SC version, the preparation code); SC still writes the prepared
files into the node's ``inputs/`` as before, so the flow, its manifests and its results are
unchanged. Node processes are forked from the job process and inherit the hook; nodes that SC
sends to Slurm or Docker run SC's own code path.

Entries are ``<sha256>.lib`` files written atomically (parallel jobs may race to write the same
entry; both write identical bytes). An entry unused for ``MAX_AGE_DAYS`` is removed on the next
install, so old SC versions' entries do not pile up.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.fsutil import atomic_write_text, user_cache_dir

MAX_AGE_DAYS = 30
_CHUNK = 1 << 20

_installed: dict[str, object] = {}


def default_dir() -> Path:
    return user_cache_dir() / "liberty"


def _code_identity(prepare: Callable) -> str:
    """SC's version plus the preparation code itself: a patched SC invalidates its entries."""
    import siliconcompiler

    try:
        source = inspect.getsource(inspect.getmodule(prepare))
    except (OSError, TypeError):
        source = getattr(prepare, "__qualname__", repr(prepare))
    return f"{siliconcompiler.__version__}\0{source}"


def entry_key(lib_file: str, code_identity: str) -> str:
    digest = hashlib.sha256(code_identity.encode("utf-8"))
    digest.update(b"\0")
    digest.update(Path(lib_file).suffix.lower().encode("utf-8"))  # .gz / .bz2 decide how it is read
    digest.update(b"\0")
    with open(lib_file, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cached(prepare: Callable[..., str], cache_dir: Path) -> Callable[..., str]:
    """``prepare`` (``process_liberty_file``'s signature) with its results kept in ``cache_dir``."""
    identity = _code_identity(prepare)

    def prepare_cached(input_file, logger=None):
        try:
            entry = cache_dir / f"{entry_key(str(input_file), identity)}.lib"
        except OSError:  # unreadable: let SC report it its own way
            return prepare(input_file, logger=logger)
        try:
            content = entry.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            content = None
        if content is not None:
            try:
                os.utime(entry)  # recently used: kept by prune()
            except OSError:
                pass
            if logger:
                logger.info(f"Prepared Liberty for {input_file} taken from cache {entry}")
            return content
        content = prepare(input_file, logger=logger)
        try:
            atomic_write_text(entry, content)
        except OSError as exc:  # a full or read-only cache costs time, never the run
            logging.getLogger(__name__).warning("Liberty cache not written (%s): %s", entry, exc)
        return content

    prepare_cached.__wrapped__ = prepare  # type: ignore[attr-defined]
    return prepare_cached


def prune(cache_dir: Path, max_age_days: float = MAX_AGE_DAYS) -> int:
    """Remove entries (and temp files of killed writers) unused for ``max_age_days``."""
    limit = time.time() - max_age_days * 86400
    removed = 0
    try:
        entries = list(cache_dir.iterdir())
    except OSError:
        return 0
    for path in entries:
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def install(cache_dir: Path | None = None) -> Path:
    """Route this process's (and its forked node processes') Liberty preparation through the
    cache. Idempotent; returns the cache directory."""
    from siliconcompiler.tools.yosys import syn_asic

    cache_dir = Path(cache_dir) if cache_dir is not None else default_dir()
    if _installed.get("dir") == str(cache_dir):
        return cache_dir
    original = getattr(syn_asic.process_liberty_file, "__wrapped__", syn_asic.process_liberty_file)
    prune(cache_dir)
    syn_asic.process_liberty_file = cached(original, cache_dir)
    _installed["dir"] = str(cache_dir)
    return cache_dir


def uninstall() -> None:
    from siliconcompiler.tools.yosys import syn_asic

    syn_asic.process_liberty_file = getattr(syn_asic.process_liberty_file, "__wrapped__",
                                            syn_asic.process_liberty_file)
    _installed.clear()
