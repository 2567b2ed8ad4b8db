"""Builds spread over many jobs: what the cache will do per cell, assembling the out/ folders
that per-cell jobs produced, and the matrix difference a pull request makes.

The decisions and comparisons are pure (:mod:`builder.core.keys`); this module reads the cache,
the artifact folders and a base git tree through :mod:`builder.effects`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from builder.core import keys as cache
from builder.core.model import Catalog, Plan
from builder.core.project import Project
from builder.effects import build_cache, fs, gittree
from builder.errors import OutputError, UsageError
from builder.run.pipeline import MODES, Outcome, regate, write_release_index

Log = Callable[[str], None]


def cell_keys(project: Project, catalog: Catalog, plan: Plan) -> list[cache.CellKeys]:
    """The content keys of every cell of ``plan``."""
    digests = build_cache.input_digests(project.root, project.templates_dir, catalog)
    recipes = {r.name: r for r in plan.recipes}
    return cache.plan_keys(plan.cells, recipes, catalog, digests)


def decisions(project: Project, catalog: Catalog, plan: Plan) -> dict[str, cache.Decision]:
    """Per cell: build, render only, or cached, judged against the build cache."""
    cache_dir = project.cache_dir(catalog.settings)
    return {
        keys.cell: cache.decide(keys, build_cache.load_record(cache_dir, keys.cell))
        for keys in cell_keys(project, catalog, plan)
    }


def assemble(
    project: Project, catalog: Catalog, full_plan: Plan, folders: Sequence[Path], *, log: Log
) -> list[Outcome]:
    """Merge per-cell out/ folders (CI artifacts, launcher jobs) into out/ and index them.

    Each folder holds ``<recipe>/<cell-id>/`` like out/. Files are checked against their
    manifest before they are copied, and the index and README table are written as a
    one-process release writes them.
    """
    out_dir = project.out_dir(catalog.settings)
    with fs.exclusive_lock(out_dir):
        fs.recover(out_dir)
        outcomes = merge(full_plan, _cell_folders(folders), out_dir, log=log)
        outcomes = regate(project, catalog, full_plan, outcomes, out_dir)
        write_release_index(project, catalog, full_plan, outcomes, out_dir)
    return outcomes


def merge(full_plan: Plan, found: Mapping[str, Path], out_dir: Path, *, log: Log) -> list[Outcome]:
    """Copy checked cell folders (cell id -> folder) into ``out_dir``; the caller holds its
    lock. Returns each cell's outcome, read from its validation.json."""
    cells = {c.id: c for c in full_plan.cells}
    outcomes = []
    for cell_id, folder in sorted(found.items()):
        if cell_id not in cells:
            msg = f"{folder}: cell {cell_id} is not in the plan of these recipes"
            raise UsageError(msg)
        cell = cells[cell_id]
        if folder.parent.name != cell.recipe:
            msg = f"{folder}: cell {cell_id} belongs in a folder named {cell.recipe}"
            raise UsageError(msg)
        files = _checked_files(folder)
        fs.write_dir_atomic(out_dir / cell.recipe / cell_id, files, modes=MODES)
        validation = cache.validation_from_json(build_cache.parse_json(files, folder))
        log(f"{cell_id}: {validation.status}")
        outcomes.append(Outcome(cell=cell, validation=validation))
    return outcomes


def _cell_folders(folders: Sequence[Path]) -> dict[str, Path]:
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


def _checked_files(folder: Path) -> dict[str, bytes]:
    files = build_cache.read_cell_folder(folder)
    problem = build_cache.manifest_problem(files)
    if problem:
        msg = f"{folder}: {problem}"
        raise OutputError(msg)
    return files


def diff(
    project: Project,
    base: str,
    load: Callable[[Path], tuple[Catalog, Plan]],
) -> list[cache.CellChange]:
    """Cells added, removed and changed between git ref ``base`` and the working tree.

    ``load`` composes the catalogs and plans the recipes of a project root (the CLI's own
    loading, with the same overrides for both trees).
    """
    head_catalog, head_plan = load(project.root)
    head = cell_keys(project, head_catalog, head_plan)
    with tempfile.TemporaryDirectory(prefix="builder-base-") as tmp:
        base_root = Path(tmp) / "tree"
        gittree.export(project.root, base, base_root)
        base_project = Project(root=base_root)
        base_catalog, base_plan = load(base_root)
        old = cell_keys(base_project, base_catalog, base_plan)
    return cache.compare(old, head)
