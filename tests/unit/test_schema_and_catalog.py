"""The recipe JSON Schema is current and agrees with the loader; conf/ is fully registered."""

from __future__ import annotations

import json

import jsonschema
import pytest

from builder.core.catalog_model import Catalog
from builder.core.schema import SCHEMA_PATH, schema_text
from builder.core.yamlsafe import load_text
from tests.conftest import ROOT


def test_schema_file_is_current() -> None:
    assert (ROOT / SCHEMA_PATH).read_text(encoding="utf-8") == schema_text(), (
        "run `builder schema` (or `nox -s update_golden`) and commit the result"
    )


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_recipes_match_the_schema(recipe: object) -> None:
    schema = json.loads(schema_text())
    doc = load_text(recipe.read_text(encoding="utf-8"), str(recipe))  # type: ignore[attr-defined]
    jsonschema.Draft202012Validator(schema).validate(doc.data)


def test_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    bad = {
        "model": {"name": "x; rm -rf /", "source": "generate://tiny-llama", "license": "mit"},
        "matrix": {"chip": ["cpu"], "quantization": ["bf16"], "engine": ["transformers"]},
        "release": {"org": "Org"},
        "extra": 1,
    }
    messages = {e.message for e in validator.iter_errors(bad)}
    assert any("extra" in m for m in messages)
    assert any("x; rm -rf /" in m for m in messages)


def test_every_catalog_file_is_an_entry(catalog: Catalog) -> None:
    groups = {
        "chip": catalog.chips,
        "engine": catalog.engines,
        "quantization": catalog.quantizations,
        "suite": catalog.suites,
        "publish": catalog.publish,
    }
    for group, entries in groups.items():
        files = {p.stem for p in (ROOT / "conf" / group).glob("*.yaml")}
        assert files == set(entries), f"conf/{group}: files and composed entries differ"


def test_catalog_has_the_required_entries(catalog: Catalog) -> None:
    assert set(catalog.chips) >= {
        "nvidia",
        "ascend",
        "metax",
        "kunlunxin",
        "iluvatar",
        "mthreads",
        "hygon",
        "cambricon",
        "cpu",
    }
    assert set(catalog.engines) >= {"vllm", "sglang", "llamacpp", "transformers"}
    assert set(catalog.quantizations) >= {
        "bf16",
        "fp8",
        "w8a8",
        "w4a16",
        "gguf-q8_0",
        "gguf-q4_k_m",
    }
    smi = {c.smi_command for c in catalog.chips.values()}
    assert smi >= {
        "nvidia-smi",
        "npu-smi",
        "mx-smi",
        "xpu-smi",
        "ixsmi",
        "mthreads-gmi",
        "hy-smi",
        "cnmon",
    }
    for chip in catalog.chips.values():
        assert chip.runner_labels, chip.name
        assert chip.base_image, chip.name
