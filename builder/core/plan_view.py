"""How a plan is shown: a text table, and the GitHub Actions matrix. Pure functions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from builder.core.catalog_model import Catalog
from builder.core.cells import Plan
from builder.core.matrix import engine_version
from builder.core.table import paragraph, table
from builder.core.variants import PlannedVariant
from builder.errors import UsageError

# GitHub Actions makes at most 256 jobs of one matrix.
MATRIX_LIMIT = 256


def plan_table(
    plan: Plan,
    *,
    explain: bool,
    builds: Mapping[str, str] | None = None,
    made: Sequence[PlannedVariant] = (),
    catalog: Catalog | None = None,
    width: int | None = None,
) -> str:
    """The cells to build; with ``explain`` also every excluded cell and its rule, with
    ``builds`` what the build cache will do for each cell (build, render, cached), and with
    ``made`` the weights the builder makes (once each, for every cell that serves them).
    Every line fits ``width`` columns (None: as wide as the values), see
    :mod:`builder.core.table`."""
    lines = paragraph(f"{len(plan.cells)} cell(s) to build, {len(plan.excluded)} excluded", width)
    if plan.cells:
        rows = [
            [
                c.id,
                c.release_repo,
                ", ".join(f"{k}={v}" for k, v in sorted(c.serve_args.items())),
                ", ".join(c.ignored_args),
            ]
            for c in plan.cells
        ]
        header = ["CELL", "RELEASE", "ENGINE ARGS", "IGNORED BY ENGINE"]
        if builds is not None:
            header.append("BUILD")
            rows = [[*row, builds.get(row[0], "")] for row in rows]
        lines += ["", *table(header, rows, width)]
    if made:
        rows = [
            [f"{v.spec.recipe}/{v.spec.quantization}", str(len(v.cells)), v.spec.describe()]
            for v in made
        ]
        lines += ["", *table(["WEIGHTS MADE ONCE", "CELLS", "HOW"], rows, width)]
    found = _found_versions(plan, catalog) if explain and catalog is not None else []
    if found:
        header = ["CELL", "ENGINE", "CATALOG SAYS", "FOUND IN ITS IMAGE (TAGS USE IT)"]
        lines += ["", *table(header, found, width)]
    if explain and plan.excluded:
        rows = [[e.id, e.reason, e.rule] for e in plan.excluded]
        lines += ["", *table(["EXCLUDED CELL", "REASON", "RULE"], rows, width)]
    elif plan.excluded:
        lines += ["", *paragraph("(run with --explain to see the excluded cells and why)", width)]
    return "\n".join(lines) + "\n"


def _found_versions(plan: Plan, catalog: Catalog) -> list[list[str]]:
    """Cells whose image, validated, holds another engine version than the catalog says."""
    rows = []
    for cell in plan.cells:
        said = engine_version(catalog, cell.chip, cell.engine)
        if cell.engine_version and cell.engine_version != said:
            rows.append([cell.id, cell.engine, said, cell.engine_version])
    return rows


def github_matrix(plan: Plan, catalog: Catalog) -> dict[str, Any]:
    """What ``strategy.matrix: ${{ fromJSON(...) }}`` takes: one ``include`` entry per cell."""
    return {
        "include": [
            {
                "id": c.id,
                "recipe": c.recipe,
                "chip": c.chip,
                "quantization": c.quantization,
                "engine": c.engine,
                "runs-on": list(catalog.chips[c.chip].runner_labels),
            }
            for c in plan.cells
        ]
    }


def github_shards(
    plan: Plan, catalog: Catalog, shards: int, limit: int = MATRIX_LIMIT
) -> list[dict[str, Any]]:
    """The matrix split into ``shards`` matrices of at most ``limit`` cells each, balanced and
    in cell order; an empty shard has an empty ``include`` (its workflow job is skipped)."""
    cells = github_matrix(plan, catalog)["include"]
    if shards < 1:
        msg = f"--shards {shards}: must be at least 1"
        raise UsageError(msg)
    if len(cells) > shards * limit:
        msg = (
            f"{len(cells)} cells do not fit {shards} shard(s) of {limit} jobs "
            f"(GitHub's matrix limit); raise --shards and add shard jobs to the workflow"
        )
        raise UsageError(msg)
    size, extra = divmod(len(cells), shards)
    result: list[dict[str, Any]] = []
    start = 0
    for index in range(shards):
        end = start + size + (1 if index < extra else 0)
        result.append({"include": cells[start:end]})
        start = end
    return result


def shard_count(cells: int, limit: int = MATRIX_LIMIT) -> int:
    """How many shards of at most ``limit`` cells a plan of ``cells`` cells needs."""
    return max(1, -(-cells // limit))


def github_handoff(
    plan: Plan, shards: int | None = None, *, limit: int = MATRIX_LIMIT, check: bool = True
) -> str:
    """``$GITHUB_OUTPUT`` lines of the release workflow's plan job: ``shards`` (the shard
    indices, a JSON list), ``shard-count`` and ``cells``. No cell is listed: each shard job
    recomputes its own cells from the same commit (:func:`github_shard_output`), so the
    hand-off stays a few bytes whatever the plan's size (GitHub caps a job's outputs at
    1 MB). ``shards``: a fixed count (default: computed, at most ``limit`` cells each).
    GitHub also runs at most ``limit`` jobs of one matrix, so the shard matrix holds at
    most ``limit`` shards: ``limit`` squared cells in one workflow run (``check=False``
    makes the lines anyway, for measuring them)."""
    count = shards or shard_count(len(plan.cells), limit)
    if count < 1:
        msg = f"--shards {count}: must be at least 1"
        raise UsageError(msg)
    if check and count > limit:
        msg = (
            f"{len(plan.cells)} cells need {count} shards, and GitHub runs at most {limit} "
            f"jobs of one matrix ({limit * limit} cells a workflow run): release fewer "
            "recipes at a time (recipe=...)"
        )
        raise UsageError(msg)
    lines = [
        f"shards={json.dumps(list(range(count)), separators=(',', ':'))}",
        f"shard-count={count}",
        f"cells={len(plan.cells)}",
    ]
    return "\n".join(lines) + "\n"


def github_shard_output(plan: Plan, catalog: Catalog, index: int, shards: int) -> str:
    """``$GITHUB_OUTPUT`` lines of one shard job: ``matrix`` (its cells, as
    ``strategy.matrix`` takes them) and ``size``."""
    if not 0 <= index < shards:
        msg = f"--shard {index}: must be between 0 and {shards - 1} (--shards {shards})"
        raise UsageError(msg)
    matrix = github_shards(plan, catalog, shards)[index]
    body = json.dumps(matrix, separators=(",", ":"))
    return f"matrix={body}\nsize={len(matrix['include'])}\n"
