"""How the CLI prints: every line (:func:`echo`), the width tables take, the
``--format``/``--wide`` flags, and the text of a ``--format json`` document. Part of the
CLI layer: nothing below it imports this."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from builder.text import LINE_LIMIT
from builder.text import lines as text_lines


def width(args: argparse.Namespace) -> int | None:
    """How many columns a table may take; None: as many as its values need. A terminal's
    width (or COLUMNS, which shutil honours); with ``--wide``, or when stdout is no terminal
    and COLUMNS is unset (a pipe, a file, a CI log: read later at any width, and grepped:
    nothing is wrapped or elided there), None."""
    if getattr(args, "wide", False):
        return None
    if not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").strip():
        return None
    return shutil.get_terminal_size().columns


def is_json(args: argparse.Namespace) -> bool:
    """Whether the command prints a JSON document (and nothing else) on stdout."""
    return getattr(args, "format", None) == "json"


def document_text(document: Mapping[str, Any]) -> str:
    """A ``--format json`` document as printed: indented, keys sorted, ASCII only (so no
    character of a recipe can reach the terminal unescaped)."""
    return json.dumps(document, indent=2, sort_keys=True)


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
    """``--format``, the first choice the default; json: one document on stdout (the
    README's "Machine-readable output"), progress lines on stderr."""
    parser.add_argument(
        "--format", choices=list(choices), default=choices[0], help="how to print the result"
    )


def add_wide(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wide", action="store_true", help="print tables whole, however wide the terminal"
    )


def echo(text: str, *, err: bool = False, machine: bool = False, end: str = "\n") -> None:
    """Print ``text``: every line the CLI prints goes through here. Values in it may come
    from recipes or engines, so each line is escaped and can never be a terminal escape or a
    CI workflow command (:mod:`builder.text`); lines for people are also cut, ``machine``
    output (JSON, $GITHUB_OUTPUT lines) never."""
    safe = text_lines(text, limit=None if machine else LINE_LIMIT)
    print(safe, end=end, file=sys.stderr if err else sys.stdout, flush=True)


def say(line: str) -> None:
    echo(line)


def say_err(line: str) -> None:
    echo(line, err=True)


def log_for(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a command's progress lines go: stdout, or stderr when stdout carries its JSON
    document (which must stay the only thing there)."""
    return say_err if is_json(args) else say


def emit(document: Mapping[str, Any]) -> None:
    """Print a ``--format json`` document (:mod:`builder.core.reports`)."""
    echo(document_text(document), machine=True)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
