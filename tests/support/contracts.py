"""Conformance test classes: every plugin of a kind runs the same tests, as every Hydra
launcher runs Hydra's ``LauncherTestSuite``.

A test module subclasses a contract and provides the ``plugin`` fixture (the plugin's name);
tests/unit/test_plugins.py does so for every plugin the registries list, and a plugin
written outside this repository can do the same for its own. Nothing here starts a process:
the end-to-end behaviour of the shipped plugins is covered by the integration tests.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest

from builder.core.catalog_model import Catalog
from builder.core.engines import REGISTRY as ENGINES
from builder.core.engines import serve_command
from builder.core.judge import GATES
from builder.core.variants import VariantSpec
from builder.effects.publishers import REGISTRY as PUBLISHERS
from builder.effects.quantizers import REGISTRY as QUANTIZERS
from builder.effects.quantizers import QuantizeJob
from builder.effects.suites import REGISTRY as SUITES
from builder.errors import QuantizeError, UsageError
from builder.run.launchers import REGISTRY as LAUNCHERS
from builder.run.launchers import launcher


class EngineContract:
    """An engine module turns engine arguments into its server's flags, stably."""

    def module(self, plugin: str) -> ModuleType:
        return ENGINES.get(plugin)

    def test_flags_are_stable_and_sorted(self, plugin: str) -> None:
        translate = self.module(plugin).translate_args
        args = {"seed": 1, "max_model_len": 4096, "dtype": "bfloat16", "trust_remote_code": True}
        flags, ignored = translate(args)
        assert (flags, ignored) == translate(dict(reversed(list(args.items()))))
        assert isinstance(flags, list)
        assert all(isinstance(f, str) for f in flags)
        assert isinstance(ignored, tuple)
        assert set(ignored) <= set(args)
        assert list(ignored) == sorted(ignored)

    def test_a_false_flag_turns_the_setting_off(self, plugin: str) -> None:
        """False is the flag's negation (--no-x), its value form (--x=false), or nothing
        where the engine has no way to say it; never the flag that turns it on."""
        translate = self.module(plugin).translate_args
        on, _ = translate({"trust_remote_code": True})
        off, _ = translate({"trust_remote_code": False})
        assert len(off) <= 1
        if off:
            flag = on[0].split("=")[0]
            assert off[0] in (f"--no-{flag[2:]}", f"{flag}=false")

    def test_every_argument_is_passed_by_its_full_name(self, plugin: str) -> None:
        """Each known argument reaches the engine as its exact flag (``--name=value`` or a
        bare boolean flag), so the engine's own prefix matching never comes into play."""
        module = self.module(plugin)
        samples = {"int": 7, "float": 0.5, "bool": True, "str": "x", "size": 4096}
        for name, argument in module.ARGUMENTS.items():
            flags = argument.flags(samples[argument.kind])
            assert flags, name
            assert flags[0] == argument.flag or flags[0].startswith(argument.flag + "="), name
            assert argument.flag.startswith("--"), name

    def test_a_name_it_does_not_know_is_never_passed(self, plugin: str) -> None:
        """An abbreviation of a real argument is not that argument: it is ignored here (and
        refused when a recipe loads)."""
        module = self.module(plugin)
        for name in list(module.ARGUMENTS)[:50]:
            short = name[: max(2, len(name) // 2)]
            if short in module.ARGUMENTS or short in getattr(module, "RENAMES", {}):
                continue
            flags, ignored = module.translate_args({short: "x"})
            assert (flags, ignored) == ([], (short,)), short

    def test_catalog_entries_fill_their_serve_template(self, plugin: str, catalog: Catalog) -> None:
        """Every conf/engine entry that uses this module serves on the host and port given."""
        users = [e for e in catalog.engines.values() if (e.module or e.name) == plugin]
        for engine in users:
            command = serve_command(
                engine, {}, model="/m", host="127.0.0.1", port=8123, served_model_name="x"
            )
            assert "8123" in command.argv, f"{engine.name}: serve has no {{port}}"
            assert "127.0.0.1" in command.argv, f"{engine.name}: serve has no {{host}}"
            assert any("/m" in a for a in command.argv), f"{engine.name}: serve has no {{model}}"


class SuiteContract:
    """A suite module runs against a cell's engine; its conf/ entry declares what it writes
    and which gate judges it (run for real by the integration tests, which fail a suite that
    writes an undeclared file)."""

    def test_runs_one_context(self, plugin: str) -> None:
        run = SUITES.get(plugin).run
        assert list(inspect.signature(run).parameters) == ["ctx"]

    def test_has_a_conf_entry_that_declares_its_files(self, plugin: str, catalog: Catalog) -> None:
        conf = catalog.suites.get(plugin)
        assert conf is not None, f"conf/suite/{plugin}.yaml is missing"
        assert len(set(conf.files)) == len(conf.files)
        assert all("/" not in f and not f.startswith(".") for f in conf.files)
        if conf.gate:
            assert GATES[conf.gate].document in conf.files


class QuantizerContract:
    """A quantizer refuses arguments it does not know before doing any work, with its
    name in the error, and writes nothing outside its job's folder."""

    def test_refuses_unknown_arguments_up_front(self, plugin: str, tmp_path: Path) -> None:
        spec = VariantSpec(
            recipe="r",
            quantization="q",
            method="quantize",
            source="generate://tiny-llama",
            quantizer={"module": plugin, "version": "0", "package": "none==0"},
            args={"outtype": "bogus", "type": "bogus", "scheme": "bogus"},
            file="m.gguf",
        )
        folders = {n: tmp_path / n for n in ("in", "out", "work", "tools")}
        for folder in folders.values():
            folder.mkdir()
        job = QuantizeJob(
            spec=spec,
            source_dir=folders["in"],
            out_dir=folders["out"],
            work_dir=folders["work"],
            tools_dir=folders["tools"],
            project_root=tmp_path,
            env={},
            timeout_s=5,
            log=lambda _: None,
        )
        with pytest.raises(QuantizeError, match=plugin):
            QUANTIZERS.get(plugin).quantize(job)
        assert not any(folders["out"].iterdir())

    def test_is_named_by_a_conf_entry(self, plugin: str, catalog: Catalog) -> None:
        assert plugin in {q.module for q in catalog.quantizers.values()}


class PublisherContract:
    """A publisher module says whether its targets get the model card and makes publishers
    that plan before they upload: files, names, what the target holds, then publish."""

    def test_shape(self, plugin: str) -> None:
        module = PUBLISHERS.get(plugin)
        assert isinstance(module.SENDS_CARD, bool)
        assert list(inspect.signature(module.connect).parameters) == ["conf", "ctx"]
        made = inspect.signature(module.connect).return_annotation
        cls = getattr(module, str(made).split(".")[-1].strip("'\""), None)
        assert cls is not None, f"{plugin}.connect must name the class it returns"
        for method in ("files", "names", "remote", "publish"):
            assert callable(getattr(cls, method, None)), f"{plugin}: no {method}()"


class LauncherContract:
    """A launcher names its Hydra config and the package that provides it; a missing
    package is a usage error that says what to install."""

    def test_shape(self, plugin: str) -> None:
        module = LAUNCHERS.get(plugin)
        for attr in ("HYDRA_NAME", "PACKAGE", "PLUGIN_MODULE"):
            assert isinstance(getattr(module, attr), str)
            assert getattr(module, attr)
        assert module.PLUGIN_MODULE.startswith("hydra_plugins.")

    def test_available_or_says_how_to_install(self, plugin: str) -> None:
        module = LAUNCHERS.get(plugin)
        try:
            installed = importlib.util.find_spec(module.PLUGIN_MODULE) is not None
        except ModuleNotFoundError:
            installed = False
        if installed:
            assert launcher(plugin) is module
        else:
            with pytest.raises(UsageError, match=f"pip install {module.PACKAGE}"):
                launcher(plugin)
