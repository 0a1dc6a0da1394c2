"""The one rule for names that become file or directory names.

Labels, sweep names, design and platform names, ORFS design names and run ids all end up as a
path component under ``build/`` or ``reports/``. Each is checked here, against one pattern, before
anything is created: a name that could climb out of its folder (``..``, ``a/b``), hide (``.x``),
look like an option (``-x``) or carry characters a shell, a URL or a file system treats specially
is refused instead of being "cleaned" (two different names must never map to one directory).

Text that is no name (a file name from an imported archive, a value in a page's file name) is
not refused but made plain with ``NOT_PLAIN``, the one pattern of what a plain file name keeps
out; ``report.view.slug`` adds a hash so that two texts stay two files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from orchestrator.errors import clip

# Letters, digits and _ . , = + - ; the first character a letter, digit or "_" (so never "." or
# ".." and never an option); at most 128 characters (a build directory adds a suffix to it).
SAFE_NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.,=+-]{0,127}"
_SAFE_NAME = re.compile(SAFE_NAME_PATTERN)

# Everything but letters, digits and _ . - : what run ids and generated file names replace.
NOT_PLAIN = re.compile(r"[^A-Za-z0-9_.-]+")

RULE = "letters, digits and _ . , = + -, not starting with . , = + -, at most 128 characters"


class UnsafeNameError(ValueError):
    """A name that would become a path component does not match ``SAFE_NAME_PATTERN``."""


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and _SAFE_NAME.fullmatch(name) is not None


def check_name(name: object, what: str) -> str:
    """``name`` unchanged when it is safe, else UnsafeNameError naming ``what`` and the value."""
    if not is_safe_name(name):
        raise UnsafeNameError(f"{what}: not a safe name ({RULE}) (value: {clip(name)})")
    return name  # type: ignore[return-value]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """" (did you mean 'halut_decoder'?)" for the closest of ``known`` to a mistyped ``name``, or ""."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def short_number(value: object) -> str:
    """A number as a sweep label or a generated SDC writes it: a float in %g (1.5, 1e-05), anything
    else as str."""
    return f"{value:g}" if isinstance(value, float) else str(value)
