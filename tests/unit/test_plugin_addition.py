"""Adding a chip is one file; an engine, a YAML file and a module; a suite, the same: the
plan has the new cell, and the new plugins pass their kinds' conformance tests.
(tests/integration/test_plugin_addition.py validates the cell for real.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.cli import main
from builder.session import load_catalog
from tests.support import contracts
from tests.support.throwaway import CELL, plugins


def test_a_new_chip_engine_and_suite_are_their_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with plugins(project):
        assert main(["plan", "--format", "json", "--root", str(project), "recipe=demo"]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert [c["id"] for c in plan["cells"]] == [CELL]
        # Nothing of the demo recipe is left out: the chip's base image is the engine's rule.
        assert not [e for e in plan["excluded"] if e["id"].startswith("demo.")]
        catalog = load_catalog(project / "conf")
        assert catalog.chips["demo"].base_image == {"echo": "example.org/demo/echo:1"}
        engine, suite = contracts.EngineContract(), contracts.SuiteContract()
        engine.test_flags_are_stable_and_sorted("echo")
        engine.test_a_false_flag_turns_the_setting_off("echo")
        engine.test_every_argument_is_passed_by_its_full_name("echo")
        engine.test_a_name_it_does_not_know_is_never_passed("echo")
        engine.test_catalog_entries_fill_their_serve_template("echo", catalog)
        suite.test_runs_one_context("probe")
        suite.test_has_a_conf_entry_that_declares_its_files("probe", catalog)


def test_the_shipped_recipes_do_not_change_when_a_chip_is_added(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--format", "json", "--root", str(project)]) == 0
    before = json.loads(capsys.readouterr().out)
    with plugins(project):
        assert main(["plan", "--format", "json", "--root", str(project), "recipe=tiny-llama"]) == 0
        after = json.loads(capsys.readouterr().out)
    assert after["cells"] == before["cells"]
