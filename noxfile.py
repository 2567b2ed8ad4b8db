"""Sessions: `nox -s release` runs the main job, `nox -s tests` the test suite (CI runs it).

Every install step lives here so a fresh machine needs nothing but nox. torch is installed
first, pinned, so pip takes the CPU build instead of pulling a multi-GB CUDA one.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PYTHON = "3.11"
TORCH = "torch==2.13.0"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def install(session: nox.Session, *extras: str) -> None:
    session.install(TORCH)
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """Plan, render, validate and emit every recipe; update the README table."""
    install(session, "serve")
    session.run("builder", "plan", "--explain", *session.posargs, env=OFFLINE)
    session.run("builder", "release", *session.posargs, env=OFFLINE)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Lint, type-check and run the whole test suite (integration tests included)."""
    install(session, "serve", "publish", "test", "lint")
    session.run("ruff", "check", "builder", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "builder", "tests", "noxfile.py")
    session.run("mypy")
    session.run("builder", "schema", "--check")
    session.run("pytest", *(session.posargs or ["-q"]), env=OFFLINE)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The property tests at length (5,000 examples each) with Hypothesis' statistics."""
    install(session, "test")
    env = {**OFFLINE, "BUILDER_HYPOTHESIS_PROFILE": "fuzz"}
    args = session.posargs or ["-q", "tests/property", "--hypothesis-show-statistics"]
    session.run("pytest", "-p", "no:cacheprovider", *args, env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check the recipes as a pull request would (`builder lint`)."""
    install(session)
    session.run("builder", "lint", *(session.posargs or ["recipes"]))


@nox.session(python=PYTHON, name="update_golden")
def update_golden(session: nox.Session) -> None:
    """Regenerate golden files and the recipe schema; review the diff before committing."""
    install(session, "serve", "test")
    session.run("builder", "schema")
    session.run("pytest", "-q", "tests/unit/test_golden.py", env={**OFFLINE, "UPDATE_GOLDEN": "1"})


@nox.session(python=PYTHON)
def fmt(session: nox.Session) -> None:
    """Format and auto-fix the code."""
    session.install("ruff")
    session.run("ruff", "format", "builder", "tests", "noxfile.py")
    session.run("ruff", "check", "--fix", "builder", "tests", "noxfile.py")


if os.environ.get("CI"):
    nox.options.reuse_existing_virtualenvs = False
