"""Recipes collide with each other, not only with themselves: two recipes releasing to one
Hub repository or one image tag (compared ignoring case, as the Hub and registries do) are
refused, naming both files and lines."""

from __future__ import annotations

import pytest

from builder.core.catalog_model import Catalog
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe
from builder.errors import RecipeError
from tests.unit.test_untrusted_recipes import ONE_CELL


def plan(catalog: Catalog, **texts: str) -> None:
    loaded = [
        parse_recipe(text, name=name, file=f"recipes/{name}.yaml", catalog=catalog)
        for name, text in texts.items()
    ]
    expand(loaded, catalog, Selection())


def refused(catalog: Catalog, **texts: str) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        plan(catalog, **texts)
    return info.value


def renamed(model: str = "Tiny", release: str = '"{model}-{chip}"', org: str = "Org") -> str:
    return (
        ONE_CELL.replace("name: Tiny", f"name: {model}")
        .replace('name: "{model}-{chip}"', f"name: {release}")
        .replace("org: Org", f"org: {org}")
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # One Hub repository, spelled alike or differing only in case.
        (renamed(model="A"), renamed(model="B", release='"A-{chip}"')),
        (renamed(model="A"), renamed(model="B", release='"a-{chip}"')),
        (renamed(model="A", org="Org"), renamed(model="B", release='"A-{chip}"', org="ORG")),
    ],
)
def test_two_recipes_releasing_to_one_hub_repository_are_refused(
    mini_catalog: Catalog, first: str, second: str
) -> None:
    error = refused(mini_catalog, one=first, two=second)
    text = str(error)
    assert "recipes/two.yaml:10:" in text  # release.name of the second
    assert "same Hub repository as cell" in text
    assert "recipes/one.yaml:10" in text  # and where the first one says it


@pytest.mark.parametrize("second_model", ["Tiny", "TINY", "tiny"])
def test_two_recipes_sharing_an_image_tag_are_refused(
    mini_catalog: Catalog, second_model: str
) -> None:
    # Different Hub repositories, the same image: registry/<model name, lowercased>:<tag>.
    second = renamed(model=second_model, release='"other-{chip}"')
    text = str(refused(mini_catalog, one=renamed(), two=second))
    assert "recipes/two.yaml:2:" in text  # model.name of the second
    assert "same image tag as cell one." in text
    assert "recipes/one.yaml:2" in text


def test_distinct_recipes_still_plan_together(mini_catalog: Catalog) -> None:
    plan(mini_catalog, one=renamed(model="A"), two=renamed(model="B"))
