"""Recipe files are read as files of recipes/, never through them: a link, a device, a FIFO,
a folder, a hard link or a file elsewhere is refused before a byte of it is read, and what
a refusal shows (a file name) can hold nothing but the name's own characters."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from builder.core import recipes
from builder.core.catalog_model import Catalog
from builder.core.recipes import load_recipe, load_recipes, recipe_files
from builder.errors import RecipeError
from tests.unit.test_untrusted_recipes import ONE_CELL

SECRET = "HF_TOKEN=hf_planted_secret_value"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "recipes").mkdir()
    return tmp_path


def refusal(root: Path, catalog: Catalog, *paths: Path) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipes(list(paths) or recipe_files(root / "recipes"), catalog, root)
    text = str(info.value)
    assert SECRET not in text
    return text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, host: p.symlink_to(host), "is a symbolic link"),
        (lambda p, host: p.symlink_to("/dev/zero"), "is a symbolic link"),
        (lambda p, host: p.symlink_to("/dev/null"), "is a symbolic link"),
        (lambda p, host: p.symlink_to(p.parent / "missing.yaml"), "is a symbolic link"),
        (lambda p, host: os.mkfifo(p), "is not a regular file (a FIFO)"),
        (lambda p, host: p.mkdir(), "is not a regular file (a folder)"),
        (lambda p, host: os.link(host, p), "has 2 hard links"),
    ],
    ids=[
        "link-to-host-file",
        "link-to-endless-device",
        "link-to-null",
        "dangling",
        "fifo",
        "folder",
        "hard-link",
    ],
)
def test_a_recipe_that_is_not_a_plain_file_is_refused_unread(
    root: Path, mini_catalog: Catalog, make: object, message: str
) -> None:
    host = root / "host-secret.yaml"
    host.write_text(ONE_CELL + f"# {SECRET}\nmodel: {SECRET}\n")
    path = root / "recipes" / "r.yaml"
    make(path, host)  # type: ignore[operator]
    done: list[str] = []
    # A FIFO with no writer would block a plain open() forever: the refusal must not wait.
    worker = threading.Thread(target=lambda: done.append(refusal(root, mini_catalog, path)))
    worker.start()
    worker.join(timeout=10)
    assert done, "reading the recipe blocked"
    assert f"recipes/r.yaml: {message}" in done[0]


def test_the_size_cap_holds_while_reading(
    root: Path, mini_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe of 50 MiB is refused after reading at most the cap and one byte."""
    path = root / "recipes" / "r.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 << 20)
    seen: list[int] = []
    real_read = os.read

    def counting(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        seen.append(len(data))
        return data

    monkeypatch.setattr(recipes.os, "read", counting)
    assert "recipes/r.yaml:1: file is larger than 256 KiB" in refusal(root, mini_catalog)
    assert sum(seen) == recipes.MAX_BYTES + 1


def test_a_link_named_with_dockerfile_lines_is_refused_and_never_shown_raw(
    root: Path, mini_catalog: Catalog
) -> None:
    """The link's target name holds a newline and a Dockerfile instruction; the builder
    neither follows the link nor shows the target's name."""
    target = root / "x\nRUN touch PWNED\n.yaml"
    target.write_text(ONE_CELL)
    (root / "recipes" / "evil.yaml").symlink_to(target)
    text = refusal(root, mini_catalog)
    assert "recipes/evil.yaml: is a symbolic link" in text
    assert "RUN" not in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "name", ["x.yaml\nRUN touch PWNED", "x.yaml\x1b[2J", "X.yaml", "x.yaml.bak"]
)
def test_odd_file_names_never_become_recipes(root: Path, mini_catalog: Catalog, name: str) -> None:
    path = root / "recipes" / name
    path.write_text(ONE_CELL)
    with pytest.raises(RecipeError, match="recipe file names must match") as info:
        load_recipe(path, mini_catalog)
    # The name is shown escaped: no line break or escape sequence reaches the terminal.
    assert "\n" not in str(info.value)
    assert "\x1b" not in str(info.value)


def test_recipes_are_read_from_recipes_only(root: Path, mini_catalog: Catalog) -> None:
    outside = root / "elsewhere" / "r.yaml"
    outside.parent.mkdir()
    outside.write_text(ONE_CELL)
    assert "is not in" in refusal(root, mini_catalog, outside)


def test_a_recipes_folder_that_is_a_link_is_refused(tmp_path: Path, mini_catalog: Catalog) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "r.yaml").write_text(ONE_CELL)
    root = tmp_path / "project"
    root.mkdir()
    (root / "recipes").symlink_to(elsewhere)
    assert "recipes/: is a symbolic link" in refusal(root, mini_catalog)


def test_one_recipe_in_two_files_is_refused_naming_both(root: Path, mini_catalog: Catalog) -> None:
    (root / "recipes" / "x.yaml").write_text(ONE_CELL)
    (root / "recipes" / "x.yml").write_text(ONE_CELL)
    text = refusal(root, mini_catalog)
    assert "recipes/x.yml:1: recipe x is also defined by recipes/x.yaml" in text


def test_the_number_of_recipe_files_is_bounded(
    root: Path, mini_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recipes, "MAX_RECIPES", 3)
    for i in range(4):
        (root / "recipes" / f"r{i}.yaml").write_text(ONE_CELL)
    assert "4 recipe files; at most 3 are read" in refusal(root, mini_catalog)


def test_a_plain_recipe_still_loads_with_its_project_relative_name(
    root: Path, mini_catalog: Catalog
) -> None:
    (root / "recipes" / "r.yaml").write_text(ONE_CELL)
    (loaded,) = load_recipes(recipe_files(root / "recipes"), mini_catalog, root)
    assert loaded.file == "recipes/r.yaml"


def test_a_file_name_is_escaped_wherever_a_template_shows_it(catalog: Catalog) -> None:
    """Defence in depth: were a name with a newline to get past the loader, the Dockerfile
    and the card still hold it on one line."""
    from builder.core.matrix import Selection, expand
    from builder.core.recipes import parse_recipe
    from builder.core.render import render_cell
    from tests.conftest import ROOT

    file = "recipes/x\nRUN touch PWNED\n`.yaml"
    loaded = parse_recipe(ONE_CELL, name="r", file=file, catalog=catalog)
    (cell,) = expand([loaded], catalog, Selection()).cells
    files = render_cell(ROOT / "templates", cell, loaded, catalog)
    assert not [t for t in files["Dockerfile"].splitlines() if t.startswith("RUN touch")]
    assert "recipes/x\\x0aRUN touch PWNED\\x0a\\x60.yaml" in files["README.md"]
