"""``builder doctor``: probe this host for the chips, engines and tools the catalog names,
and say why each planned cell would await a runner here (validation's own rule,
:func:`builder.run.validate.awaiting`). The report itself is :mod:`builder.core.doctor`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from builder import session
from builder.core.catalog_model import Catalog, ChipConf, EngineConf, QuantizerConf
from builder.core.deploy import Runtime
from builder.core.doctor import CellHere, Probe, Report, report
from builder.core.keys import ResolvedCell
from builder.effects import host, proc, tools
from builder.errors import RecipeError
from builder.run.container import PROBE, distribution
from builder.run.validate import awaiting

# The console tools the builder runs itself, and how each says its version.
TOOLS = {
    "hadolint": ["--version"],
    "docker": ["--version"],
    "mmdebstrap": ["--version"],
    "git": ["--version"],
}
TIMEOUT_S = 30.0
NOWHERE = "is not beside the builder's Python or on PATH"


def doctor(root: Path, overrides: Sequence[str], runtime: Runtime = "host") -> Report:
    """What this host has, and each planned cell's fate here; a recipe that cannot be
    planned leaves the cells out, saying why, and the host's part is still reported."""
    try:
        loaded = session.load(root, overrides, runtime=runtime)
    except RecipeError as exc:
        _, catalog_overrides = session.split_overrides(overrides)
        catalog = session.load_catalog(root / "conf", catalog_overrides)
        cells: list[CellHere] = []
        plan_error = str(exc)
    else:
        catalog, plan_error = loaded.catalog, ""
        cells = [_here(catalog, resolved, runtime) for resolved in loaded.resolved()]
    return report(
        host=host.describe(),
        python=sys.executable,
        runtime=runtime,
        probes=probes(catalog),
        cells=cells,
        plan_error=plan_error,
    )


def _here(catalog: Catalog, resolved: ResolvedCell, runtime: Runtime) -> CellHere:
    waiting = awaiting(catalog, resolved, runtime)
    return CellHere(cell=resolved.cell.id, awaiting=waiting.reason if waiting else "")


def probes(catalog: Catalog) -> list[Probe]:
    found = [chip(c) for c in catalog.chips.values()]
    found += [engine(e) for e in catalog.engines.values()]
    found += [tool(name, args) for name, args in TOOLS.items()]
    found += [dockerd(), lm_eval()]
    found += [quantizer(q) for q in catalog.quantizers.values()]
    return found


def chip(conf: ChipConf) -> Probe:
    """Present as validation sees it (:func:`builder.effects.host.chip_present`)."""
    if not conf.smi_command:
        return Probe(kind="chip", name=conf.name, where="", note=host.hardware(conf))
    program = conf.smi_command.split()[0]
    where = tools.find(program)
    if where is None:
        return Probe(kind="chip", name=conf.name, where=None, note=f"{program} {NOWHERE}")
    failed = "" if host.chip_present(conf) else f"{program} failed: no usable {conf.vendor_en} chip"
    return Probe(kind="chip", name=conf.name, where=where, failed=failed)


def engine(conf: EngineConf) -> Probe:
    """Its serve program found, and its package's version as the Python that program runs
    with reports it (as validation in an image probes it, :mod:`builder.run.container`)."""
    program, package = conf.serve[0], distribution(conf.package)
    where = tools.find(program)
    if where is None:
        note = f"{program!r} {NOWHERE}: pip install '{conf.package}'"
        return Probe(kind="engine", name=conf.name, where=None, note=note)
    python = tools.python_of(where)
    done = proc.run([python, "-c", PROBE, package], timeout=TIMEOUT_S)
    failed = "" if done.returncode == 0 else f"{python} has no {package} package"
    return Probe(
        kind="engine",
        name=conf.name,
        where=where,
        output=done.stdout,
        failed=failed,
        expected=conf.version,
    )


def tool(name: str, version_args: Sequence[str]) -> Probe:
    where = tools.find(name)
    if where is None:
        return Probe(kind="tool", name=name, where=None, note=f"{name} {NOWHERE}")
    done = proc.run([where, *version_args], timeout=TIMEOUT_S)
    failed = "" if done.returncode == 0 else f"{name} {' '.join(version_args)} failed"
    return Probe(
        kind="tool", name=name, where=where, output=done.stdout or done.stderr, failed=failed
    )


def dockerd() -> Probe:
    """The daemon DOCKER_HOST names, reachable through the docker command."""
    daemon = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    docker = tools.find("docker")
    if docker is None:
        return Probe(kind="tool", name="dockerd", where=None, note="no docker command to ask")
    done = proc.run([docker, "version", "--format", "{{.Server.Version}}"], timeout=TIMEOUT_S)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        return Probe(kind="tool", name="dockerd", where=None, note=f"{daemon}: {last}")
    return Probe(kind="tool", name="dockerd", where=daemon, output=done.stdout)


def lm_eval() -> Probe:
    """lm-eval runs as ``python -m lm_eval`` with the builder's own Python."""
    version = tools.installed_version("lm_eval")
    if version is None:
        note = "not installed for the builder's Python: pip install lm-eval"
        return Probe(kind="tool", name="lm-eval", where=None, note=note)
    return Probe(kind="tool", name="lm-eval", where=f"{sys.executable} -m lm_eval", output=version)


def quantizer(conf: QuantizerConf) -> Probe:
    """Its pinned package in the builder's Python, and what it fetches or makes on first use."""
    package = distribution(conf.package)
    version = tools.installed_version(package)
    if conf.requirements:
        note = "runs in its own environment, made by pip on first use"
    elif conf.sha256:
        note = "fetches its pinned source archive on first use"
    else:
        note = ""
    if version is None:
        note = "; ".join(filter(None, [f"{package} is not installed", note]))
        return Probe(kind="quantizer", name=conf.name, where=None, note=note)
    return Probe(
        kind="quantizer",
        name=conf.name,
        where=sys.executable,
        output=version,
        expected=conf.version,
        note=note,
    )
