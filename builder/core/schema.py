"""The recipe JSON Schema, generated from the typed model (a test keeps the file current)."""

from __future__ import annotations

from pathlib import PurePosixPath

from builder.core.model import Recipe
from builder.core.plain import dumps
from builder.core.typed import json_schema

SCHEMA_PATH = PurePosixPath("schema/recipe.schema.json")


def schema_text() -> str:
    return dumps(
        json_schema(
            Recipe,
            title="llm-release-builder recipe",
            schema_id="https://github.com/flagrelease/llm-release-builder/schema/recipe.schema.json",
        )
    )
