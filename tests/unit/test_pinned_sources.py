"""Hub sources pinned to a branch, a tag or nothing move when upstream pushes: `builder lint`
warns about each (file:line:col), and `builder lint --strict` (the pull-request workflow's)
refuses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from builder.core.catalog_model import Catalog
from builder.core.recipes import parse_recipe
from builder.core.values import unpinned_sources
from tests.unit.test_untrusted_recipes import ONE_CELL

SHA = "0123456789abcdef0123456789abcdef01234567"


def sources(mini_catalog: Catalog, source: str) -> list[tuple[str, str]]:
    text = ONE_CELL.replace("generate://tiny-llama", source)
    loaded = parse_recipe(text, name="r", file="recipes/r.yaml", catalog=mini_catalog)
    return list(unpinned_sources(loaded.recipe))


@pytest.mark.parametrize(
    "source",
    [
        "huggingface://Org/Model@main",
        "huggingface://Org/Model@v1.0",
        "huggingface://Org/Model",
        "huggingface://Org/Model@" + SHA[:12],  # a short id is a prefix, not a commit
        "modelscope://Org/Model@master",
    ],
)
def test_moving_revisions_are_found(mini_catalog: Catalog, source: str) -> None:
    ((key, message),) = sources(mini_catalog, source)
    assert key == "model.source"
    assert "which moves; pin a 40-hex commit id" in message


@pytest.mark.parametrize(
    "source",
    [f"huggingface://Org/Model@{SHA}", f"modelscope://Org/Model@{SHA}", "generate://tiny-llama"],
)
def test_commits_and_local_sources_are_pinned(mini_catalog: Catalog, source: str) -> None:
    assert sources(mini_catalog, source) == []


@pytest.mark.integration  # lint renders and runs hadolint on each cell
def test_lint_warns_and_lint_strict_refuses(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = project / "recipes" / "tiny-llama.yaml"
    recipe.write_text(
        recipe.read_text().replace("generate://tiny-llama", "huggingface://Org/Tiny@main")
    )
    assert main(["lint", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "warning: recipes/tiny-llama.yaml:" in out
    assert "model.source: 'huggingface://Org/Tiny@main' names revision 'main'" in out
    assert main(["lint", "--strict", "--root", str(project)]) != 0
    err = capsys.readouterr().err
    assert "recipes/tiny-llama.yaml:" in err
    assert "which moves; pin a 40-hex commit id" in err
    recipe.write_text(recipe.read_text().replace("@main", f"@{SHA}"))
    assert main(["lint", "--strict", "--root", str(project)]) == 0
