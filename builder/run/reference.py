"""Find a cell's reference results: this run's, else an earlier run's in out/, else a baseline.

What is found is plain data (:class:`builder.core.judge.Reference`): the documents each gate
reads, by gate name. A stored baseline counts only when its provenance matches the
reference cell it stands for; otherwise it is refused, with the differing keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from builder.core import gates
from builder.core.catalog_model import Catalog
from builder.core.cells import Cell, LoadedRecipe
from builder.core.judge import GATES, Reference, document, reference_identity
from builder.core.project import Project
from builder.core.results import CellValidation
from builder.effects.fs import read_json

# Cells whose suites did not run have nothing to compare with.
NOT_RUN = ("awaiting-runner", "rendered")


def find_reference(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    out_dir: Path,
    earlier: Mapping[str, CellValidation],
) -> Reference:
    """The reference results of ``cell`` (``earlier``: this run's validations by cell id)."""
    ref_id = cell.reference
    if ref_id is None or ref_id == cell.id:
        return Reference(label="itself", is_self=ref_id == cell.id)
    if ref_id in earlier and earlier[ref_id].status not in NOT_RUN:
        found = earlier[ref_id]
        docs = {name: doc for name in GATES if (doc := document(found, catalog, name))}
        return Reference(label=f"{ref_id} (this run)", docs=docs)
    previous = out_dir / loaded.name / ref_id
    stored = {name: previous / gate.document for name, gate in GATES.items()}
    if any(path.is_file() for path in stored.values()):
        docs = {name: doc for name, path in stored.items() if (doc := read_json(path))}
        return Reference(label=f"{ref_id} (earlier run in {previous})", docs=docs)
    spec = loaded.recipe.validate
    baselines = {name: path for name, gate in GATES.items() if (path := gate.baseline(spec))}
    if baselines:
        return _baseline(project, catalog, ref_id, loaded, baselines)
    return Reference(label=f"{ref_id} (no result yet, and no validate.accuracy.baseline)")


def _baseline(
    project: Project,
    catalog: Catalog,
    ref_id: str,
    loaded: LoadedRecipe,
    paths: Mapping[str, str],
) -> Reference:
    """Stored reference documents (``builder baseline`` writes them), checked for who made
    them: a baseline from another cell, engine version or model source is refused."""
    label = "baseline " + ", ".join(paths.values())
    expected = reference_identity(catalog, ref_id, loaded)
    docs: dict[str, dict[str, Any]] = {}
    refused: dict[str, tuple[str, ...]] = {}
    for name, path in paths.items():
        stored = read_json(project.root / path)
        if stored is None:
            refused[name] = (f"{path} is missing or is not JSON",)
            continue
        docs[name] = stored
        problems = gates.baseline_identity_mismatch(stored.get("provenance", {}), expected)
        if problems:
            refused[name] = tuple(problems)
    return Reference(label=label, docs=docs, refused=refused)
