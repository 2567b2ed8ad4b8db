"""hadolint findings against the chip catalog's waivers: pure (the run is in effects)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

RULE = re.compile(r"(?:DL|SC)\d{4}")


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One hadolint finding on a rendered Dockerfile."""

    code: str
    level: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"Dockerfile:{self.line}: {self.code} ({self.level}) {self.message}"


def unwaived(findings: Iterable[Finding], waivers: Mapping[str, str]) -> list[Finding]:
    """The findings no waiver covers (a waiver is a rule id with a non-empty reason)."""
    return [f for f in findings if not waivers.get(f.code, "").strip()]


def waiver_problems(waivers: Mapping[str, str]) -> list[str]:
    """Waivers that are not a hadolint rule id with a reason."""
    problems = []
    for code, reason in sorted(waivers.items()):
        if not RULE.fullmatch(code):
            problems.append(f"hadolint_waivers: {code!r} is not a hadolint rule (DL1234, SC1234)")
        elif not str(reason).strip():
            problems.append(f"hadolint_waivers: {code}: give the reason for the waiver")
    return problems
