"""Where a cell runs and how it is started: devices, the tensor-parallel size, the card's
`docker run`, and what validation in the image is given. Pure: nothing is started."""

from __future__ import annotations

import pytest

from builder.core import deploy
from builder.core.catalog_model import Catalog
from builder.core.cells import Cell
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe
from builder.errors import UsageError

RECIPE = """\
model: {name: Demo, source: "huggingface://org/Demo@0123abc", license: mit}
matrix: {chip: [nvidia, ascend, metax, cpu], quantization: [bf16], engine: [vllm, transformers]}
release: {org: Demo, name: "{model}-{chip}-{engine}"}
"""


def cell(catalog: Catalog, chip: str, engine: str = "vllm", extra: str = "") -> Cell:
    loaded = parse_recipe(RECIPE + extra, name="demo", file="demo.yaml", catalog=catalog)
    plan = expand([loaded], catalog, Selection())
    return next(c for c in plan.cells if c.chip == chip and c.engine == engine)


def placed(catalog: Catalog, target: Cell, devices: tuple[int, ...] | None) -> deploy.Placement:
    chip, engine = catalog.chips[target.chip], catalog.engines[target.engine]
    return deploy.place(target, chip, engine, devices)


def test_devices_by_count_or_by_index() -> None:
    assert deploy.parse_devices("2") == (0, 1)
    assert deploy.parse_devices("0,3") == (0, 3)
    assert deploy.parse_devices("3,") == (3,)
    for bad in ("0", "-1", "a", "1,1", "0,,1"):
        with pytest.raises(UsageError, match="--devices"):
            deploy.parse_devices(bad)


def test_every_device_is_visible_and_ascend_gets_one_device_file_each(catalog: Catalog) -> None:
    target = cell(catalog, "ascend")
    placement = placed(catalog, target, (0, 1, 2, 3))
    assert placement.extra_args == {"tensor_parallel_size": 4}
    chip = catalog.chips["ascend"]
    assert deploy.visible_devices(chip, placement.devices) == {
        "ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3"
    }
    paths = deploy.device_paths(chip, placement.devices)
    assert paths[:4] == ["/dev/davinci0", "/dev/davinci1", "/dev/davinci2", "/dev/davinci3"]
    assert "/dev/davinci_manager" in paths


def test_the_default_placement_follows_the_recipes_tensor_parallel_size(catalog: Catalog) -> None:
    two = cell(catalog, "metax", extra="serve: {tensor_parallel_size: 2}\n")
    assert placed(catalog, two, None).devices == (0, 1)
    assert placed(catalog, cell(catalog, "nvidia"), None).devices == (0,)


def test_a_mismatch_with_the_recipe_says_which_to_change(catalog: Catalog) -> None:
    two = cell(catalog, "metax", extra="serve: {tensor_parallel_size: 2}\n")
    with pytest.raises(UsageError, match=r"tensor_parallel_size=2 .* deploy on 2 device\(s\)"):
        placed(catalog, two, (0, 1, 2, 3))


def test_engines_without_tensor_parallelism_run_on_one_device(catalog: Catalog) -> None:
    target = cell(catalog, "nvidia", engine="transformers")
    with pytest.raises(UsageError, match="no tensor parallelism"):
        placed(catalog, target, (0, 1))


def test_the_cpu_has_no_devices_to_choose(catalog: Catalog) -> None:
    target = cell(catalog, "cpu", engine="transformers")
    assert placed(catalog, target, None).devices == ()
    with pytest.raises(UsageError, match="has no devices to choose"):
        placed(catalog, target, (0, 1))


def test_a_container_gets_no_credentials_and_the_weights_read_only(catalog: Catalog) -> None:
    target = cell(catalog, "nvidia")
    argv = deploy.docker_run(
        cell=target,
        chip=catalog.chips["nvidia"],
        engine=catalog.engines["vllm"],
        placement=placed(catalog, target, (0, 1)),
        weights="/data/models/Demo",
        port=8000,
    )
    env = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert env == ["CUDA_VISIBLE_DEVICES=0,1"]
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "-v"]
    assert mounts == ["/data/models/Demo:/models/Demo-nvidia-vllm:ro"]
    assert argv[argv.index("-p") + 1] == "8000:8000"
    assert argv[-2:] == [target.image, "--tensor-parallel-size=2"]


def test_validation_binds_loopback_on_the_hosts_network(catalog: Catalog) -> None:
    target = cell(catalog, "cpu", engine="transformers")
    argv = deploy.docker_run(
        cell=target,
        chip=catalog.chips["cpu"],
        engine=catalog.engines["transformers"],
        placement=placed(catalog, target, None),
        weights="/w",
        port=41234,
        host_network=True,
        host="127.0.0.1",
        env={"HF_HUB_OFFLINE": "1"},
    )
    env = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert env == ["HF_HUB_OFFLINE=1", "HOST=127.0.0.1", "PORT=41234"]
    assert argv[argv.index("--network") + 1] == "host"
    assert "-p" not in argv


def test_the_cards_lines_quote_every_word(catalog: Catalog) -> None:
    lines = deploy.shell_lines(
        ["docker", "run", "-d", "--name", "x", "--ipc=host", "-e", "A=b c", "img:1", "--x", "y"]
    )
    assert lines == ["docker run -d", "--name x", "--ipc=host", "-e 'A=b c'", "img:1 --x y"]
