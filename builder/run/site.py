"""out/site/index.html, the release report page: read what each cell folder holds, render
the page (:mod:`builder.core.site`, pure) and write it atomically like the other indexes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from builder.core import site
from builder.core.catalog_model import Catalog
from builder.core.cells import Plan
from builder.effects import fs

PLOT = "perf.png"


def write_site(
    out_dir: Path, plan: Plan, catalog: Catalog, entries: Sequence[Mapping[str, Any]]
) -> None:
    files = {str(e["id"]): cell_files(out_dir / str(e["path"])) for e in entries}
    page = site.site_html(plan, catalog, entries, files)
    fs.write_atomic(out_dir / site.PAGE, page.encode())


def cell_files(folder: Path) -> site.CellFiles:
    """The plot and the linked files of one cell folder (none when it was never written)."""
    present = frozenset(n for n in (*site.LINKED, PLOT) if _is_file(folder / n))
    plot = fs.read_bytes(folder / PLOT) if PLOT in present else None
    return site.CellFiles(plot=plot, present=present)


def _is_file(path: Path) -> bool:
    fs.refuse_links(path)  # a planted link under out/ is an error, as for every read here
    return path.is_file()
