"""``builder publish``: plan every cell on every target, then (unless a dry run) carry it out.

Per cell: only cells of the last release are published, a cell that did not pass its gates
only with ``allow_unqualified``, and its card is checked before any upload. Per target: the
plan compares the cell's files with what the target holds; publishing a cell that fails
(after the retries in each publisher) is reported and the others go on. What landed is
recorded in out/release.json (``published``) and linked from the README table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from builder.core import report
from builder.core.card import card_problems
from builder.core.catalog_model import Catalog
from builder.core.cells import Cell, Plan
from builder.core.log import Log
from builder.core.plain import dumps
from builder.core.project import Project
from builder.core.uploads import UploadPlan, content_id, describe, diff
from builder.effects import fs
from builder.effects.models import materialize
from builder.effects.publishers import REGISTRY as PUBLISHERS
from builder.effects.publishers import Context, Publisher
from builder.errors import BuilderError, OutputError, UsageError, unknown_name

Status = Literal["published", "unchanged", "planned", "skipped", "failed"]
DEFAULT_TARGETS = ("local",)


@dataclass(frozen=True, kw_only=True)
class Result:
    """What happened to one cell on one target."""

    cell: str
    target: str
    status: Status
    detail: str = ""
    plan: UploadPlan | None = None
    uploaded_bytes: int = 0
    # The target's id of what landed: a git commit (hubs), the manifest digest (images).
    commit: str = ""


def publish(
    project: Project,
    catalog: Catalog,
    plan: Plan,
    *,
    targets: Sequence[str],
    dry_run: bool,
    allow_unqualified: bool,
    log: Log,
) -> list[Result]:
    """Publish (or with ``dry_run`` only plan) every cell of ``plan`` on ``targets``."""
    for name in targets:
        if name not in catalog.publish:
            msg = f"--target {name}: {unknown_name('target', name, catalog.publish)}"
            raise UsageError(msg)
    out_dir = project.out_dir(catalog.settings)
    index_path = out_dir / "release.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        msg = f"{index_path}: no release to publish; run `builder release` first"
        raise OutputError(msg) from None
    if dry_run:
        return _all_cells(project, catalog, plan, index, targets, True, allow_unqualified, log)
    with fs.exclusive_lock(out_dir):
        fs.recover(out_dir)
        results = _all_cells(project, catalog, plan, index, targets, False, allow_unqualified, log)
        record(project, catalog, index_path, index, results)
    return results


def _all_cells(
    project: Project,
    catalog: Catalog,
    plan: Plan,
    index: dict[str, Any],
    targets: Sequence[str],
    dry_run: bool,
    allow_unqualified: bool,
    log: Log,
) -> list[Result]:
    out_dir = project.out_dir(catalog.settings)
    entries = {e["id"]: e for e in index.get("cells", [])}
    ctx = Context(
        out_dir=out_dir, settings=catalog.settings, log=log, allow_unqualified=allow_unqualified
    )
    publishers: dict[str, Publisher | BuilderError] = {}
    results: list[Result] = []
    for cell in plan.cells:
        entry = entries.get(cell.id)
        if entry is None or not (out_dir / entry["path"]).is_dir():
            continue
        results.extend(
            _one_cell(
                cell, entry, out_dir, catalog, targets, publishers, ctx, dry_run, allow_unqualified
            )
        )
    return results


def _publisher(
    name: str, catalog: Catalog, publishers: dict[str, Publisher | BuilderError], ctx: Context
) -> Publisher:
    if name not in publishers:
        conf = catalog.publish[name]
        try:
            publishers[name] = PUBLISHERS.get(conf.kind).connect(conf, ctx)
        except BuilderError as exc:
            publishers[name] = exc
    found = publishers[name]
    if isinstance(found, BuilderError):
        raise found
    return found


def _one_cell(
    cell: Cell,
    entry: dict[str, Any],
    out_dir: Path,
    catalog: Catalog,
    targets: Sequence[str],
    publishers: dict[str, Publisher | BuilderError],
    ctx: Context,
    dry_run: bool,
    allow_unqualified: bool,
) -> list[Result]:
    cell_dir = out_dir / entry["path"]
    qualified = entry.get("status") == "passed"
    if not qualified and not allow_unqualified:
        why = f"status {entry.get('status')!r}, not passed (use --allow-unqualified)"
        ctx.log(f"{cell.id}: skipped: {why}")
        return [Result(cell=cell.id, target=t, status="skipped", detail=why) for t in targets]
    problems = card_problems((cell_dir / "README.md").read_text(encoding="utf-8"))
    card_error = "model card: " + "; ".join(problems) if problems else ""
    source = _Source(cell=cell, cell_dir=cell_dir, qualified=qualified, out_dir=out_dir)
    results = []
    for target in targets:
        # The card goes to the model hubs (not to an image registry): checked before any upload.
        if card_error and PUBLISHERS.get(catalog.publish[target].kind).SENDS_CARD:
            ctx.log(f"{cell.id}: not published to {target}: {card_error}")
            results.append(Result(cell=cell.id, target=target, status="failed", detail=card_error))
            continue
        try:
            publisher = _publisher(target, catalog, publishers, ctx)
            results.append(_send(source, target, catalog, publisher, ctx, dry_run))
        except Exception as exc:  # noqa: BLE001 -- SDKs raise many types; one cell's failure must not stop the others
            ctx.log(f"{cell.id} -> {target}: FAILED: {_one_line(exc)}")
            results.append(
                Result(cell=cell.id, target=target, status="failed", detail=_one_line(exc))
            )
    return results


@dataclass(kw_only=True)
class _Source:
    """A released cell's folder, and the weights it was validated with (found once)."""

    cell: Cell
    cell_dir: Path
    qualified: bool
    out_dir: Path
    _weights: Path | None = None

    def weights(self) -> Path:
        if self._weights is None:
            self._weights = _validated_weights(self.cell_dir, self.out_dir)
        return self._weights


def _send(
    source: _Source,
    target: str,
    catalog: Catalog,
    publisher: Publisher,
    ctx: Context,
    dry_run: bool,
) -> Result:
    """Plan one cell on one target and, unless a dry run, carry the plan out."""
    cell = source.cell
    files = publisher.files(cell, source.cell_dir, source.weights)
    names = publisher.names(cell, content_id(files))
    ops, extra = diff(files, publisher.remote(names))
    plan = UploadPlan(
        cell=cell.id,
        target=target,
        kind=catalog.publish[target].kind,
        repo=names.repo,
        revision=names.revision,
        staging=names.staging,
        tag=names.tag,
        qualified=source.qualified,
        ops=ops,
        extra=extra,
    )
    if dry_run:
        ctx.log(describe(plan).rstrip("\n"))
        return Result(cell=cell.id, target=target, status="planned", plan=plan)
    ctx.log(f"{cell.id} -> {target}: {len(plan.uploads)} of {len(plan.ops)} file(s) to send")
    done = publisher.publish(plan)
    status: Status = "published" if plan.uploads else "unchanged"
    ctx.log(f"{cell.id} -> {target}: {status}: {done.url} ({done.uploaded_bytes} bytes sent)")
    return Result(
        cell=cell.id,
        target=target,
        status=status,
        detail=done.url,
        plan=plan,
        uploaded_bytes=done.uploaded_bytes,
        commit=done.commit,
    )


def _validated_weights(cell_dir: Path, out_dir: Path) -> Path:
    """The folder of exactly the weights the cell was validated with: a variant the builder
    made (checked file by file against the manifest's hashes), or the downloaded source."""
    manifest = json.loads((cell_dir / "manifest.json").read_text(encoding="utf-8"))
    variant = manifest["config"].get("variant") or {}
    weights = manifest.get("weights") or {}
    if variant.get("method") not in ("quantize", "merge-adapter"):
        source = variant.get("source") or manifest["config"]["model"]["source"]
        return materialize(str(source), out_dir / ".cache" / "models")
    key = str(weights.get("key", ""))
    folder = out_dir / ".cache" / "variants" / key / "weights"
    for name, meta in (weights.get("files") or {}).items():
        path = folder / name
        if not path.is_file() or fs.sha256_file(path) != meta["sha256"]:
            msg = (
                f"{cell_dir}: {name}, validated as {key[:12]}, is missing or changed under "
                f"{folder.parent}; run the release again to make and validate it"
            )
            raise OutputError(msg)
    return folder


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def record(
    project: Project,
    catalog: Catalog,
    index_path: Path,
    index: dict[str, Any],
    results: Sequence[Result],
) -> None:
    """Add what landed to out/release.json (``published``: target -> where) and the README."""
    landed: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.status in ("published", "unchanged") and r.plan is not None:
            landed.setdefault(r.cell, {})[r.target] = {
                "kind": r.plan.kind,
                "repo": r.plan.repo,
                "revision": r.plan.tag or r.plan.revision,
                "url": r.detail,
                "commit": r.commit,
                "qualified": r.plan.qualified,
            }
    if not landed:
        return
    for entry in index.get("cells", []):
        if entry["id"] in landed:
            entry["published"] = {**entry.get("published", {}), **landed[entry["id"]]}
    fs.write_atomic(index_path, dumps(index).encode())
    readme = project.readme(catalog.settings)
    try:
        text = readme.read_text(encoding="utf-8")
        updated = report.replace_between_markers(
            text, report.release_table(index["cells"]), file=str(readme)
        )
    except (OSError, ValueError) as exc:
        raise OutputError(str(exc)) from None
    if updated != text:
        fs.write_atomic(readme, updated.encode())
