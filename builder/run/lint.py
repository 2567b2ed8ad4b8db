"""``builder lint``: every problem in every recipe, for pull requests.

Beyond what loading checks (schema, names, placeholders), lint looks at the expanded
matrix: the reference cell must be built, an ``include`` must not name an incompatible
cell, and engine arguments an engine ignores are reported. A Hub source not pinned to a
commit (``@main``, a tag, no revision) is a warning, and a problem with ``strict`` (what the
pull-request workflow runs): its weights can change after validation. Every cell's Dockerfile is
rendered and checked with hadolint; a finding fails lint unless the chip's catalog entry
waives its rule with a reason (``hadolint_waivers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.core.catalog_model import Catalog
from builder.core.cells import LoadedRecipe, cell_id
from builder.core.dockerlint import unwaived, waiver_problems
from builder.core.matrix import Selection, expand, incompatibility
from builder.core.recipes import load_recipes, recipe_files
from builder.core.render import render_cell
from builder.core.reports import Document, LintedRecipe, lint_doc
from builder.core.values import unpinned_sources
from builder.effects.hadolint import hadolint_batch
from builder.errors import Problem, RecipeError, SourceLoc


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Recipe files named directly or found in the named folders."""
    files: list[Path] = []
    for path in paths:
        files.extend(recipe_files(path) if path.is_dir() else [path])
    return files


@dataclass(frozen=True, kw_only=True)
class Linted:
    """What lint found in recipes without problems: warnings, and each recipe's summary."""

    warnings: tuple[Problem, ...]
    recipes: tuple[LintedRecipe, ...]


def lint(
    paths: Sequence[Path], catalog: Catalog, root: Path, *, strict: bool = False
) -> Iterator[str]:
    """Lines to print for recipes without problems; raises RecipeError listing all problems
    (with ``strict``, unpinned sources among them; otherwise they are warning lines)."""
    linted = check(paths, catalog, root, strict=strict)
    for problem in linted.warnings:
        yield f"warning: {problem} (builder lint --strict refuses this)"
    for recipe in linted.recipes:
        extra = f"; note: {'; '.join(recipe.notes)}" if recipe.notes else ""
        yield f"{recipe.file}: ok ({recipe.cells} cells, {recipe.excluded} excluded){extra}"


def report(
    paths: Sequence[Path], catalog: Catalog, root: Path, *, strict: bool = False
) -> tuple[Document, RecipeError | None]:
    """``lint --format json``: the findings as a document, and the error that fails lint
    (raised by the caller once the document is printed), if any."""
    try:
        linted = check(paths, catalog, root, strict=strict)
    except RecipeError as exc:
        return lint_doc(errors=exc.problems, warnings=()), exc
    return lint_doc(errors=(), warnings=linted.warnings, recipes=linted.recipes), None


def check(paths: Sequence[Path], catalog: Catalog, root: Path, *, strict: bool = False) -> Linted:
    """What :func:`lint` prints, as data; raises RecipeError listing all problems."""
    recipes = load_recipes(paths, catalog, root)
    problems = [p for loaded in recipes for p in plan_problems(loaded, catalog)]
    problems += [p for loaded in recipes for p in dockerfile_problems(loaded, catalog, root)]
    unpinned = [p for loaded in recipes for p in pinning_problems(loaded)]
    if strict:
        problems += unpinned
    if problems:
        raise RecipeError(problems)
    summaries = []
    for loaded in recipes:
        plan = expand([loaded], catalog, Selection())
        notes = sorted({f"{c.engine} ignores {a}" for c in plan.cells for a in c.ignored_args})
        summaries.append(
            LintedRecipe(
                file=loaded.file,
                cells=len(plan.cells),
                excluded=len(plan.excluded),
                notes=tuple(notes),
            )
        )
    return Linted(warnings=tuple(unpinned), recipes=tuple(summaries))


def pinning_problems(loaded: LoadedRecipe) -> Iterable[Problem]:
    """Hub sources that name a branch, a tag or no revision (see the module docstring)."""
    for key, message in unpinned_sources(loaded.recipe):
        yield Problem(loc=loaded.loc(key), key=key, message=message)


def plan_problems(loaded: LoadedRecipe, catalog: Catalog) -> Iterable[Problem]:
    recipe = loaded.recipe
    for i, inc in enumerate(recipe.include):
        why = incompatibility(
            catalog,
            chip=inc.chip or "",
            quantization=inc.quantization or "",
            engine=inc.engine or "",
        )
        if why is not None:
            key = f"include[{i}]"
            yield Problem(loc=loaded.loc(key), key=key, message=f"{why[0]} (see {why[1]})")
    reference = recipe.validate.reference
    if reference is None:
        return
    plan = expand([loaded], catalog, Selection())
    ref = cell_id(
        loaded.name, reference.chip or "", reference.quantization or "", reference.engine or ""
    )
    if ref not in {c.id for c in plan.cells}:
        reason = next((e.reason for e in plan.excluded if e.id == ref), "it is not in the matrix")
        key = "validate.reference"
        message = f"reference cell {ref} is not built: {reason}"
        yield Problem(loc=loaded.loc(key), key=key, message=message)


def dockerfile_problems(loaded: LoadedRecipe, catalog: Catalog, root: Path) -> Iterable[Problem]:
    """hadolint findings on every cell's rendered Dockerfile that no chip waiver covers."""
    plan = expand([loaded], catalog, Selection())
    for chip in sorted({c.chip for c in plan.cells}):
        for message in waiver_problems(catalog.chips[chip].hadolint_waivers):
            yield Problem(loc=SourceLoc(file=f"conf/chip/{chip}.yaml"), key="", message=message)
    dockerfiles = [
        render_cell(root / "templates", c, loaded, catalog)["Dockerfile"] for c in plan.cells
    ]
    found_all = hadolint_batch(dockerfiles, None)  # in memory: lint writes nothing
    for cell, found in zip(plan.cells, found_all, strict=True):
        for finding in unwaived(found, catalog.chips[cell.chip].hadolint_waivers):
            yield Problem(
                loc=SourceLoc(file=loaded.file),
                key=cell.id,
                message=f"{finding} (fix templates/Dockerfile.j2, or waive {finding.code} "
                f"with a reason in conf/chip/{cell.chip}.yaml hadolint_waivers)",
            )
