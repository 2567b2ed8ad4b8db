"""Cell folders validated elsewhere (CI runner artifacts, launcher jobs), brought into out/.

Each folder given holds ``<recipe>/<cell-id>/`` like out/. Every cell folder found is
checked against its manifest before it is copied, so a damaged or tampered artifact stops
the merge instead of reaching a release. The steps that gate and index the merged cells
are :mod:`builder.run.pipeline`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from builder.core.log import Log
from builder.core.results import validation_from_json
from builder.effects import build_cache, fs
from builder.errors import OutputError, UsageError
from builder.run.cells import MODES, Outcome
from builder.session import Session


def merge_folders(
    session: Session, folders: Sequence[Path], *, log: Log
) -> list[tuple[Outcome, Mapping[str, bytes]]]:
    """Copy every checked cell folder under ``folders`` into out/ (the caller holds its lock);
    each cell's outcome, read from its validation.json, and its files. All are copied before
    any is gated again, since a cell's reference may be among them."""
    cells = session.cells
    merged: list[tuple[Outcome, Mapping[str, bytes]]] = []
    for cell_id, folder in sorted(cell_folders(folders).items()):
        if cell_id not in cells:
            msg = f"{folder}: cell {cell_id} is not in the plan of these recipes"
            raise UsageError(msg)
        resolved = cells[cell_id]
        if folder.parent.name != resolved.cell.recipe:
            msg = f"{folder}: cell {cell_id} belongs in a folder named {resolved.cell.recipe}"
            raise UsageError(msg)
        files = checked_files(folder)
        target = session.out_dir / resolved.cell.recipe / cell_id
        fs.write_dir_atomic(target, files, modes=MODES)
        validation = validation_from_json(build_cache.parse_json(files, folder))
        log(f"{cell_id}: {validation.status}")
        merged.append((Outcome(cell=resolved, validation=validation), files))
    return merged


def cell_folders(folders: Sequence[Path]) -> dict[str, Path]:
    """Cell id -> its folder, for every ``<recipe>/<cell-id>/manifest.json`` under ``folders``."""
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            msg = f"{folder}: not a folder"
            raise UsageError(msg)
        for manifest in sorted(folder.glob("*/*/manifest.json")):
            cell_dir = manifest.parent
            if cell_dir.name in found:
                msg = f"cell {cell_dir.name} is in both {found[cell_dir.name]} and {cell_dir}"
                raise UsageError(msg)
            found[cell_dir.name] = cell_dir
    if not found:
        msg = f"no <recipe>/<cell-id>/manifest.json under {', '.join(map(str, folders))}"
        raise UsageError(msg)
    return found


def checked_files(folder: Path) -> dict[str, bytes]:
    """A cell folder's files, refused unless they match its manifest."""
    files = build_cache.read_cell_folder(folder)
    problem = build_cache.manifest_problem(files)
    if problem:
        msg = f"{folder}: {problem}"
        raise OutputError(msg)
    return files
