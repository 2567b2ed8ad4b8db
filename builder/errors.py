"""The one error hierarchy. Only :mod:`builder.cli` turns these into output and exit codes."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from builder.text import clip, escape, shown


@dataclass(frozen=True, kw_only=True)
class SourceLoc:
    """Where a value came from: a file and a 1-based line and column."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        # A file name can hold anything a file system allows (newlines, escapes).
        file = clip(escape(self.file), 200)
        if self.line is None:
            return file
        if self.column is None:
            return f"{file}:{self.line}"
        return f"{file}:{self.line}:{self.column}"


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One finding about an input: where, which key, and what was expected."""

    loc: SourceLoc
    key: str
    message: str

    def __str__(self) -> str:
        # Keys are the recipe's own text: escaped, and cut (a key may be 200 KB long).
        key = f" {clip(escape(self.key), 120)}:" if self.key else ""
        return f"{self.loc}:{key} {self.message}"


class BuilderError(Exception):
    """Base of every error the builder reports to a user."""

    return_code: int = 1


class RecipeError(BuilderError):
    """A recipe (or a catalog) is malformed: bad YAML, unknown key, wrong type, unknown name."""

    return_code = 2
    # A hostile file can hold 20,000 wrong values: the message shows the first ones.
    SHOWN = 50

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        lines = [str(p) for p in self.problems[: self.SHOWN]]
        if len(self.problems) > self.SHOWN:
            lines.append(f"... and {len(self.problems) - self.SHOWN:,} more problems")
        super().__init__("\n".join(lines))


class ConfigError(BuilderError):
    """The catalogs in conf/ or a command-line override cannot be composed."""

    return_code = 2


class UsageError(BuilderError):
    """The command line itself is wrong."""

    return_code = 2


class NothingToBuild(BuilderError):
    """The selection matches no cell."""

    return_code = 3


class ValidationFailed(BuilderError):
    """At least one cell failed its validation."""

    return_code = 4


class OutputError(BuilderError):
    """out/ or the README cannot be written (permissions, full disk, a release already running)."""

    return_code = 5


class EngineError(BuilderError):
    """A serving engine did not start, crashed or hung."""

    return_code = 6


class QuantizeError(BuilderError):
    """A quantizer or an adapter merge could not make a variant's weights (the message names
    the tool and its log)."""

    return_code = 6


class ModelSourceError(BuilderError):
    """A model's weights could not be fetched or made."""

    return_code = 6


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix, or an empty string when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {shown(matches[0])}?" if matches else ""


def unknown_name(kind: str, word: str, choices: Iterable[str]) -> str:
    """The message for an unknown registry name: the valid ones and the closest one."""
    valid = sorted(choices)
    known = ", ".join(valid)
    return f"unknown {kind} {shown(word)}; expected one of {known}{did_you_mean(word, valid)}"


class PublishError(BuilderError):
    """A cell could not be published to a target (the others still were)."""

    return_code = 7
