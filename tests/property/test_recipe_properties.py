"""Property tests: whatever a recipe holds, the builder either refuses it with a located
RecipeError, or plans and renders it with every value as inert data.

Recipes go through the real path: a file in a recipes folder, load_recipe (safe YAML, typed
reading, semantic checks), expand (the plan) and render_cell (the sandboxed templates).
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from hypothesis import assume, event, given, note
from hypothesis import strategies as st

from builder.core.catalog_model import Catalog
from builder.core.cells import LoadedRecipe
from builder.core.deploy import CONTAINER_MODEL_ROOT
from builder.core.matrix import Selection, expand
from builder.core.recipes import RECIPE_NAME, load_recipe
from builder.core.render import render_cell
from builder.errors import RecipeError
from tests.conftest import ROOT
from tests.property.strategies import (
    MARKER,
    base_recipe,
    dump,
    hostile_text,
    mutated_recipes,
    pattern_valid_recipes,
    raw_documents,
    scalars,
)

TEMPLATES = ROOT / "templates"
OUT = Path("/srv/project/out")


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def load(text: str | bytes, folder: Path, name: str, catalog: Catalog) -> LoadedRecipe:
    path = folder / f"{name}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return load_recipe(path, catalog, display=f"recipes/{name}.yaml")


def assert_located(error: RecipeError, file: str, text: str | bytes) -> None:
    """A clean refusal: every problem names the file, a line inside it and a message."""
    assert error.problems
    lines = max(1, len(text.splitlines()) + 1)
    for problem in error.problems:
        assert problem.loc.file == file
        assert problem.loc.line is not None, str(problem)
        assert 1 <= problem.loc.line <= lines, str(problem)
        assert problem.message
    assert isinstance(str(error), str)


# ----------------------------------------------------------------------- rendered files


def dockerfile_instructions(text: str) -> list[str]:
    """The instruction keywords of a Dockerfile, as Docker's parser reads lines."""
    instructions = []
    continued = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not continued and (not stripped or stripped.startswith("#")):
            continue
        if not continued:
            instructions.append(stripped.split()[0])
        continued = line.endswith("\\")
    return instructions


def card_structure(text: str) -> tuple[dict[str, Any], list[str], int]:
    """Front matter, headings outside code blocks, and the number of code fences."""
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    headings, fences, inside = [], 0, False
    for line in body.split("\n"):
        if line.startswith("```"):
            fences += 1
            inside = not inside
        elif line.startswith("#") and not inside:
            headings.append(line.split(" ", 1)[0] + " " + line.split(" ", 1)[-1][:12])
    return yaml.safe_load(front), headings, fences


def run_serve_script(script: str, argv: list[str]) -> None:
    """Run serve.sh with `exec` swapped for printf: the arguments arrive unchanged and no
    payload runs (the payloads would create the marker file)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "serve.sh"
        path.write_text(script.replace("\nexec ", "\nprintf '%s\\0' ", 1))
        assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
        done = subprocess.run(
            ["sh", str(path)],
            cwd=folder,
            capture_output=True,
            env={"PATH": os.environ["PATH"]},
            check=False,
            timeout=20,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split(b"\0")[:-1] == [a.encode("utf-8", "surrogatepass") for a in argv]
        assert not (Path(folder) / MARKER).exists()


def check_inert(
    loaded: LoadedRecipe,
    catalog: Catalog,
    *,
    run_scripts: bool,
    serve_args: dict[str, Any] | None = None,
) -> None:
    plan = expand([loaded], catalog, Selection())
    baseline = base_files(catalog)
    for planned in plan.cells:
        cell = planned
        if serve_args is not None:
            cell = dataclasses.replace(planned, serve_args=serve_args)
        files = render_cell(TEMPLATES, cell, loaded, catalog)
        assert set(files) == set(baseline)
        for text in files.values():
            text.encode("utf-8")  # what the pipeline writes; a lone surrogate would fail
        # Paths: the cell directory stays inside out/, the weights inside /models.
        target = (OUT / loaded.name / cell.id).resolve()
        assert target.parent.parent == OUT
        assert "/" not in cell.id
        assert ".." not in cell.id.split(".")
        model_dir = posixpath.normpath(str(CONTAINER_MODEL_ROOT / cell.release_name))
        assert PurePosixPath(model_dir).parent == CONTAINER_MODEL_ROOT, model_dir
        # serve.sh: the shell reads back exactly the argv, nothing else.
        context_argv = json.loads(json.dumps(_argv(files["serve.sh"])))
        tokens = shlex.split(files["serve.sh"], comments=True)
        assert tokens[:2] == ["set", "-eu"]
        assert tokens[tokens.index("exec") + 1 :] == [*context_argv, "$@"]
        if run_scripts:
            run_serve_script(files["serve.sh"], [_released(t) for t in context_argv])
        # Dockerfile: no instruction more or less than the template writes.
        assert dockerfile_instructions(files["Dockerfile"]) == baseline_instructions(cell.engine)
        # Model card: the same front matter keys, headings and code blocks as ever.
        front, headings, fences = card_structure(files["README.md"])
        base_front, base_headings, base_fences = baseline_card()
        assert set(front) <= set(base_front) | {"language", "base_model", "base_model_relation"}
        assert front["license"] == loaded.recipe.model.license
        assert headings[1:] == base_headings[1:]
        assert fences == base_fences
        # AnythingLLM settings: JSON with the same keys.
        settings = json.loads(files["anythingllm.json"])
        assert set(settings) == set(json.loads(baseline["anythingllm.json"]))


# serve.sh lets HOST, PORT and MODEL override the released values: "${MODEL:-/models/x}".
_DEFAULTED = re.compile(r"\$\{(?:HOST|PORT|MODEL):-([A-Za-z0-9._:/-]+)\}")


def _released(token: str) -> str:
    """What the shell makes of a token with none of those variables set."""
    return _DEFAULTED.sub(lambda m: m.group(1), token)


def _argv(script: str) -> list[str]:
    tokens = shlex.split(script, comments=True)
    return tokens[tokens.index("exec") + 1 : -1]


_BASE: dict[str, Any] = {}


def _base(catalog: Catalog) -> dict[str, Any]:
    if not _BASE:
        with tempfile.TemporaryDirectory() as folder:
            loaded = load(dump(base_recipe()), Path(folder), "base", catalog)
        cells = expand([loaded], catalog, Selection()).cells
        _BASE["files"] = {c.engine: render_cell(TEMPLATES, c, loaded, catalog) for c in cells}
    return _BASE


def base_files(catalog: Catalog) -> dict[str, str]:
    return next(iter(_base(catalog)["files"].values()))  # type: ignore[no-any-return]


def baseline_instructions(engine: str) -> list[str]:
    return dockerfile_instructions(_BASE["files"][engine]["Dockerfile"])


def baseline_card() -> tuple[dict[str, Any], list[str], int]:
    return card_structure(next(iter(_BASE["files"].values()))["README.md"])


# ----------------------------------------------------------------------------- properties


@pytest.mark.integration
def test_the_base_recipe_is_valid_and_inert(catalog: Catalog, workdir: Path) -> None:
    loaded = load(dump(base_recipe()), workdir, "demo", catalog)
    assert len(expand([loaded], catalog, Selection()).cells) == 4
    check_inert(loaded, catalog, run_scripts=True)


@pytest.mark.integration
@given(case=mutated_recipes())
def test_mutated_recipes_are_refused_with_a_location_or_inert(
    catalog: Catalog, workdir: Path, case: tuple[dict[str, Any], Any, Any]
) -> None:
    recipe, changes, _ = case
    note(f"changes: {changes!r}")
    text = dump(recipe)
    try:
        loaded = load(text, workdir, "demo", catalog)
        check_inert(loaded, catalog, run_scripts=True)
    except RecipeError as error:
        assert_located(error, "recipes/demo.yaml", text)
        event("refused with a located RecipeError")
    else:
        event("planned and rendered as inert data")


@pytest.mark.integration
@given(recipe=pattern_valid_recipes())
def test_recipes_matching_every_pattern_are_refused_with_a_location_or_inert(
    catalog: Catalog, workdir: Path, recipe: dict[str, Any]
) -> None:
    text = dump(recipe)
    note(text)
    try:
        loaded = load(text, workdir, "demo", catalog)
        check_inert(loaded, catalog, run_scripts=True)
    except RecipeError as error:
        assert_located(error, "recipes/demo.yaml", text)
        event("refused with a located RecipeError")
    else:
        event("planned and rendered as inert data")


@pytest.mark.integration
@given(args=st.dictionaries(hostile_text, hostile_text | scalars, min_size=1, max_size=4))
def test_engine_arguments_stay_inert_even_past_their_pattern(
    catalog: Catalog, workdir: Path, args: dict[str, Any]
) -> None:
    """Defence in depth: were the patterns on engine arguments loosened, the quoting in the
    templates alone keeps any value a single inert argument of serve.sh and the card."""
    # No argv can hold a NUL byte (execve cuts it there); the loader refuses them anyway.
    assume(not any("\x00" in str(x) for item in args.items() for x in item))
    loaded = load(dump(base_recipe()), workdir, "demo", catalog)
    try:
        check_inert(loaded, catalog, run_scripts=True, serve_args=args)
    except UnicodeEncodeError:
        event("lone surrogate: the loader refuses these before rendering")


@given(text=raw_documents())
def test_raw_yaml_documents_are_refused_with_a_location_or_plain(
    catalog: Catalog, workdir: Path, text: str
) -> None:
    note(f"document starts {text[:300]!r}")
    try:
        loaded = load(text, workdir, "demo", catalog)
        check_inert(loaded, catalog, run_scripts=False)
    except RecipeError as error:
        assert_located(error, "recipes/demo.yaml", text)
        event("refused with a located RecipeError")
    else:
        event("planned and rendered as inert data")
    assert not (workdir / MARKER).exists()


@given(data=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_are_refused_with_a_location(
    catalog: Catalog, workdir: Path, data: bytes
) -> None:
    try:
        load(data, workdir, "demo", catalog)
    except RecipeError as error:
        assert_located(error, "recipes/demo.yaml", data)


@given(name=hostile_text)
def test_recipe_file_names_cannot_leave_out(catalog: Catalog, name: str) -> None:
    text = dump(base_recipe())
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = Path(folder) / f"{name}.yaml"
            path.write_text(text)
        except (OSError, ValueError, UnicodeEncodeError):
            return  # the file system itself refuses the name
        if RECIPE_NAME.fullmatch(path.stem) is None:
            with pytest.raises(RecipeError, match="recipe file names must match"):
                load_recipe(path, catalog)
            return
        loaded = load_recipe(path, catalog)
    assert RECIPE_NAME.fullmatch(loaded.name)
    for cell in expand([loaded], catalog, Selection()).cells:
        assert (OUT / loaded.name / cell.id).resolve().parent.parent == OUT
        assert re.fullmatch(r"[a-z0-9_.-]+", cell.id)
