"""Markdown text that shows literally: record fields (design names, reasons, parameters) come from
files anyone can write, so every Markdown output (``summary.md``, ``check --markdown``, the GitHub
step summary) passes them through ``md_text`` and never renders them as HTML or markup."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def md_text(text: object) -> str:
    """``text`` on one line, safe inside a Markdown table cell or list item: HTML is entity-escaped
    (a ``<img onerror=...>`` stays text) and Markdown's own markup characters are backslashed."""
    flat = " ".join(str(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)
