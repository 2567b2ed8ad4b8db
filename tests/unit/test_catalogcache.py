"""The composed-catalog cache: reused while conf/ is unchanged, never stale, never for
interpolations, a damaged entry is made again, and nothing in it can run code: entries are
JSON checked against their inputs, never pickles."""

from __future__ import annotations

import json
import pickle
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
    return sorted((conf.parent / "cache" / "llm-release-builder" / "catalog").glob("*.json"))


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
    entry.write_bytes(b"not json")
    assert load_catalog(conf) == first
    assert entry.read_bytes() != b"not json"


class Planted:
    """Runs code when unpickled (what another process of the same user could plant)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['RAN']).touch()",))


def test_a_planted_pickle_is_never_loaded(
    conf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = tmp_path / "ran"
    monkeypatch.setenv("RAN", str(ran))
    load_catalog(conf)
    folder = conf.parent / "cache" / "llm-release-builder" / "catalog"
    payload = pickle.dumps(Planted())
    # Over every entry there is, whatever its name, and at the name a pickle cache used.
    (entry,) = folder.iterdir()
    for path in [entry, entry.with_suffix(".pickle"), entry.with_suffix(".json")]:
        path.write_bytes(payload)
    load_catalog(conf)
    assert not ran.exists()
    assert json.loads(entry.with_suffix(".json").read_text())["format"] == 1


def test_an_entry_for_other_inputs_or_of_other_types_is_not_used(conf: Path) -> None:
    first = load_catalog(conf)
    (entry,) = entries(conf)
    stored = json.loads(entry.read_text())
    # Recorded inputs that differ from the files on disk: made again.
    stale = json.loads(entry.read_text())
    stale["inputs"]["overrides"] = ["chip.cpu.sdk=x"]
    stale["catalog"]["chips"]["cpu"]["sdk"] = "planted"
    entry.write_text(json.dumps(stale))
    assert load_catalog(conf) == first
    # The right inputs, a value of the wrong type: made again, never used as it is.
    wrong = json.loads(entry.read_text())
    wrong["catalog"]["engines"][next(iter(wrong["catalog"]["engines"]))]["port"] = "8000"
    entry.write_text(json.dumps(wrong))
    assert load_catalog(conf) == first
    # An unknown field (or a missing one) is not a catalog either.
    extra = json.loads(entry.read_text())
    extra["catalog"]["settings"]["__class__"] = "os.system"
    entry.write_text(json.dumps(extra))
    assert load_catalog(conf) == first
    assert json.loads(entry.read_text()) == stored


def test_the_builder_reads_no_pickle_anywhere() -> None:
    """No module of the builder imports pickle (or its relatives) to read anything back."""
    import builder

    package = Path(builder.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text()
        for name in ("import pickle", "import marshal", "import shelve", "import dill"):
            assert name not in text, f"{path}: {name}"
