"""Malformed recipes: one clear message with file, line, key and a did-you-mean."""

from __future__ import annotations

import pytest

from builder.core.catalog_model import Catalog
from builder.core.recipes import parse_recipe
from builder.errors import RecipeError

GOOD = """\
model:
  name: Tiny
  source: generate://tiny-llama
  license: apache-2.0
matrix:
  chip: [nvidia, ascend]
  quantization: [bf16, fp8]
  engine: [vllm]
release:
  org: Org
"""


def parse(text: str, catalog: Catalog) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)
    return info.value


def test_good_recipe_loads(mini_catalog: Catalog) -> None:
    loaded = parse_recipe(GOOD, name="r", file="recipes/r.yaml", catalog=mini_catalog)
    assert loaded.recipe.matrix.chip == ["nvidia", "ascend"]
    assert loaded.loc("matrix.chip[1]").line == 6


def test_unknown_key_names_line_and_suggests(mini_catalog: Catalog) -> None:
    error = parse(GOOD.replace("  license:", "  licence:"), mini_catalog)
    assert str(error).startswith("recipes/r.yaml:4:3: model.licence: unknown key;")
    assert "did you mean 'license'?" in str(error)
    assert "missing required key 'license'" in str(error)


def test_wrong_type(mini_catalog: Catalog) -> None:
    error = parse(GOOD.replace("engine: [vllm]", "engine: vllm"), mini_catalog)
    assert "recipes/r.yaml:8:3: matrix.engine: expected a list, got the string 'vllm'" in str(error)


def test_unknown_chip_suggests_closest(mini_catalog: Catalog) -> None:
    error = parse(GOOD.replace("[nvidia, ascend]", "[nvidia, acsend]"), mini_catalog)
    assert str(error) == (
        "recipes/r.yaml:6:18: matrix.chip[1]: unknown chip 'acsend'; "
        "expected one of ascend, cpu, nvidia; did you mean 'ascend'?"
    )


def test_bad_yaml_names_the_line(mini_catalog: Catalog) -> None:
    error = parse(GOOD.replace("engine: [vllm]", "engine: [vllm"), mini_catalog)
    assert str(error).startswith("recipes/r.yaml:9")
    assert "invalid YAML" in str(error)


def test_value_pattern_blocks_shell_metacharacters(mini_catalog: Catalog) -> None:
    error = parse(GOOD.replace("name: Tiny", "name: 'Tiny; rm -rf /'"), mini_catalog)
    assert "model.name: 'Tiny; rm -rf /' is not allowed here" in str(error)


def test_release_name_placeholders_are_checked(mini_catalog: Catalog) -> None:
    text = GOOD + '  name: "{model}-{__class__}"\n'
    error = parse(text, mini_catalog)
    assert "release.name: unknown placeholder {__class__}" in str(error)


def test_include_needs_a_whole_cell(mini_catalog: Catalog) -> None:
    error = parse(GOOD + "include:\n  - {chip: cpu}\n", mini_catalog)
    assert "include[0]: must name a whole cell; missing quantization, engine" in str(error)


def test_all_problems_are_reported_together(mini_catalog: Catalog) -> None:
    text = GOOD.replace("[bf16, fp8]", "[bf16, fp9]").replace("[vllm]", "[vlm]")
    error = parse(text, mini_catalog)
    assert len(error.problems) == 2


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("a: &x 1\nb: *x\n", "anchors (&name) are not allowed"),
        ("a: 1\na: 2\n", "duplicate key (first at line 1)"),
        ("a: !!python/object:os.system x\n", "is not allowed; use plain values"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_hostile_yaml_is_refused(mini_catalog: Catalog, snippet: str, message: str) -> None:
    assert message in str(parse(snippet, mini_catalog))


def test_deep_nesting_is_refused(mini_catalog: Catalog) -> None:
    text = "a: " + "[" * 40 + "]" * 40 + "\n"
    assert "nested deeper than" in str(parse(text, mini_catalog))
