"""Hypothesis profiles: "ci" bounds the examples `nox -s tests` runs; "fuzz" is the long run
of `nox -s fuzz`. Pick one with BUILDER_HYPOTHESIS_PROFILE (default: ci)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("fuzz", max_examples=5000, **_COMMON)
settings.load_profile(os.environ.get("BUILDER_HYPOTHESIS_PROFILE", "ci"))
