"""Crash-safe file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry itself is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, exclusive: bool = False, mode: int | None = None
) -> Path:
    """Write ``data`` to ``path`` via temp file + fsync + rename.

    With ``exclusive=True`` an existing file is never replaced (FileExistsError), which makes
    immutable records safe against two writers picking the same name. ``mode`` is applied before
    the file appears under its name (an executable may be run the moment it exists).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if exclusive:
            # link() fails if the target exists, unlike rename(); the temp name is then dropped.
            os.link(tmp_name, target)
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, exclusive: bool = False, mode: int | None = None
) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), exclusive=exclusive, mode=mode)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, exclusive: bool = False) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    return atomic_write_text(path, text, exclusive=exclusive)


def user_cache_dir() -> Path:
    """This tool's per-user cache (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``halut-orchestrator``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "halut-orchestrator"
