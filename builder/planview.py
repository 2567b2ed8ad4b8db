"""How a plan is shown: a text table, and the GitHub Actions matrix. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from builder.model import Catalog, Plan


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def plan_table(plan: Plan, *, explain: bool) -> str:
    """The cells to build; with ``explain`` also every excluded cell and its rule."""
    lines = [f"{len(plan.cells)} cell(s) to build, {len(plan.excluded)} excluded"]
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
        lines += ["", *_table(["CELL", "RELEASE", "ENGINE ARGS", "IGNORED BY ENGINE"], rows)]
    if explain and plan.excluded:
        rows = [[e.id, e.reason, e.rule] for e in plan.excluded]
        lines += ["", *_table(["EXCLUDED CELL", "REASON", "RULE"], rows)]
    elif plan.excluded:
        lines += ["", "(run with --explain to see the excluded cells and why)"]
    return "\n".join(lines) + "\n"


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
