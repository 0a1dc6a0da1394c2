"""Crash-safe file writes (a reader sees the old file or the new one, never half of either),
the atomic directory swap (a reader sees the old tree or the new one), write-permission checks,
and the per-job build directory lock."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import gzip
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any


def open_maybe_gzip(path: str | os.PathLike[str], mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """Open a file that may be gzip-compressed (by its ".gz" name, as PDKs ship Liberty files)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    return opener(path, mode, **kwargs)


def read_tail(path: str | os.PathLike[str] | None, max_bytes: int) -> str:
    """The last ``max_bytes`` of a text file (a tool's log: its errors are at the end), decoded
    leniently; "" when there is no path or it cannot be read."""
    if not path:
        return ""
    try:
        with Path(path).open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - max_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def current_umask() -> int:
    """The process umask, read without changing it (os.umask sets it, racing other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    the file appears under its name (an executable may be run the moment it exists); without it
    the file gets what ``open()`` would give it (0666 less the umask), not mkstemp's private 0600:
    published reports must be readable by a web server or a teammate when the umask says so.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode if mode is not None else 0o666 & ~current_umask())
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


def check_writable_dir(path: str | os.PathLike[str], what: str) -> None:
    """Create ``path`` if needed and prove a file can be created in it (a real probe file: access()
    says yes to root on a read-only mount). OSError -> one line naming the folder and the reason."""
    from orchestrator.errors import OrchestratorError

    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OrchestratorError(f"{directory}: {what} is not writable: {exc.strerror or exc}") from None


class LockBusy(Exception):
    """Another process holds the lock; ``owner`` is what it wrote into the lock file (its pid)."""

    def __init__(self, path: Path, owner: str):
        super().__init__(f"{path}: locked by {owner or 'another process'}")
        self.path, self.owner = path, owner


class DirectoryLock:
    """An exclusive OS lock (flock) on ``<directory>/.orchestrator.lock``, held until ``release``.

    The kernel drops it when the holder dies, however it dies (kill -9 included), so a stale lock
    cannot exist and nothing needs cleaning up. The holder's pid is written into the file for the
    message another process shows ("locked by pid 1234"); the lock itself is the flock, not the file.
    """

    NAME = ".orchestrator.lock"

    def __init__(self, directory: str | os.PathLike[str], owner: str):
        self.path = Path(directory) / self.NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(fd)
            raise LockBusy(self.path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner.encode("utf-8") + b"\n", 0)
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> DirectoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ---- atomic directory swap ------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange_directories(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_directory_into_place(built: Path, target: Path) -> None:
    """Make the directory ``built`` the new ``target``; a reader sees the old tree or the new one,
    never a mix. ``built`` must be a sibling of ``target`` (same file system), e.g. from
    ``make_swap_directory``."""
    if not target.exists():
        os.rename(built, target)
        return
    if exchange_directories(built, target):
        shutil.rmtree(built, ignore_errors=True)  # now holds the old tree
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, old)
    os.rename(built, target)
    shutil.rmtree(old, ignore_errors=True)


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)")


def remove_swap_leftovers(target: Path) -> None:
    """Delete the temp/old siblings of ``target`` left by builds that crashed (their process is gone)."""
    if not target.parent.is_dir():
        return
    for entry in target.parent.iterdir():
        match = _LEFTOVER.match(entry.name)
        if not match or match.group("name") != target.name or not entry.is_dir():
            continue
        pid = int(match.group("pid"))
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_swap_directory(target: Path) -> Path:
    """A new empty sibling of ``target`` to build into and then swap into place. Its name
    (``.<target>.tmp-<pid>-...``) is what ``remove_swap_leftovers`` recognises after a crash."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
