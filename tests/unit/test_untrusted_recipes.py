"""Recipe values that would reach a shell line, a path, a Dockerfile or a model card as
something other than data are refused, each with its file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.core.catalog_model import Catalog
from builder.core.matrix import Selection, expand
from builder.core.recipes import load_recipe, parse_recipe
from builder.errors import RecipeError

ONE_CELL = """\
model:
  name: Tiny
  source: generate://tiny-llama
  license: apache-2.0
  description: A tiny model.
matrix: {chip: [nvidia], quantization: [bf16], engine: [vllm]}
serve: {max_model_len: 4096}
release:
  org: Org
  name: "{model}-{chip}"
"""


def refused(text: str, catalog: Catalog) -> str:
    """The error text for ``text``, which must be refused at load or plan time."""

    def plan() -> None:
        loaded = parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)
        expand([loaded], catalog, Selection())

    with pytest.raises(RecipeError) as info:
        plan()
    problem = info.value.problems[0]
    assert problem.loc.file == "recipes/r.yaml"
    assert problem.loc.line is not None
    return str(info.value)


def test_the_one_cell_recipe_is_fine(mini_catalog: Catalog) -> None:
    loaded = parse_recipe(ONE_CELL, name="r", file="recipes/r.yaml", catalog=mini_catalog)
    (cell,) = expand([loaded], mini_catalog, Selection()).cells
    assert cell.release_name == "Tiny-nvidia"


@pytest.mark.parametrize(
    "name", ["..", ".", "{model}..", "-{model}", "--trust-remote-code", "{model}--x", "a."]
)
def test_release_names_that_are_not_repository_names(mini_catalog: Catalog, name: str) -> None:
    text = ONE_CELL.replace('name: "{model}-{chip}"', f'name: "{name}"')
    error = refused(text, mini_catalog)
    assert "recipes/r.yaml:10:3: release.name:" in error
    assert "is not a repository name" in error or "is not allowed here" in error


@pytest.mark.parametrize("key", ["host", "port", "model", "served_model_name"])
def test_engine_arguments_the_builder_sets_are_reserved(mini_catalog: Catalog, key: str) -> None:
    error = refused(ONE_CELL.replace("{max_model_len: 4096}", f"{{{key}: x}}"), mini_catalog)
    assert f"serve.{key}: is set by the builder" in error
    text = ONE_CELL + f"overrides:\n  - select: {{chip: nvidia}}\n    serve: {{{key}: x}}\n"
    assert f"overrides[0].serve.{key}: is set by the builder" in refused(text, mini_catalog)


@pytest.mark.parametrize(
    "value",
    [
        "$(touch PWNED)",
        "`id`",
        "a; b",
        "a | b",
        "a\\nb",
        "-x",
        "--trust-remote-code",
        "/etc/passwd",
        "~/.ssh/id_rsa",
        "../secrets",
        "a/../../b",
        "'quoted'",
        "a\\\\b",
        "<b>",
    ],
)
def test_string_engine_arguments_must_be_one_plain_token(mini_catalog: Catalog, value: str) -> None:
    text = ONE_CELL.replace("{max_model_len: 4096}", f'{{chat_template: "{value}"}}')
    assert "serve.chat_template:" in refused(text, mini_catalog)


def test_json_engine_arguments_are_still_possible(mini_catalog: Catalog) -> None:
    text = ONE_CELL.replace(
        "{max_model_len: 4096}", """{speculative_config: '{"method": "ngram"}'}"""
    )
    parse_recipe(text, name="r", file="recipes/r.yaml", catalog=mini_catalog)


@pytest.mark.parametrize(
    "description",
    [
        "# A heading of its own",
        "```",
        "- a list item",
        "> a quote",
        "<script>alert(1)</script>",
        "A `code span`",
        "\\u202eevil.exe",  # right-to-left override
        "a\\u2066b\\u2069",  # bidi isolate
        "a\\u200bb",  # zero-width space
        "a\\ufeffb",
        "a\\x85b",  # NEL
        "a\\u2028b",  # line separator
        "a\\x1b[31mred",
    ],
)
def test_descriptions_cannot_change_the_card(mini_catalog: Catalog, description: str) -> None:
    text = ONE_CELL.replace("description: A tiny model.", f'description: "{description}"')
    assert "recipes/r.yaml:5:3: model.description:" in refused(text, mini_catalog)


@pytest.mark.parametrize("name", ["a..b", "a-", "-a", "a__b", "a.-b", "a b"])
def test_model_names_are_repository_and_image_names(mini_catalog: Catalog, name: str) -> None:
    text = ONE_CELL.replace("name: Tiny", f'name: "{name}"')
    assert "recipes/r.yaml:2:3: model.name:" in refused(text, mini_catalog)


@pytest.mark.parametrize(
    ("snippet", "line", "message"),
    [
        ('x: "\\ud800"\n', 1, "not valid Unicode"),
        ("x: 1\ny: " + "1" * 5000 + "\n", 2, "cannot read this value"),
        ("x: 1\ny: 0x" + "f" * 5000 + "\n", 2, "integer out of range"),
        ("x: 1\n\ny: \x00\n", 3, "character U+0000 is not allowed"),
        ("x:\n  " + "- " * 100_000 + "a\n", 2, "nested deeper than 16 levels"),
        ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", 1, "nested deeper than 16 levels"),
        ("a: &a [1, 2]\nb: [*a, *a]\n", 1, "anchors (&name) are not allowed"),
        ("x: 1\ny: !!python/object/apply:os.system ['touch PWNED']\n", 2, "is not allowed"),
        ("x: 1\ny: {<<: {a: 1}}\n", 2, "merge keys (<<) are not allowed"),
        ("x: " + "a" * 300_000 + "\n", 1, "larger than 256 KiB"),
        ("x: [" + "1," * 20_001 + "]\n", 1, "more than 20000 values"),
        ("x: 1\ny: .nan\n", 2, "'.nan' is not a finite number"),
        ("x: [1, -.inf]\n", 1, "'-.inf' is not a finite number"),
        ("x: 1\n\ny: 1.0e+999\n", 3, "'1.0e+999' is not a finite number"),
    ],
)
def test_hostile_documents_are_refused_at_their_line(
    mini_catalog: Catalog, snippet: str, line: int, message: str
) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(snippet, name="r", file="recipes/r.yaml", catalog=mini_catalog)
    problem = info.value.problems[0]
    assert (problem.loc.file, problem.loc.line) == ("recipes/r.yaml", line)
    assert message in problem.message


def test_a_file_that_is_not_utf8_is_refused_at_its_line(
    mini_catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(ONE_CELL.encode() + b"x: \xff\n")
    with pytest.raises(RecipeError, match=r"^recipes/r.yaml:11: not UTF-8: byte 0xff"):
        load_recipe(path, mini_catalog, display="recipes/r.yaml")


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("file:///data/models/qwen", True),
        ("file:///data/models", True),
        ("file:///root/.ssh", False),
        ("file:///data/models-evil/x", False),
        ("file:///data/./models/../../etc", False),  # ".." is refused by the pattern
        ("file:///etc/passwd", False),
    ],
)
def test_local_sources_stay_under_the_allowed_roots(
    mini_catalog: Catalog, source: str, allowed: bool
) -> None:
    text = ONE_CELL.replace("source: generate://tiny-llama", f"source: {source}")
    if allowed:
        parse_recipe(text, name="r", file="recipes/r.yaml", catalog=mini_catalog)
    else:
        assert "recipes/r.yaml:3:3: model.source:" in refused(text, mini_catalog)


@pytest.mark.parametrize("key", ["tool_parser_plugin", "middleware", "allowed_local_media_path"])
def test_engine_arguments_that_load_host_code_or_files_are_denied(
    mini_catalog: Catalog, key: str
) -> None:
    error = refused(ONE_CELL.replace("{max_model_len: 4096}", f"{{{key}: x.py}}"), mini_catalog)
    assert f"serve.{key}: loads code or files of the host" in error


@pytest.mark.parametrize("name", ["{model.__class__}", "{0}", "{}", "{model!r}", "{model:>9999}"])
def test_release_names_are_not_format_expressions(mini_catalog: Catalog, name: str) -> None:
    text = ONE_CELL.replace('name: "{model}-{chip}"', f'name: "{name}-{{chip}}"')
    assert "release.name:" in refused(text, mini_catalog)
