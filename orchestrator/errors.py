"""Exceptions that the CLI turns into one clear line and a non-zero exit, ``clip``, the one way
an error message shows a value it was given, and ``first_line``, the one way it quotes another
library's exception."""

from __future__ import annotations

import reprlib
from typing import Any


class OrchestratorError(Exception):
    """A user-facing error: the message is the whole story (file, key, value)."""

    exit_code = 2


class ConfigError(OrchestratorError):
    """config.yaml or a platform file is invalid."""


class ToolError(OrchestratorError):
    """A required tool is missing or failed."""

    exit_code = 3


# What a message quotes of a value: enough to recognise it, never all of a 10 MB string or of a
# structure a YAML alias bomb shares a billion times.
CLIP_CHARS = 200

# reprlib stops at these depths and counts, so the work is bounded too, not only the output
# (repr() of a shared nested list walks every path of it before anything is cut).
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxarray = 8
_REPR.maxdict = 8
_REPR.maxstring = CLIP_CHARS
_REPR.maxlong = 60
_REPR.maxother = CLIP_CHARS


def cut(text: str, limit: int = CLIP_CHARS) -> str:
    """``text`` (a key, a tool's message) for a message: at most ``limit`` characters and how many
    there were."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def clip(value: Any, limit: int = CLIP_CHARS) -> str:
    """``repr(value)`` for a message, at most about ``limit`` characters, with how much was cut.

    A str is quoted like repr; the work done is bounded whatever ``value`` is."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = _REPR.repr(value)
    if len(text) > limit:
        return f"{text[:limit]}... (cut)"
    return text


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what a job's
    reason or a one-line error quotes of a tool's or a library's exception."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
