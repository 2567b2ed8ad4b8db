"""Values that pass a pattern can still carry a host path: refused at its line."""

from __future__ import annotations

import pytest

from builder.core.catalog_model import Catalog
from builder.core.recipes import parse_recipe
from tests.unit.test_untrusted_recipes import ONE_CELL, refused


@pytest.mark.parametrize(
    "value",
    [
        "name=/etc/passwd",
        '{"model": "/etc/ssh"}',
        '{"path": "file:///etc/shadow"}',
        "a,/root/.cache/huggingface/token",
        "x:/var/run/docker.sock",
        "http://169.254.169.254/latest",
        "a=~/.ssh/id_rsa",
        '{"model": "/data/models/../../etc"}',
        "[/etc/hosts]",
    ],
)
def test_host_paths_inside_engine_argument_values_are_refused(
    mini_catalog: Catalog, value: str
) -> None:
    text = ONE_CELL.replace("{max_model_len: 4096}", f"{{speculative_config: '{value}'}}")
    error = refused(text, mini_catalog)
    assert "recipes/r.yaml:7:" in error
    assert "serve.speculative_config:" in error


@pytest.mark.parametrize(
    "value",
    ['{"model": "/data/models/draft", "num_speculative_tokens": 2}', "Qwen/Qwen3-8B", "a=b,c=d"],
)
def test_values_without_host_paths_still_load(mini_catalog: Catalog, value: str) -> None:
    text = ONE_CELL.replace("{max_model_len: 4096}", f"{{speculative_config: '{value}'}}")
    parse_recipe(text, name="r", file="recipes/r.yaml", catalog=mini_catalog)


def test_a_path_in_an_override_is_refused_too(mini_catalog: Catalog) -> None:
    text = ONE_CELL + "overrides:\n  - select: {chip: nvidia}\n    serve: {tokenizer: 'a=/etc'}\n"
    assert "overrides[0].serve.tokenizer: '/etc' is a host path" in refused(text, mini_catalog)
