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
from builder.console import add_format, add_wide, duration, echo, emit, is_json, log_for, width
from builder.core import doctor as doctor_report
from builder.core import reports
from builder.core.deploy import RUNTIMES
from builder.core.keys import diff_markdown
from builder.core.plan_view import (
    github_handoff,
    github_shard_output,
    github_shards,
    plan_table,
    shard_count,
)
from builder.core.project import Project, find_root
from builder.core.table import table as text_table
from builder.core.variants import plan_variants
from builder.display import add_verbosity, annotate, watched
from builder.errors import (
    BuilderError,
    NothingToBuild,
    PublishError,
    UsageError,
    ValidationFailed,
    unknown_name,
)
from builder.run import baseline, container, deploy, diff, gc, launch, lint, pipeline, publish
from builder.run import doctor as host_doctor
from builder.run.cells import Outcome
from builder.run.launchers import REGISTRY as LAUNCHERS
from builder.run.schema import write_schema


def cmd_plan(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides, runtime=args.runtime)
    plan = loaded.plan
    if args.format == "json":
        emit(reports.plan_doc(plan))
    elif args.format == "github" and args.shard is not None:
        shards = _shards(args.shards, len(plan.cells))
        echo(github_shard_output(plan, loaded.catalog, args.shard, shards), machine=True, end="")
    elif args.format == "github" and args.shards:
        echo(github_handoff(plan, _shards(args.shards, len(plan.cells))), machine=True, end="")
    elif args.format == "github":
        (matrix,) = github_shards(plan, loaded.catalog, 1)
        echo(json.dumps(matrix, separators=(",", ":")), machine=True)
    else:
        builds = None
        if args.explain:
            builds = {cell: d.text() for cell, d in diff.decisions(loaded).items()}
        variants = plan_variants(plan, loaded.catalog, loaded.calibration_digest)
        made = [v for v in variants if v.spec.produced]
        table = plan_table(
            plan,
            explain=args.explain,
            builds=builds,
            made=made,
            catalog=loaded.catalog,
            width=width(args),
        )
        echo(table, end="")
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
        echo(diff_markdown(changes, base=args.base), end="")
    elif args.format == "json":
        emit(reports.diff_doc(changes, base=args.base))
    else:
        for change in changes:
            parts = f" ({', '.join(change.parts)})" if change.parts else ""
            echo(f"{change.change:8} {change.cell}{parts}")
        if not changes:
            echo(f"no cell added, removed or changed against {args.base}")
    return 0


def cmd_assemble(args: argparse.Namespace) -> int:
    started = time.monotonic()
    loaded = session.load(args.root, args.overrides)
    with watched(args, err=is_json(args)) as log:
        outcomes = pipeline.assemble_folders(loaded, args.folders, log=log)
    return _summarise("assemble", outcomes, loaded, started, as_json=is_json(args))


def cmd_stage(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides, runtime=getattr(args, "runtime", "host"))
    if not loaded.plan.cells:
        msg = "the selection matches no cell; see `builder plan --explain`"
        raise NothingToBuild(msg)
    started = time.monotonic()
    with watched(args, err=is_json(args)) as log:
        if getattr(args, "launcher", None):
            outcomes = launch.run(loaded, args.command, args.launcher, log=log)
        else:
            outcomes = pipeline.release(loaded, stage=args.command, log=log)
    return _summarise(args.command, outcomes, loaded, started, as_json=is_json(args))


def _summarise(
    command: str,
    outcomes: Sequence[Outcome],
    loaded: session.Session,
    started: float,
    *,
    as_json: bool = False,
) -> int:
    seconds = time.monotonic() - started
    if as_json:
        done = [(o.validation, o.reused) for o in outcomes]
        emit(reports.outcomes_doc(command, done, seconds=seconds, out_dir=str(loaded.out_dir)))
    else:
        counts = reports.totals(o.validation.status for o in outcomes)
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        echo(f"{command}: {summary} in {seconds:.1f}s -> {loaded.out_dir}")
    # An inconclusive gate is not a pass: the cell is not qualified, so the run says so.
    problems = [
        f"{len(ids)} cell(s) {status}: {', '.join(ids)}"
        for status in ("failed", "inconclusive")
        if (ids := [o.cell.id for o in outcomes if o.validation.status == status])
    ]
    if problems:
        raise ValidationFailed("; ".join(problems))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides, runtime=args.runtime)
    started = deploy.deploy(
        loaded,
        args.cell,
        devices=args.devices,
        port=args.port,
        bind=args.bind,
        allow_unqualified=args.allow_unqualified,
        log=log_for(args),
    )
    found = started.deployment
    if is_json(args):
        emit(reports.deploy_doc(found, seconds=started.seconds))
        return 0
    devices = f", devices {','.join(map(str, found.devices))}" if found.devices else ""
    echo(f"deployed {found.cell} ({found.runtime}{devices}) in {started.seconds:.1f}s")
    echo(f"endpoint: {found.url}")
    # The curl line is for copying: escaped, never cut.
    echo(f"try it:   {deploy.curl_line(found)}", machine=True)
    echo(f"then:     builder logs {found.cell} -f  |  builder status  |  builder stop {found.cell}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = deploy.status(_out_dir(args))
    if is_json(args):
        emit(reports.status_doc([(r.deployment, r.state, r.uptime_s) for r in rows]))
        return 0
    if not rows:
        echo("no deployment (builder deploy CELL starts one)")
        return 0
    header = ("CELL", "RUNTIME", "DEVICES", "ENDPOINT", "UPTIME", "STATE")
    table = [
        (
            r.deployment.cell,
            r.deployment.runtime,
            ",".join(map(str, r.deployment.devices)) or "-",
            r.deployment.url,
            duration(r.uptime_s),
            r.state,
        )
        for r in rows
    ]
    for line in text_table(header, table, width(args)):
        echo(line)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    found = {d.deployment.cell: d.deployment for d in deploy.status(_out_dir(args))}
    if args.cell not in found:
        msg = f"logs: {unknown_name('deployment', args.cell, found)}"
        raise UsageError(msg)
    for line in deploy.log_lines(found[args.cell], tail=args.tail):
        echo(line)
    if args.follow:
        for line in deploy.follow(found[args.cell]):
            echo(line)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    if not args.cells and not args.all:
        msg = "stop: name the cells to stop, or --all"
        raise UsageError(msg)
    stopped = deploy.stop(_out_dir(args), args.cells, every=args.all)
    echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was deployed")
    return 0


def _out_dir(args: argparse.Namespace) -> Path:
    """out/ of the project, with only the catalog's settings read (no recipe is loaded)."""
    catalog = session.load_catalog(args.root / "conf", args.overrides)
    return Project(root=args.root).out_dir(catalog.settings)


def cmd_base_image(args: argparse.Namespace) -> int:
    catalog = session.load_catalog(args.root / "conf", args.overrides)
    built = container.make_base(Project(root=args.root), catalog, log=log_for(args))
    if is_json(args):
        emit(reports.base_image_doc(built))
        return 0
    echo(f"{built.tag}: {built.image_id} ({', '.join(built.ran) or 'up to date'})")
    return 0


def cmd_export_image(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides)
    written = container.export_images(loaded.out_dir, loaded.resolved(), log=log_for(args))
    if is_json(args):
        emit(reports.export_doc([str(p) for p in written]))
        return 0
    echo(f"export-image: {len(written)} image(s) written")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    project = Project(root=args.root)
    selection, catalog_overrides = session.split_overrides(args.overrides)
    if selection != type(selection)():
        msg = "lint takes catalog overrides only, not recipe=/chip=/... selections"
        raise UsageError(msg)
    catalog = session.load_catalog(project.conf_dir, catalog_overrides)
    paths = lint.expand_paths(args.paths or [project.recipes_dir])
    if is_json(args):
        document, failed = lint.report(paths, catalog, args.root, strict=args.strict)
        emit(document)
        if failed is not None:
            raise failed
        return 0
    for line in lint.lint(paths, catalog, args.root, strict=args.strict):
        echo(line)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    relative = baseline.store_baseline(session.load(args.root, []), args.cell)
    if is_json(args):
        emit(reports.baseline_doc(args.cell, str(relative)))
        return 0
    echo(f"wrote {relative}; use it with validate.accuracy.baseline: {relative}")
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
        log=log_for(args),
    )
    if is_json(args):
        emit(reports.publish_doc(results, dry_run=args.dry_run))
    else:
        counts = reports.totals(r.status for r in results)
        summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no released cell"
        echo(f"publish{' --dry-run' if args.dry_run else ''}: {summary}")
    failed = sorted({f"{r.cell} -> {r.target}" for r in results if r.status == "failed"})
    if failed:
        msg = f"{len(failed)} publish(es) failed: {', '.join(failed)}"
        raise PublishError(msg)
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    loaded = session.load(args.root, args.overrides)
    if is_json(args):
        swept = list(gc.sweep(loaded, dry_run=args.dry_run, keep=args.keep, tools=args.tools))
        emit(reports.gc_doc(swept, dry_run=args.dry_run))
        return 0
    for line in gc.collect(loaded, dry_run=args.dry_run, keep=args.keep, tools=args.tools):
        echo(line)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    # A report: what is missing is said, never an error (exit 0).
    found = host_doctor.doctor(args.root, args.overrides, runtime=args.runtime)
    if args.format == "json":
        emit(found.to_json())
    else:
        echo(doctor_report.text(found, width(args)), end="")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    echo(write_schema(args.root, check=args.check))
    return 0


OVERRIDES_HELP = "Hydra overrides: recipe=NAME chip=A,B engine=E quantization=Q, or catalog values"


def _add_plan(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    plan = sub.add_parser(
        "plan", parents=[common], help="print the cells a release builds (runs nothing)"
    )
    add_format(plan, ("table", "json", "github"))
    add_wide(plan)
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
    _add_runtime(plan)
    plan.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    plan.set_defaults(func=cmd_plan)
    diff_parser = sub.add_parser(
        "diff", parents=[common], help="cells added, removed and changed since a git revision"
    )
    diff_parser.add_argument("--base", required=True, help="git revision to compare with")
    add_format(diff_parser, ("text", "markdown", "json"))
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
            _add_runtime(stage)
        add_format(stage)
        add_verbosity(stage)
        stage.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
        stage.set_defaults(func=cmd_stage)
    assemble = sub.add_parser(
        "assemble",
        parents=[common],
        help="merge per-cell out/ folders (CI artifacts) into out/, release.json and README",
    )
    assemble.add_argument("folders", nargs="+", type=Path, help="folders of <recipe>/<cell-id>/")
    assemble.add_argument("--override", dest="overrides", action="append", default=[])
    add_format(assemble)
    add_verbosity(assemble)
    assemble.set_defaults(func=cmd_assemble)


def _add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="host",
        help="run each engine as a process of this host, or in the cell's own image "
        "(container: docker, the image the release publishes)",
    )


def _add_deploy(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    dep = sub.add_parser(
        "deploy", parents=[common], help="start a released cell and wait until it is healthy"
    )
    dep.add_argument("cell", help="cell id, e.g. tiny-llama.cpu.bf16.transformers")
    dep.add_argument("--devices", help="how many devices (2) or which (0,1); default: the cell's")
    dep.add_argument("--port", type=int, help="the port to serve on (default: a free one)")
    dep.add_argument("--bind", default="127.0.0.1", help="the address to listen on")
    dep.add_argument(
        "--allow-unqualified", action="store_true", help="also deploy a cell that did not pass"
    )
    _add_runtime(dep)
    add_format(dep)
    dep.add_argument(
        "--override", dest="overrides", action="append", default=[], help="catalog override"
    )
    dep.set_defaults(func=cmd_deploy)
    status = sub.add_parser("status", parents=[common], help="list the running deployments")
    status.add_argument("--override", dest="overrides", action="append", default=[])
    add_format(status, ("table", "json"))
    add_wide(status)
    status.set_defaults(func=cmd_status)
    logs = sub.add_parser("logs", parents=[common], help="a deployment's engine output")
    logs.add_argument("cell")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--tail", type=int, default=50, help="lines to show first (default 50)")
    logs.add_argument("--override", dest="overrides", action="append", default=[])
    logs.set_defaults(func=cmd_logs)
    stop = sub.add_parser("stop", parents=[common], help="stop deployments")
    stop.add_argument("cells", nargs="*", help="the cells to stop")
    stop.add_argument("--all", action="store_true", help="stop every deployment")
    stop.add_argument("--override", dest="overrides", action="append", default=[])
    stop.set_defaults(func=cmd_stop)
    base = sub.add_parser(
        "base-image", parents=[common], help="make the cpu chip's base image here (mmdebstrap)"
    )
    base.add_argument("--override", dest="overrides", action="append", default=[])
    add_format(base)
    base.set_defaults(func=cmd_base_image)
    export = sub.add_parser(
        "export-image",
        parents=[common],
        help="save the images cells were validated in to out/images/ (for a publish job)",
    )
    export.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    add_format(export)
    export.set_defaults(func=cmd_export_image)


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
    lint_parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse Hub sources not pinned to a commit (default: warn)",
    )
    add_format(lint_parser)
    lint_parser.set_defaults(func=cmd_lint)
    schema_parser = sub.add_parser(
        "schema", parents=[common], help="write (or --check) the recipe JSON Schema"
    )
    schema_parser.add_argument("--check", action="store_true")
    schema_parser.set_defaults(func=cmd_schema)
    gc_parser = sub.add_parser(
        "gc", parents=[common], help="remove cache entries and variants no current cell uses"
    )
    gc_parser.add_argument("overrides", nargs="*", help="catalog overrides")
    gc_parser.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    gc_parser.add_argument(
        "--keep", type=int, default=0, metavar="N", help="keep the N newest unused of each kind"
    )
    gc_parser.add_argument(
        "--tools",
        action="store_true",
        help="also remove quantizer tool environments this project's cells do not use "
        "(they are shared by all your projects)",
    )
    add_format(gc_parser)
    gc_parser.set_defaults(func=cmd_gc)


def _add_doctor(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    doc = sub.add_parser(
        "doctor",
        parents=[common],
        help="what this host has (chips, engines, tools) and why cells would await a runner",
    )
    add_format(doc, ("table", "json"))
    add_wide(doc)
    _add_runtime(doc)
    doc.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    doc.set_defaults(func=cmd_doctor)


def _add_publishing(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    baseline_parser = sub.add_parser(
        "baseline",
        parents=[common],
        help="store a passed cell's accuracy results under baselines/ (a stored reference)",
    )
    baseline_parser.add_argument("cell", help="cell id, e.g. qwen3-8b.nvidia.bf16.vllm")
    add_format(baseline_parser)
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
    add_format(publish_parser)
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
    for add in (_add_plan, _add_stages, _add_deploy, _add_checks, _add_publishing, _add_doctor):
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
        echo(f"error: {exc}", err=True)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            annotate(exc, args.root, err=is_json(args))
        return exc.return_code
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader left (`builder render | head`): no traceback, and none at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
