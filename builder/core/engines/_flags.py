"""Shared translation of engine arguments into command-line flags."""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.model import ScalarValue


def as_flags(
    args: Mapping[str, ScalarValue], names: Mapping[str, str | None] | None
) -> tuple[list[str], tuple[str, ...]]:
    """Flags for ``args``, sorted by name so the command is stable.

    ``names`` maps an argument to its flag (None: the engine has no such setting). When
    ``names`` is None every argument passes through as ``--kebab-case`` (vLLM's own names).
    A true boolean becomes a bare flag; a false one is left out.
    """
    flags: list[str] = []
    ignored: list[str] = []
    for key in sorted(args):
        flag = "--" + key.replace("_", "-") if names is None else names.get(key)
        if flag is None:
            ignored.append(key)
            continue
        value = args[key]
        if isinstance(value, bool):
            if value:
                flags.append(flag)
            continue
        flags.extend([flag, str(value)])
    return flags, tuple(ignored)
