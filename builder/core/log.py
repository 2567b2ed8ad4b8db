"""How the builder reports progress: a function taking one line (the CLI prints it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Log: TypeAlias = Callable[[str], None]
