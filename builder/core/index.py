"""The release index (out/release.json) and everything made from it: pure functions.

One rule merges a run into the previous index: every cell of the unfiltered plan gets this
run's result when the run touched it, keeps its previous entry (re-read against the current
plan) when it did not, and disappears when no recipe has it any more. The README table, the
report, the catalog page and the variant tables are all made from the merged entries.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from builder import __version__
from builder.core import catalog_page, judge, report
from builder.core.catalog_model import Catalog
from builder.core.cells import Cell, LoadedRecipe, Plan, cell_json
from builder.core.plain import dumps
from builder.core.results import CellValidation
from builder.core.variants import VariantSpec

# The card section (and the optional README section) the variant tables go between.
VARIANT_MARKERS = ("<!-- START:variants -->", "<!-- END:variants -->")


def index_entry(
    cell: Cell,
    loaded: LoadedRecipe,
    status: str,
    reason: str,
    gates_json: Mapping[str, Any],
    weights: Mapping[str, Any] | None = None,
    throughput: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One cell's entry of the release index; ``throughput``: the peak point's median
    output tokens/s over its trials, and their range (see :func:`peak_throughput`)."""
    weights = weights or {}
    peak = throughput or {}
    return {
        "gates": dict(gates_json),
        "weights_bytes": weights.get("bytes"),
        "bits_per_weight": weights.get("bits_per_weight"),
        "weights_key": weights.get("key"),
        "weights_tool": weights.get("tool"),
        "throughput": peak.get("median"),
        "throughput_spread": peak.get("spread"),
        "id": cell.id,
        "recipe": cell.recipe,
        "model": loaded.recipe.model.name,
        "chip": cell.chip,
        "quantization": cell.quantization,
        "engine": cell.engine,
        "status": status,
        "reason": reason,
        "release_repo": cell.release_repo,
        "image": cell.image,
        "path": f"{cell.recipe}/{cell.id}",
    }


def peak_throughput(validation: CellValidation, catalog: Catalog) -> dict[str, Any] | None:
    """The sweep point with the highest median output throughput (tokens/s) of the cell's
    perf sweep, with the range of its trials; points that generated under half of what was
    asked are not comparable and never count. None when nothing was measured."""
    perf = judge.document(validation, catalog, "perf")
    points = [
        p
        for p in (perf or {}).get("points") or []
        if p.get("output_throughput") and p.get("comparable", True)
    ]
    if not points:
        return None
    best = max(points, key=lambda p: float(p["output_throughput"]))
    trials = best.get("output_throughput_trials") or {}
    spread = [trials["min"], trials["max"]] if trials.get("min") is not None else None
    return {"median": float(best["output_throughput"]), "spread": spread}


def fresh_entry(
    cell: Cell, loaded: LoadedRecipe, validation: CellValidation, catalog: Catalog
) -> dict[str, Any]:
    """The entry of a cell this run judged."""
    v = validation
    throughput = peak_throughput(v, catalog)
    return index_entry(
        cell, loaded, v.status, v.reason, v.gates, v.engine.get("weights"), throughput
    )


def _stored_entry(cell: Cell, loaded: LoadedRecipe, entry: Mapping[str, Any]) -> dict[str, Any]:
    """An earlier run's entry for ``cell``, its names and image re-read from the current plan."""
    weights = {
        "bytes": entry.get("weights_bytes"),
        "bits_per_weight": entry.get("bits_per_weight"),
        "key": entry.get("weights_key"),
        "tool": entry.get("weights_tool"),
    }
    return index_entry(
        cell,
        loaded,
        entry["status"],
        entry.get("reason", ""),
        entry.get("gates", {}),
        weights,
        {"median": entry.get("throughput"), "spread": entry.get("throughput_spread")},
    )


def merged_entries(
    full_plan: Plan,
    fresh: Mapping[str, CellValidation],
    previous: Mapping[str, Mapping[str, Any]],
    catalog: Catalog,
) -> list[dict[str, Any]]:
    """The index after a run: every planned cell with this run's result or its previous one
    (a run narrowed to one chip must not drop the other rows); gone cells are dropped."""
    recipes = {r.name: r for r in full_plan.recipes}
    entries = []
    for cell in full_plan.cells:
        loaded = recipes[cell.recipe]
        if cell.id in fresh:
            entries.append(fresh_entry(cell, loaded, fresh[cell.id], catalog))
        elif cell.id in previous:
            entries.append(_stored_entry(cell, loaded, previous[cell.id]))
    return entries


def previous_entries(index: Any) -> dict[str, dict[str, Any]]:
    """An earlier release.json's entries by cell id (nothing when it is missing or broken)."""
    try:
        return {e["id"]: e for e in index["cells"]}
    except (KeyError, TypeError):
        return {}


def variant_tables(
    full_plan: Plan, catalog: Catalog, entries: list[dict[str, Any]]
) -> dict[str, str]:
    """Each recipe's variant table (cards, README, catalog page)."""
    by_id = {e["id"]: e for e in entries}
    return {
        r.name: catalog_page.variant_markdown(r, full_plan, catalog, by_id)
        for r in full_plan.recipes
    }


def index_files(
    full_plan: Plan, catalog: Catalog, entries: list[dict[str, Any]]
) -> dict[str, bytes]:
    """The files of out/ made from the index: release.json, the report, the catalog page."""
    index = {"builder_version": __version__, "cells": entries}
    by_id = {e["id"]: e for e in entries}
    pages = (full_plan.recipes, full_plan, catalog, by_id)
    return {
        "release.json": dumps(index).encode(),
        "report.json": dumps(index).encode(),
        "report.md": report.release_report(entries).encode(),
        "catalog.md": catalog_page.catalog_markdown(*pages).encode(),
        "catalog.json": dumps(catalog_page.catalog_json(*pages)).encode(),
    }


def updated_readme(
    text: str,
    full_plan: Plan,
    entries: list[dict[str, Any]],
    tables: Mapping[str, str],
    *,
    file: str,
) -> str:
    """The README with its release table (and, where it has the markers, the variant tables)
    replaced; raises ValueError when the table's markers are missing."""
    updated = report.replace_between_markers(text, report.release_table(entries), file=file)
    if VARIANT_MARKERS[0] in updated:
        parts = [
            f"### {loaded.recipe.model.name}\n\n{tables[loaded.name]}"
            for loaded in sorted(full_plan.recipes, key=lambda r: r.name)
        ]
        updated = report.replace_between_markers(
            updated, "\n".join(parts), file=file, markers=VARIANT_MARKERS
        )
    return updated


def manifest(
    cell: Cell,
    loaded: LoadedRecipe,
    catalog: Catalog,
    variant: VariantSpec,
    payload: Mapping[str, bytes],
    commit: Mapping[str, Any],
    weights: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a cell's directory holds and exactly which inputs made it, including the weights
    it was validated with: their variant key, the tool that made them, every file's hash."""
    return {
        "cell": cell.id,
        "builder_version": __version__,
        "recipe": {"name": loaded.name, "file": loaded.file, **commit},
        "config": {
            "cell": cell_json(cell),
            "model": dataclasses.asdict(loaded.recipe.model),
            "chip": dataclasses.asdict(catalog.chips[cell.chip]),
            "engine": dataclasses.asdict(catalog.engines[cell.engine]),
            "quantization": dataclasses.asdict(catalog.quantizations[cell.quantization]),
            "variant": variant.to_json(),
        },
        "weights": dict(weights) if weights else None,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(payload.items())
        },
    }
