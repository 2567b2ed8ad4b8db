"""Gating a cell validated apart from its reference: pending in `validate`, never in a release."""

from __future__ import annotations

import json

from builder.core.catalog_model import Catalog
from builder.core.judge import Reference, judge
from builder.core.matrix import Selection, expand
from builder.core.recipes import load_recipes
from builder.core.results import CellValidation, Check, SuiteResult
from tests.conftest import ROOT

ACCURACY = {
    "tasks": {"tiny_arith_gen": {"metric": "exact_match", "value": 1.0, "n": 100, "samples": {}}},
    "provenance": {"lm_eval_version": "0.4.9"},
}


def gguf_cell(catalog: Catalog) -> tuple[object, object, CellValidation]:
    recipes = load_recipes([ROOT / "recipes" / "tiny-llama.yaml"], catalog, ROOT)
    plan = expand(recipes, catalog, Selection())
    cell = next(c for c in plan.cells if c.quantization == "gguf-q8_0")
    suite = SuiteResult(
        name="accuracy",
        duration_s=1.0,
        checks=(Check(name="tiny_arith_gen", passed=True, detail="exact_match = 1.0000"),),
        artifacts={"accuracy.json": json.dumps(ACCURACY).encode()},
    )
    validation = CellValidation(cell=cell.id, status="passed", suites=(suite,))
    return cell, recipes[0], validation


def test_a_cell_validated_alone_is_pending_until_assembled(catalog: Catalog) -> None:
    _, loaded, validation = gguf_cell(catalog)
    absent = Reference(label="tiny-llama.cpu.bf16.transformers")
    alone = judge(validation, loaded, absent, catalog, final=False)  # type: ignore[arg-type]
    [gate] = alone.gates["accuracy"]
    assert gate["verdict"] == "pending"
    assert "builder assemble" in gate["note"]
    assert alone.status == "passed"  # the CI job succeeds; assemble decides


def test_a_release_never_leaves_a_gate_pending(catalog: Catalog) -> None:
    _, loaded, validation = gguf_cell(catalog)
    absent = Reference(label="tiny-llama.cpu.bf16.transformers")
    released = judge(validation, loaded, absent, catalog)  # type: ignore[arg-type]
    assert released.gates["accuracy"][0]["verdict"] == "inconclusive"
    assert released.status == "inconclusive"
