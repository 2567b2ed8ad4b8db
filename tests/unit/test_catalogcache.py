"""The composed-catalog cache: reused while conf/ is unchanged, never stale, never for
interpolations, and a damaged entry is made again."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import ConfigError
from builder.session import load_catalog
from tests.support.project import new_project


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BUILDER_CATALOG_CACHE", raising=False)
    return new_project(tmp_path, readme=None, tasks=False) / "conf"


def entries(conf: Path) -> list[Path]:
    return sorted((conf.parent / "cache" / "llm-release-builder" / "catalog").glob("*.pickle"))


def test_an_unchanged_conf_is_read_from_the_cache(conf: Path) -> None:
    first = load_catalog(conf)
    assert len(entries(conf)) == 1
    assert load_catalog(conf) == first
    assert len(entries(conf)) == 1


def test_an_edit_or_an_override_makes_a_new_entry(conf: Path) -> None:
    load_catalog(conf)
    path = conf / "chip" / "cpu.yaml"
    path.write_text(path.read_text().replace('sdk: ""', 'sdk: "edited"'))
    assert load_catalog(conf).chips["cpu"].sdk == "edited"
    override = load_catalog(conf, ["chip.cpu.sdk=from-the-command-line"])
    assert override.chips["cpu"].sdk == "from-the-command-line"
    assert len(entries(conf)) == 3


def test_interpolations_are_refused_and_never_cached(conf: Path) -> None:
    # Interpolations could read the environment (SECURITY.md): refused before any caching.
    with pytest.raises(ConfigError, match="interpolations and resolvers"):
        load_catalog(conf, ["chip.cpu.sdk=${oc.env:BENCH_SDK}"])
    assert entries(conf) == []


def test_a_damaged_entry_is_made_again(conf: Path) -> None:
    first = load_catalog(conf)
    (entry,) = entries(conf)
    entry.write_bytes(b"not a pickle")
    assert load_catalog(conf) == first
    assert entry.read_bytes() != b"not a pickle"
