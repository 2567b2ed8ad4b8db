"""Values that pass a pattern can still carry a host path, an extra lm-eval argument or a
Markdown beacon: each class is refused at its line."""

from __future__ import annotations

import pytest

from builder.core.catalog_model import Catalog
from builder.core.recipes import parse_recipe
from builder.errors import RecipeError
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


GEN = ONE_CELL + "validate:\n  accuracy:\n    gen_kwargs: {GEN}\n"


@pytest.mark.parametrize(
    ("gen", "message"),
    [
        ("{until: 'a,temperature=9'}", "is not allowed here"),
        ("{until: 'a b'}", "is not allowed here"),
        ("{until: '\"x\"'}", "is not allowed here"),
        ("{max_gen_toks: 1.5}", "expected an integer"),
        ("{max_gen_toks: 0}", "must be between 1"),
        ("{temperature: 1.0e+300}", "must be between 0 and 100"),
        ("{temperature: .nan}", "is not a finite number"),
        ("{do_sample: 'yes'}", "expected true or false"),
    ],
)
def test_generation_arguments_stay_one_typed_value_each(
    mini_catalog: Catalog, gen: str, message: str
) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(
            GEN.replace("{GEN}", gen), name="r", file="recipes/r.yaml", catalog=mini_catalog
        )
    assert "recipes/r.yaml:13:" in str(info.value)
    assert message in str(info.value)


def test_plain_generation_arguments_load(mini_catalog: Catalog) -> None:
    gen = "{max_gen_toks: 512, temperature: 0.0, do_sample: false, until: 'Question:'}"
    loaded = parse_recipe(
        GEN.replace("{GEN}", gen), name="r", file="recipes/r.yaml", catalog=mini_catalog
    )
    assert loaded.recipe.validate.accuracy.gen_kwargs["until"] == "Question:"


@pytest.mark.parametrize(
    "description",
    [
        "A model ![x](https://tracker.example/pixel.png)",
        "See [docs](javascript:alert(1))",
        "Read [this](https://example.org) first",
        "A [ref]: https://example.org",
        "1. a list item",
        "2) a list item",
        "Click javascript:alert(1)",
        "Data data:text/html,x here",
        "Hidden\U000e0041\U000e0042 tags",
        "Soft\u00adhyphen",
        "Mongolian\u180evowel",
    ],
)
def test_descriptions_cannot_hold_beacons_links_or_invisible_text(
    mini_catalog: Catalog, description: str
) -> None:
    text = ONE_CELL.replace("description: A tiny model.", f'description: "{description}"')
    assert "recipes/r.yaml:5:3: model.description:" in refused(text, mini_catalog)


@pytest.mark.parametrize(
    "description", ["A 7B model (Qwen2.5 base), 128k context.", "模型：支持中文", "2024 edition"]
)
def test_plain_prose_is_still_a_description(mini_catalog: Catalog, description: str) -> None:
    text = ONE_CELL.replace("description: A tiny model.", f'description: "{description}"')
    parse_recipe(text, name="r", file="recipes/r.yaml", catalog=mini_catalog)


def test_an_axis_of_thousands_of_names_is_refused_without_checking_each(
    mini_catalog: Catalog,
) -> None:
    names = ", ".join(f"x{i}" for i in range(19_000))
    text = ONE_CELL.replace("chip: [nvidia]", f"chip: [{names}]")
    error = refused(text, mini_catalog)
    assert "matrix.chip: lists 19,000 names; at most 256 per axis" in error
    assert "x18999" not in error  # not one did-you-mean per name


def test_a_matrix_of_too_many_cells_is_refused(
    mini_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.core import recipes

    monkeypatch.setattr(recipes, "MAX_CELLS_PER_RECIPE", 1)
    text = ONE_CELL.replace("quantization: [bf16]", "quantization: [bf16, w8a8]")
    assert "matrix: expands to 2 cells; at most 1 per recipe" in refused(text, mini_catalog)
