"""Where the console tools the builder runs are: next to the running Python first, then PATH.

hadolint, ``transformers``, ``vllm`` and the other tools are installed with the builder, into
its environment's ``bin/``. That folder is on PATH when the environment is activated, but not
when the builder is run by its full path (``/path/venv/bin/builder``) or installed by pipx;
the tools are still there, next to the interpreter. A tool found there is run by its
absolute path; one found only on PATH is run as before, by its name.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path


def interpreter_dirs() -> list[Path]:
    """The folders of the running interpreter's console scripts, without duplicates.

    ``sys.executable``'s folder is taken as written: a venv's ``python`` is a symlink to the
    base interpreter, and resolving it would leave the venv. sysconfig's scripts folder
    differs from it in some layouts (a framework or Windows-style install)."""
    # sys.executable may be empty (an embedded interpreter): then only sysconfig's.
    candidates = [str(Path(sys.executable).parent) if sys.executable else ""]
    candidates.append(sysconfig.get_path("scripts") or "")
    found: list[Path] = []
    for candidate in filter(None, candidates):
        if Path(candidate) not in found:
            found.append(Path(candidate))
    return found


def _beside_interpreter(name: str) -> str | None:
    for folder in interpreter_dirs():
        found = shutil.which(name, path=str(folder))
        if found is not None:
            return found
    return None


def find(name: str) -> str | None:
    """The tool ``name``: next to the running interpreter, else on PATH, else None. A name
    with a folder in it is checked as it is."""
    if os.sep in name:
        return shutil.which(name)
    return _beside_interpreter(name) or shutil.which(name)


def resolve(argv: Sequence[str]) -> list[str]:
    """``argv`` with its program by absolute path when it lies next to the interpreter;
    otherwise unchanged, so the process's own PATH lookup finds it as it always did."""
    words = list(argv)
    if words and os.sep not in words[0]:
        found = _beside_interpreter(words[0])
        if found is not None:
            words[0] = found
    return words


def python_of(program: str) -> str:
    """The Python a found console script runs with (its ``#!`` line), a ``python*`` program
    itself, or the running interpreter: what to ask for the version of the package it
    belongs to."""
    if Path(program).name.startswith("python"):
        return program
    try:
        with Path(program).open("rb") as script:
            first = script.readline(512)
    except OSError:
        return sys.executable
    if not first.startswith(b"#!"):
        return sys.executable
    words = first[2:].decode(errors="replace").split()
    # "#!/usr/bin/env python3" names the program to look up, not a path.
    if len(words) >= 2 and Path(words[0]).name == "env":
        return find(words[1]) or sys.executable
    # A long path makes pip write a "#!/bin/sh" wrapper instead: not a Python.
    named = words[0] if words else ""
    return named if Path(named).name.startswith("python") else sys.executable


def installed_version(distribution: str) -> str | None:
    """The version of ``distribution`` installed for the running interpreter, if any (what
    the tools it runs as ``python -m`` modules, such as lm-eval, are)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
