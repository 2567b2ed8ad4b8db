"""``builder schema``: write the recipe JSON Schema, or check the committed one is current."""

from __future__ import annotations

from pathlib import Path

from builder.core import schema
from builder.effects import fs
from builder.errors import ConfigError


def write_schema(root: Path, *, check: bool) -> str:
    """What was done, as a line to print; with ``check``, raise when the file is stale."""
    target = root / schema.SCHEMA_PATH
    text = schema.schema_text()
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            msg = f"{schema.SCHEMA_PATH} is out of date; run `builder schema`"
            raise ConfigError(msg)
        return f"{schema.SCHEMA_PATH} is current"
    fs.write_atomic(target, text.encode())
    return f"wrote {schema.SCHEMA_PATH}"
