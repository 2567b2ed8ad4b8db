"""The naive design, for the benchmark only: Hydra's own multirun, one job per cell.

Hydra composes the catalogs for every job (``--config-dir <project>/conf``); the job types
them, loads its one recipe, plans it and renders its one cell. Run as
``python bench/naive_hydra.py --config-dir DIR --multirun +root=DIR +cell='range(0,N)'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra

from builder.core.catalog import GROUPS, _typed, _typed_group
from builder.core.catalog_model import Catalog, Settings
from builder.core.matrix import Selection, expand
from builder.core.recipes import load_recipes
from builder.core.render import render_cell

CELLS_PER_MODEL = 200


@hydra.main(version_base="1.3", config_path=None, config_name="config")
def job(cfg: Any) -> None:
    root = Path(cfg.root)
    conf = root / "conf"
    groups = {g: _typed_group(cfg, conf, g, schema) for g, schema in GROUPS.items()}
    catalog = Catalog(
        chips=groups["chip"],
        engines=groups["engine"],
        quantizations=groups["quantization"],
        quantizers=groups["quantizer"],
        suites=groups["suite"],
        publish=groups["publish"],
        settings=_typed(Settings, cfg.settings, conf / "config.yaml", "settings"),
    )
    recipe = root / "recipes" / f"model-{int(cfg.cell) // CELLS_PER_MODEL}.yaml"
    plan = expand(load_recipes([recipe], catalog, root), catalog, Selection())
    cell = plan.cells[int(cfg.cell) % CELLS_PER_MODEL]
    render_cell(root / "templates", cell, plan.recipes[0], catalog, None)


if __name__ == "__main__":
    job()
