"""Text tables that fit a width. Pure functions: lines in, lines out.

A table as wide as its longest values is shown as it is. A wider one shrinks its widest
columns, never the key column (a cell id is what a reader copies): their values wrap, at
most :data:`MAX_LINES` lines each. When that cannot fit (the key column alone fills the
width) or would cut a value, each row becomes a block: the key on its own line, then one
indented ``LABEL  value`` line per value, wrapped too, a value longer than
:data:`MAX_LINES` lines cut with "…". ``width=None`` never shrinks anything.

Values are escaped here (:func:`builder.text.escape`), so widths are counted on what the
terminal shows; escaping twice changes nothing, so the CLI's own escaping keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from builder.text import columns, cut, escape, line

GAP = "  "
# Narrower than this a wrapped column is a ribbon of fragments: stack the rows instead.
MIN_COLUMN = 16
# A wrapped value shows at most this many lines (a hostile value can be 200 KB long).
MAX_LINES = 3
# The narrowest width laid out: below it, the layout is that of this width.
MIN_WIDTH = 40
# Where a value may wrap: after a space, a comma, a slash or a dash.
_BREAK = re.compile(r"(?<=[ ,/-])")


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], width: int | None, *, key: int = 0
) -> list[str]:
    """The lines of a table of ``header`` and ``rows`` in ``width`` columns (None: any)."""
    grid = [[escape(value) for value in row] for row in (header, *rows)]
    natural = [max(columns(row[i]) for row in grid) for i in range(len(header))]
    if width is None or _span(natural) <= width:
        return _aligned(grid, natural)
    width = max(width, MIN_WIDTH)
    widths = _shrunk(natural, width, key)
    if widths is None or _elides(grid, widths):
        return _stacked(grid, width, key)
    return _aligned(grid, widths)


def _span(widths: Sequence[int]) -> int:
    return sum(widths) + len(GAP) * (len(widths) - 1)


def _shrunk(natural: Sequence[int], width: int, key: int) -> list[int] | None:
    """Column widths that fit ``width``: every column but ``key`` capped at the largest cap
    that fits (the widest columns give way first), or None when a cap under
    :data:`MIN_COLUMN` would be needed."""
    others = [w for i, w in enumerate(natural) if i != key]
    budget = width - _span(natural) + sum(others)
    cap = max(others)
    while cap >= MIN_COLUMN and sum(min(w, cap) for w in others) > budget:
        cap -= 1
    if cap < MIN_COLUMN:
        return None
    return [w if i == key else min(w, cap) for i, w in enumerate(natural)]


def _elides(grid: Sequence[Sequence[str]], widths: Sequence[int]) -> bool:
    """Whether some value would lose its end in columns this narrow: the rows are then
    stacked, where a value has most of the width."""
    return any(
        len(wrap(value, w, MAX_LINES + 1)) > MAX_LINES
        for row in grid
        for value, w in zip(row, widths, strict=True)
    )


def _aligned(grid: Sequence[Sequence[str]], widths: Sequence[int]) -> list[str]:
    """The header, a rule, then every row; a value wider than its column wraps onto the
    row's next lines (the other columns left blank there)."""
    lines: list[str] = []
    for index, row in enumerate(grid):
        parts = [wrap(value, w) for value, w in zip(row, widths, strict=True)]
        for n in range(max(len(p) for p in parts)):
            cells = [p[n] if n < len(p) else "" for p in parts]
            lines.append(GAP.join(_pad(c, w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if index == 0:
            lines.append(GAP.join("-" * w for w in widths))
    return lines


def _pad(text: str, width: int) -> str:
    return text + " " * (width - columns(text))


def _stacked(grid: Sequence[Sequence[str]], width: int, key: int) -> list[str]:
    """One block per row: its key (whole, however long), then its other values, labelled
    by their column's header; empty values are left out."""
    header, *rows = grid
    labels = [label for i, label in enumerate(header) if i != key]
    label_width = max(columns(label) for label in labels)
    indent = " " * (2 + label_width + len(GAP))
    room = width - len(indent)
    lines = [header[key], "-" * min(columns(header[key]), width)]
    for row in rows:
        lines.append(row[key])
        for label, value in zip(labels, [v for i, v in enumerate(row) if i != key], strict=True):
            if not value:
                continue
            first, *rest = wrap(value, room)
            lines.append(f"  {_pad(label, label_width)}{GAP}{first}".rstrip())
            lines += [f"{indent}{part}" for part in rest]
    return lines


def wrap(text: str, width: int, max_lines: int = MAX_LINES) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken after spaces, commas, slashes
    and dashes where it can be (anywhere where it cannot); at most ``max_lines`` lines, the
    last cut with "…" when some text is left."""
    if columns(text) <= width:
        return [_defused(text, width)]
    pieces = _pieces(text, width)
    lines: list[str] = []
    current = ""
    for index, piece in enumerate(pieces):
        if current and columns(current + piece) > width:
            lines.append(current.rstrip())
            current = piece.lstrip()
            if len(lines) == max_lines - 1:
                rest = current + "".join(pieces[index + 1 :])
                lines.append(cut(rest.rstrip(), width))
                break
        else:
            current += piece
    else:
        lines.append(current.rstrip())
    return [_defused(part, width) for part in lines]


def _defused(part: str, width: int) -> str:
    """A part that may start a printed line, never a CI workflow command: the CLI would
    write a leading "::" as "\\x3a\\x3a" (:func:`builder.text.line`), so it is written so
    here, and cut again to the width."""
    safe = line(part, limit=None)
    return part if safe == part else cut(safe, width)


def _pieces(text: str, width: int) -> list[str]:
    """``text`` split where it may wrap, pieces wider than ``width`` split anywhere."""
    pieces: list[str] = []
    for piece in _BREAK.split(text):
        if columns(piece) <= width:
            pieces.append(piece)
            continue
        chunk, used = "", 0
        for ch in piece:
            if used + columns(ch) > width:
                pieces.append(chunk)
                chunk, used = "", 0
            chunk += ch
            used += columns(ch)
        pieces.append(chunk)
    return [p for p in pieces if p]


def paragraph(text: str, width: int | None) -> list[str]:
    """A line of prose (a note under a table) wrapped to ``width`` columns, never cut."""
    if width is None:
        return [text]
    return wrap(escape(text), max(width, MIN_WIDTH), max_lines=columns(text) + 1)
