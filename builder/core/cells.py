"""The data a plan holds: loaded recipes, the cells they expand into, excluded cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.core.model import Recipe, ScalarValue
from builder.errors import SourceLoc


@dataclass(frozen=True, kw_only=True)
class LoadedRecipe:
    """A recipe and where it came from."""

    name: str
    file: str
    recipe: Recipe
    # Source line of every key path, for problems found after loading (lint, plan checks).
    locs: dict[str, SourceLoc] = field(default_factory=dict, compare=False, repr=False)

    def loc(self, path: str) -> SourceLoc:
        while path and path not in self.locs:
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.locs.get(path, SourceLoc(file=self.file))


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One build: a recipe on one chip, in one quantization, served by one engine."""

    recipe: str
    chip: str
    quantization: str
    engine: str
    serve_args: dict[str, ScalarValue]
    release_name: str
    release_repo: str
    image: str
    reference: str | None
    ignored_args: tuple[str, ...] = ()
    # The image the cell's Dockerfile starts FROM, and the engine version its tag carries:
    # the version found in the image when a validation there found it differs from the
    # catalog's (see builder.core.matrix.engine_version).
    base_image: str = ""
    engine_version: str = ""

    @property
    def id(self) -> str:
        return cell_id(self.recipe, self.chip, self.quantization, self.engine)


def cell_id(recipe: str, chip: str, quantization: str, engine: str) -> str:
    """The stable id of a cell: ``<recipe>.<chip>.<quantization>.<engine>``, lowercase."""
    return f"{recipe}.{chip}.{quantization}.{engine}".lower()


@dataclass(frozen=True, kw_only=True)
class Exclusion:
    """A cell the matrix would have had, and why it is not built."""

    recipe: str
    chip: str
    quantization: str
    engine: str
    reason: str
    rule: str

    @property
    def id(self) -> str:
        return cell_id(self.recipe, self.chip, self.quantization, self.engine)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a release will build; pure data, made before anything runs."""

    cells: tuple[Cell, ...]
    excluded: tuple[Exclusion, ...]
    recipes: tuple[LoadedRecipe, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "cells": [cell_json(c) for c in self.cells],
            "excluded": [{"id": e.id, "reason": e.reason, "rule": e.rule} for e in self.excluded],
        }


def cell_json(cell: Cell) -> dict[str, Any]:
    """A cell as plain JSON data (the resolved cell config)."""
    return {
        "id": cell.id,
        "recipe": cell.recipe,
        "chip": cell.chip,
        "quantization": cell.quantization,
        "engine": cell.engine,
        "serve_args": dict(cell.serve_args),
        "release_name": cell.release_name,
        "release_repo": cell.release_repo,
        "image": cell.image,
        "reference": cell.reference,
        "ignored_args": list(cell.ignored_args),
        "base_image": cell.base_image,
        "engine_version": cell.engine_version,
    }
