"""OmegaConf interpolations and Hydra's own machinery cannot be reached from a recipe, an
override or conf/: no ${oc.env:...} secret in any output, no configuration from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main

SECRET = "hf_s3cr3t_TOKEN_value"


@pytest.fixture(autouse=True)
def planted_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)


def everything_written(root: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "override",
    [
        "chip.cpu.base_image.transformers=${oc.env:HF_TOKEN}",
        "+chip.cpu.env.LEAK=${oc.env:HF_TOKEN}",
        "settings.registry=ghcr.io/${oc.env:HF_TOKEN,x}",
        "chip.cpu.sdk=${settings.registry}",
    ],
)
def test_interpolation_in_an_override_is_refused(
    project: Path, override: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--root", str(project), override]) == 2
    captured = capsys.readouterr()
    assert "interpolations and resolvers such as ${oc.env:...} are disabled" in captured.err
    assert SECRET not in captured.out + captured.err
    assert not (project / "out").exists()


def test_interpolation_in_conf_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chip = project / "conf" / "chip" / "cpu.yaml"
    chip.write_text(chip.read_text().replace('sdk: ""', 'sdk: "${oc.env:HF_TOKEN}"'))
    assert main(["plan", "--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert "chip.cpu.sdk" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("hydra.searchpath=[file:///tmp]", "Hydra's own settings cannot be overridden"),
        ("+chip@chip.evil=../../../../etc/evil", "config group overrides are not allowed"),
        ("suite=smoke", "config group overrides are not allowed"),
    ],
)
def test_overrides_cannot_load_configuration_from_elsewhere(
    project: Path, override: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--root", str(project), override]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.integration
def test_interpolation_in_a_recipe_is_inert_text(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = project / "recipes" / "tiny-llama.yaml"
    text = recipe.read_text().replace(
        "description: A 2-layer", "description: Token ${oc.env:HF_TOKEN} ${env:HOME} A 2-layer"
    )
    recipe.write_text(text)
    assert main(["render", "--root", str(project)]) == 0
    written = everything_written(project / "out")
    assert "${oc.env:HF_TOKEN} ${env:HOME}" in written
    assert SECRET not in written + capsys.readouterr().out


@pytest.mark.parametrize("override", ["settings.out_dir=../elsewhere", "settings.readme=/etc/motd"])
def test_outputs_stay_inside_the_project(
    project: Path, override: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--root", str(project), override]) == 2
    assert "is outside the project root" in capsys.readouterr().err
    assert not (project.parent / "elsewhere").exists()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("settings=null", "settings"),
        ("chip.cpu=null", "chip.cpu"),
        ("engine.transformers=7", "engine.transformers"),
    ],
)
def test_an_override_that_replaces_an_entry_with_a_non_mapping_is_an_error(
    project: Path, override: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--root", str(project), override]) == 2
    err = capsys.readouterr().err
    assert f"{key}: must be a mapping" in err
    assert "Traceback" not in err
