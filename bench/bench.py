"""`nox -s bench`: plan and render time for large synthetic matrices, a no-op release, and
Hydra's own multirun (one job per cell) for comparison. Figures are printed, not asserted.

Every measurement runs in a fresh child process, so peak memory (ru_maxrss) is its own and
imports are paid the way a `builder` command pays them. Targets on a 2-core machine:
10,000 cells planned < 2 s, rendered < 10 s; a no-op release < 1 s. A missed target is
profiled with pyinstrument and the top of the profile is printed.
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

TARGETS = {"plan_s": 2.0, "render_s": 10.0, "noop_s": 1.0}
NAIVE_SAMPLE = 20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- child: sizes


def plan_render(models: int, profile: str | None) -> dict[str, Any]:
    """Compose, load, expand, key and render ``models * 200`` cells, in one process."""
    from synth import synth_project

    from builder.core.matrix import Selection, expand
    from builder.core.recipes import load_recipes, recipe_files
    from builder.core.render import render_cell
    from builder.session import load_catalog

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    root = synth_project(tmp / "project", models)
    baseline = _maxrss_mb()
    profiler = _profiler(profile)
    c0 = time.process_time()
    t0 = time.perf_counter()
    if profile == "plan":
        profiler.start()
    # The plan figure composes with Hydra (no composed-catalog cache); the warm figure below
    # is what a later command pays once the catalog is cached.
    os.environ["BUILDER_CATALOG_CACHE"] = "0"
    catalog = load_catalog(root / "conf")
    t1 = time.perf_counter()
    recipes = load_recipes(recipe_files(root / "recipes"), catalog, root)
    t2 = time.perf_counter()
    plan = expand(recipes, catalog, Selection())
    t3 = time.perf_counter()
    c3 = time.process_time()
    if profile == "plan":
        profiler.stop()
    by_name = {r.name: r for r in plan.recipes}
    from builder.core.keys import resolve_cells
    from builder.effects.build_cache import input_digests

    keys = resolve_cells(plan, catalog, input_digests(root, root / "templates", catalog))
    t4 = time.perf_counter()
    c4 = time.process_time()
    if profile == "render":
        profiler.start()
    for cell in plan.cells:
        render_cell(root / "templates", cell, by_name[cell.recipe], catalog, None)
    t5 = time.perf_counter()
    c5 = time.process_time()
    if profile == "render":
        profiler.stop()
    os.environ["BUILDER_CATALOG_CACHE"] = "1"
    os.environ["XDG_CACHE_HOME"] = str(tmp / "xdg")
    load_catalog(root / "conf")
    w0 = time.perf_counter()
    load_catalog(root / "conf")
    warm_catalog_s = time.perf_counter() - w0
    shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "cells": len(plan.cells),
        "excluded": len(plan.excluded),
        "compose_s": t1 - t0,
        "load_s": t2 - t1,
        "expand_s": t3 - t2,
        "plan_s": t3 - t0,
        "keys_s": t4 - t3,
        "render_s": t5 - t4,
        "plan_cpu_s": c3 - c0,
        "warm_catalog_s": warm_catalog_s,
        "render_cpu_s": c5 - c4,
        "render_ms_per_cell": (t5 - t4) / max(len(plan.cells), 1) * 1000,
        "plan_ms_per_cell": (t3 - t0) / max(len(plan.cells), 1) * 1000,
        "keys_count": len(keys),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _maxrss_mb(),
    }
    if profile:
        result["profile"] = profiler.output_text(color=False)[:6000]
    return result


def _profiler(profile: str | None) -> Any:
    if not profile:
        return None
    from pyinstrument import Profiler

    return Profiler(interval=0.002)


# ------------------------------------------------------------------- child: render to disk


def render_disk(models: int) -> dict[str, Any]:
    """`builder render` of ``models * 200`` cells into out/ (atomic, fsynced writes and the
    build cache), then the same again with everything cached."""
    from synth import synth_project

    from builder.cli import load
    from builder.run import pipeline

    tmp = Path(tempfile.mkdtemp(prefix="bench-disk-"))
    root = synth_project(tmp / "project", models)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    loaded = load(root, [])
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        pipeline.run(
            loaded.project,
            loaded.catalog,
            loaded.plan,
            loaded.full_plan,
            stage="render",
            log=lambda _: None,
        )
        times.append(time.perf_counter() - t0)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"cells": len(loaded.plan.cells), "first_s": times[0], "cached_s": times[1]}


# --------------------------------------------------------------------- child: no-op release


def noop_release(profile: bool) -> dict[str, Any]:
    """A release of the shipped recipes after one that built everything: nothing to do."""
    from builder.cli import load
    from builder.run import pipeline

    tmp = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    root = tmp / "project"
    for name in ("conf", "templates", "recipes"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "README.md", root / "README.md")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b"]):
        if args[0] == "-c":
            args = [*args, "commit", "-qm", "bench"]
        subprocess.run(["git", "-C", str(root), *args], check=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    builder = [sys.executable, "-m", "builder", "release", "--root", str(root)]
    t0 = time.perf_counter()
    first = subprocess.run(builder, capture_output=True, text=True, env=env, check=False)
    first_s = time.perf_counter() - t0
    if first.returncode != 0:
        return {"error": first.stdout[-2000:] + first.stderr[-2000:]}
    profiler = _profiler("noop" if profile else None)
    if profiler:
        profiler.start()
    t1 = time.perf_counter()
    loaded = load(root, [])
    t2 = time.perf_counter()
    outcomes = pipeline.run(
        loaded.project,
        loaded.catalog,
        loaded.plan,
        loaded.full_plan,
        stage="release",
        log=lambda _: None,
    )
    t3 = time.perf_counter()
    if profiler:
        profiler.stop()
    t4 = time.perf_counter()
    again = subprocess.run(builder, capture_output=True, text=True, env=env, check=False)
    process_s = time.perf_counter() - t4
    result = {
        "cells": len(outcomes),
        "cached": sum(o.reused.startswith("cached since") for o in outcomes),
        "first_release_s": first_s,
        "load_s": t2 - t1,
        "run_s": t3 - t2,
        "noop_s": t3 - t1,
        "noop_process_s": process_s,
        "process_rc": again.returncode,
    }
    if profiler:
        result["profile"] = profiler.output_text(color=False)[:6000]
    shutil.rmtree(tmp, ignore_errors=True)
    return result


# ----------------------------------------------------------------------- child: naive hydra


def naive_hydra(cells: int) -> dict[str, Any]:
    """Hydra's BasicLauncher running ``cells`` jobs of one cell each (sequential)."""
    from synth import synth_project

    tmp = Path(tempfile.mkdtemp(prefix="bench-hydra-"))
    from builder.core.catalog import GROUPS, entry_files

    root = synth_project(tmp / "project", 1)
    # The entries Hydra composes for every job: one defaults-list addition per conf/ file.
    entries = [
        f"+{group}@{group}.{path.stem}={path.stem}"
        for group in GROUPS
        for path in entry_files(root / "conf", group)
    ]
    argv = [
        sys.executable,
        str(HERE / "naive_hydra.py"),
        "--config-dir",
        str(root / "conf"),
        "--multirun",
        *entries,
        f"+root={root}",
        f"+cell=range(0,{cells})",
        f"hydra.sweep.dir={tmp / 'sweep'}",
    ]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return {"cells": cells, "wall_s": wall, "per_cell_s": wall / cells}


# -------------------------------------------------------------------------------- parent


def child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr[-3000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report() -> int:
    print(
        "Benchmark (each figure from a fresh process; machine: "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]})\n"
    )
    sizes = {1000: 5, 10000: 50}
    results = {}
    for cells, models in sizes.items():
        r = child("plan-render", "--models", str(models))
        results[cells] = r
        if "error" in r:
            print(f"{cells} cells: FAILED\n{r['error']}")
            continue
        print(
            f"{r['cells']:>6} cells ({r['excluded']} excluded)\n"
            f"    plan   {r['plan_s']:.2f}s wall, {r['plan_cpu_s']:.2f}s cpu "
            f"(compose {r['compose_s']:.2f}, load recipes {r['load_s']:.2f}, "
            f"expand {r['expand_s']:.2f}; {r['plan_ms_per_cell']:.3f} ms/cell); "
            f"catalog from the cache instead of composing: {r['warm_catalog_s']:.3f}s, "
            f"so a later plan takes {r['warm_catalog_s'] + r['load_s'] + r['expand_s']:.2f}s\n"
            f"    keys   {r['keys_s']:.2f}s (content keys of every cell)\n"
            f"    render {r['render_s']:.2f}s wall, {r['render_cpu_s']:.2f}s cpu "
            f"({r['render_ms_per_cell']:.3f} ms/cell, in memory)\n"
            f"    peak RSS {r['peak_rss_mb']:.0f} MiB (after imports {r['baseline_rss_mb']:.0f} MiB)"
        )
    disk = child("render-disk", "--models", "5")
    if "error" in disk:
        print(f"render to disk: FAILED\n{disk['error']}")
    else:
        print(
            f"\n`render` stage to disk, {disk['cells']} cells: {disk['first_s']:.1f}s "
            f"(each cell folder swapped in atomically with every file fsynced, plus the build cache), "
            f"{disk['cached_s']:.2f}s again with everything cached"
        )
    noop = child("noop")
    if "error" in noop:
        print(f"no-op release: FAILED\n{noop['error']}")
    else:
        print(
            f"\nno-op release of the shipped recipes ({noop['cached']}/{noop['cells']} cells "
            f"cached; first release {noop['first_release_s']:.1f}s): {noop['noop_s']:.2f}s in "
            f"process (load {noop['load_s']:.2f}s, run {noop['run_s']:.3f}s); "
            f"`builder release` process {noop['noop_process_s']:.2f}s (exit {noop['process_rc']})"
        )
    naive = child("naive", "--cells", str(NAIVE_SAMPLE))
    big = results.get(10000, {})
    if "error" in naive:
        print(f"naive Hydra multirun: FAILED\n{naive['error']}")
    elif "render_s" in big:
        ours = (big["plan_s"] + big["render_s"]) / big["cells"]
        print(
            f"\nHydra multirun, one job per cell (BasicLauncher, {naive['cells']} jobs measured): "
            f"{naive['wall_s']:.1f}s, {naive['per_cell_s']:.2f} s/cell; extrapolated to "
            f"10,000 cells: {naive['per_cell_s'] * 10000 / 3600:.1f} h, vs "
            f"{big['plan_s'] + big['render_s']:.1f}s planned+rendered in one process: "
            f"{naive['per_cell_s'] / ours:.0f}x per cell"
        )
    missed = _missed(big, noop)
    if missed:
        print(f"\nMissed: {', '.join(missed)}; profiling")
        for phase in missed:
            r = (
                child("noop", "--profile")
                if phase == "noop_s"
                else child("plan-render", "--models", "50", "--profile", phase.removesuffix("_s"))
            )
            print(f"\n--- pyinstrument: {phase} ---\n{r.get('profile', r.get('error'))}")
    else:
        print("\nAll targets met: 10,000 cells planned < 2 s, rendered < 10 s; no-op release < 1 s")
    return 0


def _missed(big: dict[str, Any], noop: dict[str, Any]) -> list[str]:
    missed = [k for k in ("plan_s", "render_s") if k in big and big[k] >= TARGETS[k]]
    if "noop_s" in noop and noop["noop_s"] >= TARGETS["noop_s"]:
        missed.append("noop_s")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what")
    pr = sub.add_parser("plan-render")
    pr.add_argument("--models", type=int, required=True)
    pr.add_argument("--profile", choices=["plan", "render"])
    nr = sub.add_parser("noop")
    nr.add_argument("--profile", action="store_true")
    rd = sub.add_parser("render-disk")
    rd.add_argument("--models", type=int, required=True)
    nh = sub.add_parser("naive")
    nh.add_argument("--cells", type=int, required=True)
    args = parser.parse_args()
    if args.what is None:
        return report()
    if args.what == "plan-render":
        result = plan_render(args.models, args.profile)
    elif args.what == "render-disk":
        result = render_disk(args.models)
    elif args.what == "noop":
        result = noop_release(args.profile)
    else:
        result = naive_hydra(args.cells)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
