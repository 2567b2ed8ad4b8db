"""Publishing sends exactly the weights a cell was validated with."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from builder.errors import OutputError
from builder.run.publish import _validated_weights


def cell_with_variant(out: Path, data: bytes) -> tuple[Path, Path]:
    key = "k" * 64
    weights = out / ".cache" / "variants" / key / "weights"
    weights.mkdir(parents=True)
    (weights / "M-Q8_0.gguf").write_bytes(data)
    cell = out / "tiny" / "tiny.cpu.gguf-q8_0.transformers"
    cell.mkdir(parents=True)
    manifest = {
        "config": {
            "model": {"source": "generate://tiny-llama"},
            "variant": {"method": "quantize", "source": "generate://tiny-llama"},
        },
        "weights": {
            "key": key,
            "files": {"M-Q8_0.gguf": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": 4}},
        },
    }
    (cell / "manifest.json").write_text(json.dumps(manifest))
    return cell, weights


def test_a_made_variant_is_published_from_its_cache_folder(tmp_path: Path) -> None:
    cell, weights = cell_with_variant(tmp_path, b"GGUF")
    assert _validated_weights(cell, tmp_path) == weights


def test_changed_weights_are_not_published(tmp_path: Path) -> None:
    cell, weights = cell_with_variant(tmp_path, b"GGUF")
    (weights / "M-Q8_0.gguf").write_bytes(b"GGUX")
    with pytest.raises(OutputError, match="missing or changed"):
        _validated_weights(cell, tmp_path)
