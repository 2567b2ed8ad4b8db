"""A source pinned to a branch is resolved to its commit at plan time through the Hub (the
fake hub here): moving ``main`` changes the cell's validation key, ``plan --explain`` names
``model_source`` as the reason, and the card records the commit. Offline, nothing is
resolved and keys stay as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.core.catalog_model import Catalog
from builder.core.keys import InputDigests, decide, resolve_cells
from builder.core.matrix import Selection, expand
from builder.core.plain import digest
from builder.core.recipes import parse_recipe
from builder.core.render import render_cell
from builder.effects import revisions
from tests.conftest import ROOT
from tests.fakehub.server import FakeHub
from tests.unit.test_untrusted_recipes import ONE_CELL

SOURCE = "huggingface://Org/Tiny@main"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    fake = FakeHub(tmp_path / "hub", "hf", "hf_token").start()
    fake.create_repo("Org/Tiny", private=False, main="main")
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # The Hub client reads HF_HUB_OFFLINE once, when first imported: in a test session
    # (HF_HUB_OFFLINE=1) an earlier test may have imported it already.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield fake
    fake.stop()


def push(hub: FakeHub, message: str) -> str:
    """A new commit on main (what an upstream push does)."""
    repo = hub.repos["Org/Tiny"]
    files = dict(repo.commits[repo.branches["main"]])
    files[f"{message}.txt"] = hub._store_inline(message.encode())
    repo.branches["main"] = hub._new_commit(repo, repo.branches["main"], files, message)
    return repo.branches["main"]


def cell_of(catalog: Catalog, commits: dict[str, str]):  # type: ignore[no-untyped-def]
    text = ONE_CELL.replace("generate://tiny-llama", SOURCE)
    loaded = parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)
    plan = expand([loaded], catalog, Selection())
    digests = InputDigests(templates="t", revisions=commits)
    (resolved,) = resolve_cells(plan, catalog, digests).values()
    return resolved


def test_moving_main_changes_the_validation_key_and_names_the_source(
    hub: FakeHub, mini_catalog: Catalog
) -> None:
    first = revisions.resolve([SOURCE])
    assert first == {SOURCE: hub.repos["Org/Tiny"].branches["main"]}
    before = cell_of(mini_catalog, first)
    assert revisions.resolve([SOURCE]) == first  # unchanged upstream: the same key
    moved = push(hub, "upstream-change")
    second = revisions.resolve([SOURCE])
    assert second == {SOURCE: moved}
    after = cell_of(mini_catalog, second)
    assert after.keys.validation_key != before.keys.validation_key
    record = {"parts": dict(before.keys.parts), "status": "passed", "created_at": "then"}
    decision = decide(after.keys, record)
    assert (decision.action, decision.why) == ("build", "changed model_source")


def test_the_card_records_the_commit(hub: FakeHub, mini_catalog: Catalog) -> None:
    commits = revisions.resolve([SOURCE])
    resolved = cell_of(mini_catalog, commits)
    card = render_cell(
        ROOT / "templates", resolved.cell, resolved.recipe, mini_catalog, revisions=commits
    )["README.md"]
    assert f"(commit `{commits[SOURCE]}` at build time)" in card


def test_offline_or_unknown_sources_are_left_as_text(
    hub: FakeHub, mini_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert revisions.resolve(["huggingface://Org/Missing@main"]) == {}
    assert revisions.resolve([f"huggingface://Org/Tiny@{'a' * 40}"]) == {}  # already a commit
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert revisions.resolve([SOURCE]) == {}
    # Unresolved, a source is keyed by its text as before this feature: no cache is lost.
    assert cell_of(mini_catalog, {}).keys.parts["model_source"] == digest(SOURCE)
