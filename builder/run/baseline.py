"""``builder baseline``: keep a passed reference cell's accuracy results as a stored baseline
(``validate.accuracy.baseline``), which later runs use when the reference did not run."""

from __future__ import annotations

import json
from pathlib import Path

from builder.core.judge import GATES
from builder.effects import fs
from builder.errors import UsageError, unknown_name
from builder.session import Session


def store_baseline(session: Session, cell_id: str) -> Path:
    """Copy the cell's accuracy document under baselines/; the path written, relative."""
    cell = next((c for c in session.full_plan.cells if c.id == cell_id), None)
    if cell is None:
        known = [c.id for c in session.full_plan.cells]
        msg = f"baseline: {unknown_name('cell', cell_id, known)}"
        raise UsageError(msg)
    cell_dir = session.out_dir / cell.recipe / cell.id
    document = GATES["accuracy"].document
    try:
        status = json.loads((cell_dir / "validation.json").read_text(encoding="utf-8"))["status"]
        data = (cell_dir / document).read_bytes()
    except (OSError, ValueError, KeyError) as exc:
        msg = f"{cell_dir}: no accuracy results to store ({exc}); run `builder release` first"
        raise UsageError(msg) from None
    if status != "passed":
        msg = f"{cell.id} is {status}, not passed: a baseline must come from a qualified run"
        raise UsageError(msg)
    relative = Path("baselines") / cell.recipe / f"{cell.id}.json"
    fs.write_atomic(session.project.root / relative, data)
    return relative
