"""vLLM: recipe arguments already use its flag names."""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._flags import as_flags
from builder.core.model import ScalarValue


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return as_flags(args, None)
