"""Engine argument lists, and the translation of recipe arguments through them.

Every engine module owns the exact list of its server's arguments (:class:`Argument`, one
table per engine, taken from the engine release its catalog pins). Names are matched
exactly, never by prefix: vLLM's and SGLang's argparse, and llama-cpp-python's, accept any
unambiguous abbreviation (``--ho`` is ``--host``), so an abbreviation of a reserved or
denied argument would otherwise reach the engine as the real one. The builder always passes
the full name as one ``--name=value`` element, so a value can never be read as a flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from builder.core.model import ScalarValue

KINDS = ("int", "float", "bool", "str", "size")
# vLLM's human-readable sizes: 32768, or 32k (x1000) / 32K (x1024), as --max-model-len takes.
_SIZE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?[kKmMgGtT]?")


@dataclass(frozen=True, kw_only=True)
class Argument:
    """One argument of an engine's server."""

    name: str
    flag: str
    kind: str
    # The flag that turns a boolean off (argparse's BooleanOptionalAction, click's
    # --x/--no-x); empty when the engine has none and false simply leaves the flag out.
    negation: str = ""
    # Booleans the engine reads as a value (llama-cpp-python: --flash_attn=true).
    bool_value: bool = False

    def accepts(self, value: ScalarValue) -> bool:
        """Whether ``value`` has this argument's type (a bool is never a number here)."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.kind == "int":
            return isinstance(value, int)
        if self.kind == "float":
            return isinstance(value, int | float)
        if self.kind == "size":
            return isinstance(value, int) or (
                isinstance(value, str) and bool(_SIZE.fullmatch(value))
            )
        return True

    def expected(self) -> str:
        return {
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "size": "an integer (or a size such as 32k)",
        }.get(self.kind, "a string or a number")

    def flags(self, value: ScalarValue) -> list[str]:
        """The argv elements for ``value``: ``--name=value``, or a bare flag for booleans."""
        if self.kind == "bool" and not self.bool_value:
            if value:
                return [self.flag]
            return [self.negation] if self.negation else []
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return [f"{self.flag}={text}"]


def dashed(name: str) -> str:
    """vLLM's and SGLang's flags: ``max_model_len`` is ``--max-model-len``."""
    return "--" + name.replace("_", "-")


def underscored(name: str) -> str:
    """llama-cpp-python's flags keep the settings' names: ``--n_ctx``."""
    return "--" + name


def table(
    text: str, *, flag: Callable[[str], str] = dashed, bool_value: bool = False
) -> dict[str, Argument]:
    """Arguments from a table of ``name kind [no]`` lines (``no``: a ``--no-`` form exists)."""
    found: dict[str, Argument] = {}
    for row in text.strip().splitlines():
        name, kind, *rest = row.split()
        assert kind in KINDS, row
        negation = "--no-" + flag(name)[2:] if rest == ["no"] else ""
        found[name] = Argument(
            name=name, flag=flag(name), kind=kind, negation=negation, bool_value=bool_value
        )
    return found


def translate(
    args: Mapping[str, ScalarValue],
    arguments: Mapping[str, Argument],
    renames: Mapping[str, str | None],
) -> tuple[list[str], tuple[str, ...]]:
    """Flags for recipe ``args`` (sorted by name, so the command is stable), and the names
    the engine has no argument for.

    ``renames`` maps a recipe name (vLLM's) to the engine's own argument, or to None where
    the engine has no such setting; any other name is passed when the engine has an
    argument of exactly that name, and ignored when it has none.
    """
    flags: list[str] = []
    ignored: list[str] = []
    for key in sorted(args):
        argument = own_argument(key, arguments, renames)
        if argument is None:
            ignored.append(key)
            continue
        flags.extend(argument.flags(args[key]))
    return flags, tuple(ignored)


def own_argument(
    key: str, arguments: Mapping[str, Argument], renames: Mapping[str, str | None]
) -> Argument | None:
    """The engine's own argument for recipe argument ``key`` (None: it has none)."""
    own = renames.get(key, key)
    return arguments.get(own) if own is not None else None
