"""Rendering is pure and treats recipe values as inert data."""

from __future__ import annotations

import pytest

import builder.core.catalog
from builder.core.catalog_model import Catalog
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe
from builder.core.render import render_cell
from builder.session import load
from tests.conftest import ROOT

RECIPE = """\
model:
  name: Demo
  source: generate://tiny-llama
  license: mit
  description: "Demo {{ 7 * 7 }} {% raw %} ${oc.env:HF_TOKEN} $(id) {{ cycler }}"
matrix: {chip: [cpu], quantization: [bf16], engine: [transformers]}
release: {org: Org}
"""


def test_recipe_values_are_never_templates(catalog: Catalog) -> None:
    loaded = parse_recipe(RECIPE, name="demo", file="recipes/demo.yaml", catalog=catalog)
    (cell,) = expand([loaded], catalog, Selection()).cells
    files = render_cell(ROOT / "templates", cell, loaded, catalog)
    card = files["README.md"]
    assert "Demo {{ 7 * 7 }} {% raw %} ${oc.env:HF_TOKEN} $(id) {{ cycler }}" in card
    assert "49" not in card


def test_rendering_is_deterministic(catalog: Catalog) -> None:
    loaded = parse_recipe(RECIPE, name="demo", file="recipes/demo.yaml", catalog=catalog)
    (cell,) = expand([loaded], catalog, Selection()).cells
    first = render_cell(ROOT / "templates", cell, loaded, catalog)
    assert render_cell(ROOT / "templates", cell, loaded, catalog) == first
    assert set(first) == {"Dockerfile", "README.md", "serve.sh", "anythingllm.json"}


def test_catalogs_are_composed_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = builder.core.catalog.compose

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builder.core.catalog, "compose", counting)
    # Without the composed-catalog cache (tests/unit/test_catalogcache.py), which skips it.
    monkeypatch.setenv("BUILDER_CATALOG_CACHE", "0")
    loaded = load(ROOT, [])
    assert len(loaded.plan.cells) > 1
    assert len(calls) == 1
