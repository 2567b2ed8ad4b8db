"""The ``builder`` command: the only place that prints results and turns errors into exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder import __version__
from builder.core import guard, schema
from builder.core.catalog import load_catalog
from builder.core.matrix import AXES, Selection, expand
from builder.core.model import Catalog, Plan
from builder.core.plan_view import github_outputs, github_shards, plan_table
from builder.core.project import Project, find_root
from builder.core.recipes import load_recipes, recipe_files
from builder.core.variants import plan_variants
from builder.errors import BuilderError, ConfigError, UsageError, ValidationFailed, unknown_name
from builder.run import lint

SELECTION_KEYS = ("recipe", *AXES)


@dataclass(frozen=True)
class Loaded:
    """Everything a sub-command needs, composed once per run."""

    project: Project
    catalog: Catalog
    plan: Plan
    full_plan: Plan


def split_overrides(overrides: Sequence[str]) -> tuple[Selection, list[str]]:
    """Selection keys (``recipe=``, ``chip=``...) narrow the matrix; the rest go to Hydra."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        msg = f"command line: {str(exc).splitlines()[0]}"
        raise UsageError(msg) from None
    picked: dict[str, tuple[str, ...]] = {}
    rest: list[str] = []
    for override in parsed:
        key = override.key_or_group
        if key in SELECTION_KEYS and not override.is_add() and not override.is_delete():
            if override.is_sweep_override():
                values = tuple(str(v) for v in override.sweep_string_iterator())
            else:
                values = (str(override.value()),)
            picked[key] = values
        else:
            guard.check_override(key, override.package, override.input_line or key)
            rest.append(override.input_line or "")
    selection = Selection(
        recipe=picked.get("recipe", ()),
        chip=picked.get("chip", ()),
        quantization=picked.get("quantization", ()),
        engine=picked.get("engine", ()),
    )
    return selection, rest


def load(root: Path, overrides: Sequence[str]) -> Loaded:
    project = Project(root=root)
    selection, hydra_overrides = split_overrides(overrides)
    catalog = load_catalog(project.conf_dir, hydra_overrides)
    _check_selection(selection, catalog, project)
    # All recipes load even when one is selected: the release index keeps every row.
    recipes = load_recipes(recipe_files(project.recipes_dir), catalog, root)
    plan = expand(recipes, catalog, selection)
    full_plan = expand(recipes, catalog, Selection())
    return Loaded(project=project, catalog=catalog, plan=plan, full_plan=full_plan)


def _check_selection(selection: Selection, catalog: Catalog, project: Project) -> None:
    known: dict[str, Any] = {
        "recipe": [p.stem for p in recipe_files(project.recipes_dir)],
        "chip": catalog.chips,
        "quantization": catalog.quantizations,
        "engine": catalog.engines,
    }
    for key in SELECTION_KEYS:
        for value in getattr(selection, key):
            if value not in known[key]:
                msg = f"command line: {key}={value}: {unknown_name(key, value, known[key])}"
                raise UsageError(msg)


def cmd_plan(args: argparse.Namespace) -> int:
    loaded = load(args.root, args.overrides)
    plan = loaded.plan
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2, sort_keys=True))
    elif args.format == "github" and args.shards:
        print(github_outputs(plan, loaded.catalog, args.shards), end="")
    elif args.format == "github":
        (matrix,) = github_shards(plan, loaded.catalog, 1)
        print(json.dumps(matrix, separators=(",", ":")))
    else:
        builds = None
        if args.explain:
            from builder.run import scaleout

            decided = scaleout.decisions(loaded.project, loaded.catalog, plan)
            builds = {cell: d.text() for cell, d in decided.items()}
        made = [v for v in plan_variants(plan, loaded.catalog) if v.spec.produced]
        print(plan_table(plan, explain=args.explain, builds=builds, made=made), end="")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from builder.core import keys as cache
    from builder.run import scaleout

    def plan_of(root: Path) -> tuple[Catalog, Plan]:
        loaded = load(root, args.overrides)
        return loaded.catalog, loaded.full_plan

    changes = scaleout.diff(Project(root=args.root), args.base, plan_of)
    if args.format == "markdown":
        print(cache.diff_markdown(changes, base=args.base), end="")
    else:
        for change in changes:
            parts = f" ({', '.join(change.parts)})" if change.parts else ""
            print(f"{change.change:8} {change.cell}{parts}")
        if not changes:
            print(f"no cell added, removed or changed against {args.base}")
    return 0


def cmd_assemble(args: argparse.Namespace) -> int:
    from builder.run import scaleout

    started = time.monotonic()
    loaded = load(args.root, args.overrides)
    outcomes = scaleout.assemble(
        loaded.project, loaded.catalog, loaded.full_plan, args.folders, log=print
    )
    return _summarise("assemble", outcomes, loaded, started)


def cmd_stage(args: argparse.Namespace) -> int:
    from builder.run import pipeline

    loaded = load(args.root, args.overrides)
    if not loaded.plan.cells:
        from builder.errors import NothingToBuild

        msg = "the selection matches no cell; see `builder plan --explain`"
        raise NothingToBuild(msg)
    started = time.monotonic()

    def log(line: str) -> None:
        print(line, flush=True)

    if getattr(args, "launcher", None):
        from builder.run import launch

        outcomes = launch.run(loaded, args.command, args.launcher, args.overrides, log=log)
    else:
        outcomes = pipeline.run(
            loaded.project,
            loaded.catalog,
            loaded.plan,
            loaded.full_plan,
            stage=args.command,
            log=log,
        )
    return _summarise(args.command, outcomes, loaded, started)


def _summarise(command: str, outcomes: Sequence[Any], loaded: Loaded, started: float) -> int:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.validation.status] = counts.get(outcome.validation.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    out_dir = loaded.project.out_dir(loaded.catalog.settings)
    print(f"{command}: {summary} in {time.monotonic() - started:.1f}s -> {out_dir}")
    # An inconclusive gate is not a pass: the cell is not qualified, so the run says so.
    problems = [
        f"{len(ids)} cell(s) {status}: {', '.join(ids)}"
        for status in ("failed", "inconclusive")
        if (ids := [o.cell.id for o in outcomes if o.validation.status == status])
    ]
    if problems:
        raise ValidationFailed("; ".join(problems))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    project = Project(root=args.root)
    selection, hydra_overrides = split_overrides(args.overrides)
    if selection != type(selection)():
        msg = "lint takes catalog overrides only, not recipe=/chip=/... selections"
        raise UsageError(msg)
    catalog = load_catalog(project.conf_dir, hydra_overrides)
    paths = lint.expand_paths(args.paths or [project.recipes_dir])
    for line in lint.lint(paths, catalog, args.root):
        print(line)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    """Store a passed reference cell's accuracy results as a baseline other runs can use."""
    from builder.effects import fs

    loaded = load(args.root, [])
    cell = next((c for c in loaded.full_plan.cells if c.id == args.cell), None)
    if cell is None:
        known = [c.id for c in loaded.full_plan.cells]
        msg = f"baseline: {unknown_name('cell', args.cell, known)}"
        raise UsageError(msg)
    cell_dir = loaded.project.out_dir(loaded.catalog.settings) / cell.recipe / cell.id
    try:
        status = json.loads((cell_dir / "validation.json").read_text(encoding="utf-8"))["status"]
        data = (cell_dir / "accuracy.json").read_bytes()
    except (OSError, ValueError, KeyError) as exc:
        msg = f"{cell_dir}: no accuracy results to store ({exc}); run `builder release` first"
        raise UsageError(msg) from None
    if status != "passed":
        msg = f"{cell.id} is {status}, not passed: a baseline must come from a qualified run"
        raise UsageError(msg)
    relative = Path("baselines") / cell.recipe / f"{cell.id}.json"
    fs.write_atomic(loaded.project.root / relative, data)
    print(f"wrote {relative}; use it with validate.accuracy.baseline: {relative}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from builder.errors import PublishError
    from builder.run.publish import DEFAULT_TARGETS, publish

    loaded = load(args.root, args.overrides)
    results = publish(
        loaded.project,
        loaded.catalog,
        loaded.plan,
        targets=args.targets or DEFAULT_TARGETS,
        dry_run=args.dry_run,
        allow_unqualified=args.allow_unqualified,
        log=lambda line: print(line, flush=True),
    )
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no released cell"
    print(f"publish{' --dry-run' if args.dry_run else ''}: {summary}")
    failed = sorted({f"{r.cell} -> {r.target}" for r in results if r.status == "failed"})
    if failed:
        msg = f"{len(failed)} publish(es) failed: {', '.join(failed)}"
        raise PublishError(msg)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    target = args.root / schema.SCHEMA_PATH
    text = schema.schema_text()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            msg = f"{schema.SCHEMA_PATH} is out of date; run `builder schema`"
            raise ConfigError(msg)
        print(f"{schema.SCHEMA_PATH} is current")
        return 0
    from builder.effects import fs

    fs.write_atomic(target, text.encode())
    print(f"wrote {schema.SCHEMA_PATH}")
    return 0


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="builder",
        description="Release builds for large language models across many AI chips.",
    )
    main_parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        type=Path,
        default=None,
        help="project root (default: found from the current folder)",
    )
    common.add_argument(
        "--debug", action="store_true", help="show tracebacks (or set BUILDER_FULL_ERROR=1)"
    )
    overrides_help = (
        "Hydra overrides: recipe=NAME chip=A,B engine=E quantization=Q, or catalog values"
    )
    sub = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser(
        "plan", parents=[common], help="print the cells a release builds (runs nothing)"
    )
    plan.add_argument("--format", choices=["table", "json", "github"], default="table")
    plan.add_argument(
        "--explain", action="store_true", help="also list excluded cells and the rule for each"
    )
    plan.add_argument(
        "--shards",
        type=int,
        default=0,
        help="with --format github: split the matrix into N shards, as $GITHUB_OUTPUT lines",
    )
    plan.add_argument("overrides", nargs="*", help=overrides_help)
    plan.set_defaults(func=cmd_plan)

    diff = sub.add_parser(
        "diff", parents=[common], help="cells added, removed and changed since a git revision"
    )
    diff.add_argument("--base", required=True, help="git revision to compare with")
    diff.add_argument("--format", choices=["text", "markdown"], default="text")
    diff.add_argument("overrides", nargs="*", help="catalog overrides, applied to both sides")
    diff.set_defaults(func=cmd_diff)

    assemble = sub.add_parser(
        "assemble",
        parents=[common],
        help="merge per-cell out/ folders (CI artifacts) into out/, release.json and README",
    )
    assemble.add_argument("folders", nargs="+", type=Path, help="folders of <recipe>/<cell-id>/")
    assemble.add_argument("--override", dest="overrides", action="append", default=[])
    assemble.set_defaults(func=cmd_assemble)

    stage_help = {
        "render": "render each cell's files into out/",
        "validate": "render, then start each cell's engine and run its suites",
        "release": "validate, then write out/release.json and the README table",
    }
    for name, text in stage_help.items():
        stage = sub.add_parser(name, parents=[common], help=text)
        if name != "render":
            stage.add_argument(
                "--launcher",
                choices=["joblib", "submitit_local", "submitit_slurm", "ray"],
                help="validate each cell as one job of this Hydra launcher",
            )
        stage.add_argument("overrides", nargs="*", help=overrides_help)
        stage.set_defaults(func=cmd_stage)

    lint_parser = sub.add_parser(
        "lint", parents=[common], help="check recipes (schema and semantics)"
    )
    lint_parser.add_argument(
        "paths", nargs="*", type=Path, help="recipe files or folders (default: recipes/)"
    )
    lint_parser.add_argument(
        "--override", dest="overrides", action="append", default=[], help="catalog override"
    )
    lint_parser.set_defaults(func=cmd_lint)

    baseline_parser = sub.add_parser(
        "baseline",
        parents=[common],
        help="store a passed cell's accuracy results under baselines/ (a stored reference)",
    )
    baseline_parser.add_argument("cell", help="cell id, e.g. qwen3-8b.nvidia.bf16.vllm")
    baseline_parser.set_defaults(func=cmd_baseline)

    publish_parser = sub.add_parser(
        "publish", parents=[common], help="publish released cells to hubs and registries"
    )
    publish_parser.add_argument(
        "--dry-run", action="store_true", help="print what would be uploaded; upload nothing"
    )
    publish_parser.add_argument(
        "--target",
        dest="targets",
        action="append",
        default=[],
        help="a target from conf/publish (repeatable; default: local)",
    )
    publish_parser.add_argument(
        "--allow-unqualified",
        action="store_true",
        help="also publish cells that did not pass validation (marked as such)",
    )
    publish_parser.add_argument("overrides", nargs="*", help=overrides_help)
    publish_parser.set_defaults(func=cmd_publish)

    schema_parser = sub.add_parser(
        "schema", parents=[common], help="write (or --check) the recipe JSON Schema"
    )
    schema_parser.add_argument("--check", action="store_true")
    schema_parser.set_defaults(func=cmd_schema)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    debug = args.debug or os.environ.get("BUILDER_FULL_ERROR") == "1"
    try:
        args.root = (args.root or find_root(Path.cwd())).resolve()
        code: int = args.func(args)
    except BuilderError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.return_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
