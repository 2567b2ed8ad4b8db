"""Text that came from outside (recipes, file names, engine output), made safe to show.

Recipes arrive in pull requests, and whatever the builder echoes back lands in a terminal or
a CI log. A terminal obeys escape sequences; a GitHub Actions log obeys workflow commands, a
line starting with ``::`` (``::error``, ``::add-mask::``, ``::stop-commands::``). So every
character Python does not call printable (control characters, escapes, bidirectional and
zero-width formatting, Unicode tag characters, line and paragraph separators, surrogates)
is shown as its escape, no line may start with ``::``, and long values are cut.

This module sits below every layer (like :mod:`builder.errors`): the pure core uses it in
messages, the CLI for every line it prints.
"""

from __future__ import annotations

import re
import unicodedata

# How much of a value a message shows: enough to recognise it, never a 200 KB line.
VALUE_LIMIT = 80
# The longest line the CLI prints for a person (machine output is never cut).
LINE_LIMIT = 4000
_COMMAND = re.compile(r"^(\s*)::")


def escape(text: str) -> str:
    """``text`` with every non-printable character written as its Python escape; the
    backslash itself stays as it is (so ``\\x1b`` typed by a person still reads the same)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clip(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def shown(value: object, limit: int = VALUE_LIMIT) -> str:
    """A value as a message shows it: its ``repr`` (quoted, escaped), cut to ``limit``."""
    text = repr(value) if isinstance(value, str) else escape(str(value))
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit]}…{text[0] if isinstance(value, str) else ''} ({length:,} characters)"


def line(text: str, *, limit: int | None = LINE_LIMIT) -> str:
    """One line of output: escaped, cut to ``limit`` (None: never), and never a workflow
    command (a leading ``::`` is written ``\\x3a\\x3a``)."""
    safe = escape(text)
    if limit is not None:
        safe = clip(safe, limit)
    return _COMMAND.sub(r"\1\\x3a\\x3a", safe)


def lines(text: str, *, limit: int | None = LINE_LIMIT) -> str:
    """Several lines of output, each made safe by :func:`line`. Only ``\\n`` separates
    lines: any other line break (``\\r``, U+2028, ...) is escaped inside its line."""
    return "\n".join(line(part, limit=limit) for part in text.split("\n"))


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: East Asian wide characters take two,
    combining marks none (tables pad and cut by this, not by ``len``)."""
    if text.isascii():
        return len(text)
    return sum(_columns(ch) for ch in text)


def _columns(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, its end replaced by "…" when it is longer."""
    if columns(text) <= width:
        return text
    kept, used = [], 0
    for ch in text:
        used += _columns(ch)
        if used > width - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…"
