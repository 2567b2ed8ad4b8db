"""``builder doctor``: what this host has for the builder, and which cells would run here.

The probes (:mod:`builder.run.doctor`) say what they saw; this module turns that into the
report's rows, its JSON document and its text. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from builder.core.table import table as table_lines

SCHEMA_VERSION = 1
Kind = Literal["chip", "engine", "tool", "quantizer"]
KINDS: tuple[Kind, ...] = ("chip", "engine", "tool", "quantizer")
_VERSION = re.compile(r"\d+(?:\.\d+)+[0-9A-Za-z.+-]*")


@dataclass(frozen=True, kw_only=True)
class Probe:
    """What one probe saw: ``where`` the program (or place) found, None when absent;
    ``output`` what asking it for its version printed; ``failed`` why what was found does
    not work ("" when it does); ``expected`` the version the catalog pins, if any; ``note``
    anything else to say."""

    kind: Kind
    name: str
    where: str | None
    output: str = ""
    failed: str = ""
    expected: str = ""
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Row:
    """One line of the report about a chip, an engine, a tool or a quantizer."""

    kind: Kind
    name: str
    found: bool
    version: str
    where: str
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "found": self.found,
            "version": self.version,
            "where": self.where,
            "note": self.note,
        }


@dataclass(frozen=True, kw_only=True)
class CellHere:
    """A planned cell and why it would await a runner here ("" when it would run here)."""

    cell: str
    awaiting: str = ""


@dataclass(frozen=True, kw_only=True)
class Report:
    host: str
    python: str
    runtime: str
    rows: tuple[Row, ...]
    cells: tuple[CellHere, ...]
    # Why no cell is listed when the recipes could not be planned.
    plan_error: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "host": self.host,
            "python": self.python,
            "runtime": self.runtime,
        }
        for kind in KINDS:
            data[f"{kind}s"] = [r.to_json() for r in self.rows if r.kind == kind]
        data["cells"] = [
            {
                "cell": c.cell,
                "status": "awaiting-runner" if c.awaiting else "runs-here",
                "reason": c.awaiting,
            }
            for c in self.cells
        ]
        data["summary"] = summary_counts(self.cells)
        if self.plan_error:
            data["plan_error"] = self.plan_error
        return data


def version_in(output: str) -> str:
    """The version a ``--version`` line carries ("Docker version 27.3.1, build x" ->
    "27.3.1"), else that first line as it is; "" for no output."""
    first = next((line.strip() for line in output.splitlines() if line.strip()), "")
    found = _VERSION.search(first)
    return found.group(0) if found else first[:60]


def row(probe: Probe) -> Row:
    """The report's line for one probe: found, which version, and a note when the version
    is not the one the catalog pins or could not be read."""
    found = probe.where is not None and not probe.failed
    version = version_in(probe.output) if found else ""
    notes = [n for n in (probe.failed, probe.note) if n]
    if found and probe.expected and version != probe.expected:
        notes.append(f"the catalog pins {probe.expected}")
    return Row(
        kind=probe.kind,
        name=probe.name,
        found=found,
        version=version,
        where=probe.where or "",
        note="; ".join(notes),
    )


def report(
    *,
    host: str,
    python: str,
    runtime: str,
    probes: Sequence[Probe],
    cells: Sequence[CellHere],
    plan_error: str = "",
) -> Report:
    """The report: a row per probe (by kind, then name) and the planned cells in plan order."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    rows = sorted((row(p) for p in probes), key=lambda r: (order[r.kind], r.name))
    return Report(
        host=host,
        python=python,
        runtime=runtime,
        rows=tuple(rows),
        cells=tuple(cells),
        plan_error=plan_error,
    )


def summary_counts(cells: Sequence[CellHere]) -> dict[str, int]:
    waiting = sum(1 for c in cells if c.awaiting)
    return {"cells": len(cells), "runs_here": len(cells) - waiting, "awaiting_runner": waiting}


def text(found: Report, width: int | None = None) -> str:
    """The report as people read it: the host, a table of what it has, then every cell;
    the tables fit ``width`` columns (None: as wide as they need)."""
    lines = [f"host: {found.host}; python: {found.python}; runtime: {found.runtime}", ""]
    header = ("KIND", "NAME", "FOUND", "VERSION", "WHERE", "NOTE")
    table = [
        (r.kind, r.name, "yes" if r.found else "no", r.version or "-", r.where or "-", r.note)
        for r in found.rows
    ]
    lines += table_lines(header, table, width, key=1)
    counts = summary_counts(found.cells)
    lines.append("")
    if found.plan_error:
        lines.append(f"no cell planned: {found.plan_error}")
        return "\n".join(lines) + "\n"
    lines.append(
        f"{counts['cells']} planned cell(s): {counts['runs_here']} would run here, "
        f"{counts['awaiting_runner']} would await a runner"
    )
    if found.cells:
        cells = [
            (c.cell, f"awaiting runner: {c.awaiting}" if c.awaiting else "runs here")
            for c in found.cells
        ]
        lines += ["", *table_lines(("CELL", "HERE"), cells, width)]
    return "\n".join(lines) + "\n"
