"""The ``builder`` command: it parses the command line, prints, and turns errors into exit
codes; everything else is :mod:`builder.session` (loading) and :mod:`builder.run` (doing)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from builder import __version__, session
from builder.core.keys import diff_markdown
from builder.core.plan_view import (
    github_handoff,
    github_shard_output,
    github_shards,
    plan_table,
    shard_count,
)
from builder.core.project import Project, find_root
from builder.core.variants import plan_variants
from builder.errors import BuilderError, NothingToBuild, PublishError, UsageError, ValidationFailed
from builder.run import baseline, diff, launch, lint, pipeline, publish
from builder.run.cells import Outcome
from builder.run.launchers import REGISTRY as LAUNCHERS
from builder.run.schema import write_schema


def say(line: str) -> None:
    print(line, flush=True)


def cmd_plan(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides)
    plan = loaded.plan
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2, sort_keys=True))
    elif args.format == "github" and args.shard is not None:
        shards = _shards(args.shards, len(plan.cells))
        print(github_shard_output(plan, loaded.catalog, args.shard, shards), end="")
    elif args.format == "github" and args.shards:
        print(github_handoff(plan, _shards(args.shards, len(plan.cells))), end="")
    elif args.format == "github":
        (matrix,) = github_shards(plan, loaded.catalog, 1)
        print(json.dumps(matrix, separators=(",", ":")))
    else:
        builds = None
        if args.explain:
            builds = {cell: d.text() for cell, d in diff.decisions(loaded).items()}
        variants = plan_variants(plan, loaded.catalog, loaded.calibration_digest)
        made = [v for v in variants if v.spec.produced]
        print(plan_table(plan, explain=args.explain, builds=builds, made=made), end="")
    return 0


def _shards(value: str, cells: int) -> int:
    if value == "auto":
        return shard_count(cells)
    if not value.isdigit():
        msg = f"--shards {value}: a number of shards, or auto"
        raise UsageError(msg)
    return int(value)


def cmd_diff(args: argparse.Namespace) -> int:
    changes = diff.diff(args.root, args.base, args.overrides)
    if args.format == "markdown":
        print(diff_markdown(changes, base=args.base), end="")
    else:
        for change in changes:
            parts = f" ({', '.join(change.parts)})" if change.parts else ""
            print(f"{change.change:8} {change.cell}{parts}")
        if not changes:
            print(f"no cell added, removed or changed against {args.base}")
    return 0


def cmd_assemble(args: argparse.Namespace) -> int:
    started = time.monotonic()
    loaded = session.load(args.root, args.overrides)
    outcomes = pipeline.assemble_folders(loaded, args.folders, log=print)
    return _summarise("assemble", outcomes, loaded, started)


def cmd_stage(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides)
    if not loaded.plan.cells:
        msg = "the selection matches no cell; see `builder plan --explain`"
        raise NothingToBuild(msg)
    started = time.monotonic()
    if getattr(args, "launcher", None):
        outcomes = launch.run(loaded, args.command, args.launcher, log=say)
    else:
        outcomes = pipeline.release(loaded, stage=args.command, log=say)
    return _summarise(args.command, outcomes, loaded, started)


def _summarise(
    command: str, outcomes: Sequence[Outcome], loaded: session.Session, started: float
) -> int:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.validation.status] = counts.get(outcome.validation.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"{command}: {summary} in {time.monotonic() - started:.1f}s -> {loaded.out_dir}")
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
    selection, catalog_overrides = session.split_overrides(args.overrides)
    if selection != type(selection)():
        msg = "lint takes catalog overrides only, not recipe=/chip=/... selections"
        raise UsageError(msg)
    catalog = session.load_catalog(project.conf_dir, catalog_overrides)
    paths = lint.expand_paths(args.paths or [project.recipes_dir])
    for line in lint.lint(paths, catalog, args.root):
        print(line)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    relative = baseline.store_baseline(session.load(args.root, []), args.cell)
    print(f"wrote {relative}; use it with validate.accuracy.baseline: {relative}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides)
    results = publish.publish(
        loaded.project,
        loaded.catalog,
        loaded.plan,
        targets=args.targets or publish.DEFAULT_TARGETS,
        dry_run=args.dry_run,
        allow_unqualified=args.allow_unqualified,
        log=say,
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
    print(write_schema(args.root, check=args.check))
    return 0


OVERRIDES_HELP = "Hydra overrides: recipe=NAME chip=A,B engine=E quantization=Q, or catalog values"


def _add_plan(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    plan = sub.add_parser(
        "plan", parents=[common], help="print the cells a release builds (runs nothing)"
    )
    plan.add_argument("--format", choices=["table", "json", "github"], default="table")
    plan.add_argument(
        "--explain", action="store_true", help="also list excluded cells and the rule for each"
    )
    plan.add_argument(
        "--shards",
        default="",
        help="with --format github: the $GITHUB_OUTPUT hand-off of N shards (auto: as many "
        "as 256-job matrices need), shard indices only",
    )
    plan.add_argument(
        "--shard",
        type=int,
        help="with --format github --shards N: the matrix of shard I, as $GITHUB_OUTPUT lines",
    )
    plan.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    plan.set_defaults(func=cmd_plan)
    diff_parser = sub.add_parser(
        "diff", parents=[common], help="cells added, removed and changed since a git revision"
    )
    diff_parser.add_argument("--base", required=True, help="git revision to compare with")
    diff_parser.add_argument("--format", choices=["text", "markdown"], default="text")
    diff_parser.add_argument(
        "overrides", nargs="*", help="catalog overrides, applied to both sides"
    )
    diff_parser.set_defaults(func=cmd_diff)


def _add_stages(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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
                choices=LAUNCHERS.names(),
                help="validate each cell as one job of this Hydra launcher",
            )
        stage.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
        stage.set_defaults(func=cmd_stage)
    assemble = sub.add_parser(
        "assemble",
        parents=[common],
        help="merge per-cell out/ folders (CI artifacts) into out/, release.json and README",
    )
    assemble.add_argument("folders", nargs="+", type=Path, help="folders of <recipe>/<cell-id>/")
    assemble.add_argument("--override", dest="overrides", action="append", default=[])
    assemble.set_defaults(func=cmd_assemble)


def _add_checks(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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
    schema_parser = sub.add_parser(
        "schema", parents=[common], help="write (or --check) the recipe JSON Schema"
    )
    schema_parser.add_argument("--check", action="store_true")
    schema_parser.set_defaults(func=cmd_schema)


def _add_publishing(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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
    publish_parser.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    publish_parser.set_defaults(func=cmd_publish)


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
    sub = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_plan, _add_stages, _add_checks, _add_publishing):
        add(sub, common)
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
