"""The release report page, out/site/index.html: pure, returns the page as text.

One static file a browser opens from disk: the release table, each model's variant table,
and every cell's verdicts with their intervals, perf plot and links to its card and logs.
It loads nothing: its stylesheet is inline, its plots are ``data:`` URIs (a page copied or
uploaded alone, a CI artifact, still shows them, and no stale copies pile up beside it),
and a Content-Security-Policy forbids scripts and every fetch but those ``data:`` images.

Everything on it came from recipes, engines or release.json, so everything is data:
Jinja autoescapes every value, every value is made printable (:func:`builder.text.escape`:
no bidirectional or zero-width tricks), links to cell files are relative and
percent-encoded, and a hub link is a link only when it is http(s).

The template is the package's own (``site.html.j2`` beside this module), not one of the
project's templates/: those make cells and are part of every cell's render key, and the
page is about out/, not about a cell.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from builder import __version__
from builder.core import catalog_page, evaluation, gates, report
from builder.core.catalog_model import Catalog
from builder.core.cells import Plan
from builder.text import escape

PAGE = "site/index.html"
TEMPLATE = "site.html.j2"
# The files of a cell folder the page links to, with their labels, when the folder has them.
LINKED = {
    "README.md": "card",
    "validation.json": "validation.json",
    "engine.log": "engine log",
    "lm-eval.log": "lm-eval log",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A failed cell's reason can hold an engine's last log lines: enough to see why, no more.
REASON_LIMIT = 2000


@dataclass(frozen=True, kw_only=True)
class CellFiles:
    """What the page shows of one cell's folder in out/: its perf plot's bytes and the
    names of the files it holds (the page links only to files that are there)."""

    plot: bytes | None = None
    present: frozenset[str] = field(default_factory=frozenset)


def _printable(value: object) -> object:
    # Called on every {{ }} value before it is escaped: text from outside is shown as its
    # escapes where it is not printable (bidirectional overrides, control characters);
    # line breaks stay (a failed cell's reason is several lines of a log).
    if not isinstance(value, str):
        return value
    return "\n".join(escape(part) for part in value.split("\n"))


@cache
def environment() -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_printable,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def site_html(
    plan: Plan,
    catalog: Catalog,
    entries: Sequence[Mapping[str, Any]],
    files: Mapping[str, CellFiles],
) -> str:
    """The page for the index ``entries`` (release.json's cells) of ``plan``; ``files``:
    by cell id, what each cell's folder in out/ holds."""
    by_id = {str(e["id"]): e for e in entries}
    rows = report.release_rows(entries)
    for row in rows:
        row["links"] = [(label, url) for label, url in row["links"] if _web_url(url)]
        row["anchor"] = _anchor(row["id"])
        row["state"] = str(by_id[row["id"]]["status"])
    counts: dict[str, int] = {}
    for entry in entries:
        status = str(entry["status"])
        counts[status] = counts.get(status, 0) + 1
    views = [_cell_view(e, files.get(str(e["id"]), CellFiles())) for e in rows_order(entries)]
    template = environment().get_template(TEMPLATE)
    return template.render(
        version=__version__,
        columns=report.RELEASE_COLUMNS,
        rows=rows,
        counts=sorted(counts.items()),
        models=_models(plan, catalog, by_id),
        cells=[v for v in views if _measured(v)],
        others=[v for v in views if not _measured(v)],
    )


def _measured(view: Mapping[str, Any]) -> bool:
    """Whether a cell has results to show (its own section); the others share a table."""
    return bool(view["accuracy"] or view["perf"] or view["plot"])


def rows_order(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries in the release table's order (by cell id)."""
    return sorted(entries, key=lambda e: str(e["id"]))


def _models(
    plan: Plan, catalog: Catalog, by_id: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    models = []
    for loaded in sorted(plan.recipes, key=lambda r: r.name):
        header, grid = catalog_page.variant_grid(loaded, plan, catalog, by_id)
        models.append({"name": loaded.recipe.model.name, "header": header, "rows": grid})
    return models


def _cell_view(entry: Mapping[str, Any], files: CellFiles) -> dict[str, Any]:
    """One cell's section: its status, reason, gates and plot, and links to its files."""
    cell_gates = entry.get("gates") or {}
    folder = str(entry.get("path", ""))
    reason = str(entry.get("reason") or "")
    return {
        "id": str(entry["id"]),
        "anchor": _anchor(str(entry["id"])),
        "status": str(entry["status"]),
        "status_text": str(entry["status"]).replace("-", " "),
        "reason": reason[:REASON_LIMIT] + ("…" if len(reason) > REASON_LIMIT else ""),
        "reference": str(cell_gates.get("reference") or ""),
        "accuracy": evaluation.accuracy_rows({"gates": cell_gates}),
        "perf": _perf_view(cell_gates.get("perf") or {}),
        "plot": _data_uri(files.plot),
        "links": [
            (label, cell_href(folder, name))
            for name, label in LINKED.items()
            if name in files.present
        ],
        "folder": cell_href(folder, ""),
    }


def _perf_view(perf: Mapping[str, Any]) -> dict[str, Any] | None:
    """The throughput gate: its verdict and note, and every point's ratio with its interval."""
    if not perf:
        return None
    points = []
    for point, found in sorted((perf.get("points") or {}).items()):
        low, high = found["interval"]
        trials = found.get("trials") or []
        points.append(
            {
                "point": point,
                "ratio": gates.ratio_text(found["ratio"], low, high),
                "verdict": evaluation.VERDICT_TEXT.get(found["verdict"], found["verdict"]),
                "trials": " vs ".join(str(t) for t in trials),
            }
        )
    return {
        "verdict": evaluation.VERDICT_TEXT.get(perf["verdict"], str(perf["verdict"])),
        "reference": perf["verdict"] == "reference",
        "summary": evaluation.throughput_cell({"perf": perf}),
        "min_ratio": perf.get("min_ratio"),
        "confidence": perf.get("confidence"),
        "note": str(perf.get("note") or ""),
        "points": points,
        "not_comparable": [str(p) for p in perf.get("not_comparable") or []],
    }


def cell_href(folder: str, name: str) -> str:
    """A relative link from out/site/ to a file of a cell folder (``recipe/cell-id``),
    every segment percent-encoded and dot segments dropped: a link never leaves out/ nor
    names a scheme (cell paths come from the plan's patterns; this holds whatever they are)."""
    segments = [part for part in f"{folder}/{name}".split("/") if part not in ("", ".", "..")]
    parts = [quote(part, safe="") for part in segments]
    trailing = "/" if not name else ""
    return "../" + "/".join(parts) + trailing


def _anchor(cell_id: str) -> str:
    return "cell-" + quote(cell_id, safe="")


def _web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _data_uri(png: bytes | None) -> str | None:
    """The plot as a ``data:`` URI; None when there is none or it is not a PNG."""
    if not png or not png.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
