"""How a cell runs on a machine: its devices, its container's ``docker run``, its serve
environment. Pure: the card's Deploy section, ``builder deploy`` and validation in the
image all take their command from here, so what the card says is what the builder ran.

A cell uses as many devices as its engine's tensor-parallel size (the recipe's
``tensor_parallel_size``, 1 when unset). Each chip says how devices are given to a
container: its visible-devices variable lists their indexes, and ``device_files`` adds one
``--device`` per index (``/dev/davinci{index}`` on Ascend) beside the chip's shared
``devices``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from builder.core.catalog_model import ChipConf, EngineConf
from builder.core.cells import Cell
from builder.core.engines import engine_module
from builder.errors import UsageError

# Where validation and deploy run a cell's engine: a process of this host, or the cell's image.
Runtime = Literal["host", "container"]
RUNTIMES: tuple[Runtime, ...] = ("host", "container")

# serve.sh reads these (builder deploy and validation set them; a user may too).
HOST_VAR, PORT_VAR, MODEL_VAR = "HOST", "PORT", "MODEL"
TP_ARG = "tensor_parallel_size"
# Where a container finds the weights (read-only): /models/<release name>.
CONTAINER_MODEL_ROOT = PurePosixPath("/models")
HOST_MODEL_ROOT = PurePosixPath("/data/models")


@dataclass(frozen=True, kw_only=True)
class Placement:
    """The devices a cell runs on, and what the engine is told so it uses all of them."""

    devices: tuple[int, ...]
    # Engine arguments added to the recipe's (the tensor-parallel size, when not set).
    extra_args: Mapping[str, int] = field(default_factory=dict)


def parse_devices(text: str) -> tuple[int, ...]:
    """``--devices 2`` (the first two) or ``--devices 0,3`` (exactly those)."""
    if re.fullmatch(r"[1-9][0-9]{0,3}", text):
        return tuple(range(int(text)))
    # Indexes need a comma, so a lone number is always a count: "3," is device 3 alone.
    if re.fullmatch(r"[0-9]{1,4}(?:,[0-9]{1,4})*,|[0-9]{1,4}(?:,[0-9]{1,4})+", text):
        chosen = tuple(int(i) for i in text.split(",") if i)
        if len(set(chosen)) != len(chosen):
            msg = f"--devices {text}: a device is listed twice"
            raise UsageError(msg)
        return chosen
    msg = f"--devices {text}: give a count (2) or the device indexes (0,1; one alone as 3,)"
    raise UsageError(msg)


def tensor_parallel(cell: Cell) -> int:
    """The engine's tensor-parallel size for ``cell`` (1 when the recipe does not set it)."""
    value = cell.serve_args.get(TP_ARG, 1)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 1


def place(
    cell: Cell, chip: ChipConf, engine: EngineConf, devices: Sequence[int] | None
) -> Placement:
    """Where ``cell`` runs: the devices asked for (default: one per tensor-parallel rank),
    with the engine's tensor-parallel size set to match, or refused when it cannot be."""
    size = tensor_parallel(cell)
    if devices is None:
        devices = tuple(range(size)) if chip.visible_devices_env or chip.device_files else ()
    devices = tuple(devices)
    if devices and not (chip.visible_devices_env or chip.device_files):
        msg = f"{cell.id}: chip {chip.name} has no devices to choose (it runs on the host's CPU)"
        raise UsageError(msg)
    if not devices or len(devices) == size:
        return Placement(devices=devices)
    if TP_ARG in cell.serve_args:
        msg = (
            f"{cell.id} is released with {TP_ARG}={size} (the recipe's serve settings), not "
            f"{len(devices)}: deploy on {size} device(s), or change {TP_ARG} in recipes/"
            f"{cell.recipe}.yaml and release again"
        )
        raise UsageError(msg)
    _, ignored = engine_module(engine.module or engine.name).translate_args({TP_ARG: 2})
    if ignored:
        msg = (
            f"{cell.id}: {engine.display_name} has no tensor parallelism; "
            f"deploy on 1 device, not {len(devices)}"
        )
        raise UsageError(msg)
    return Placement(devices=devices, extra_args={TP_ARG: len(devices)})


def visible_devices(chip: ChipConf, devices: Sequence[int]) -> dict[str, str]:
    """The chip's visible-devices variable, listing exactly ``devices`` (none on a CPU)."""
    if not chip.visible_devices_env or not devices:
        return {}
    return {chip.visible_devices_env: ",".join(str(i) for i in devices)}


def device_paths(chip: ChipConf, devices: Sequence[int]) -> list[str]:
    """The device files a container gets: one set per chosen device, then the shared ones."""
    per_device = [t.replace("{index}", str(i)) for i in devices for t in chip.device_files]
    return [*per_device, *chip.devices]


def serve_args(placement: Placement, engine: EngineConf) -> list[str]:
    """The engine flags serve.sh is given on top of the released ones (``"$@"``)."""
    flags, _ = engine_module(engine.module or engine.name).translate_args(placement.extra_args)
    return flags


def container_name(cell: Cell) -> str:
    """The container's name: the release name, which is a repository name, lower-cased."""
    return cell.release_name.lower()


def docker_run(
    *,
    cell: Cell,
    chip: ChipConf,
    engine: EngineConf,
    placement: Placement,
    weights: str,
    port: int,
    host_network: bool = False,
    host: str = "0.0.0.0",
    model: str = "",
    name: str = "",
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """The ``docker run`` argv that serves ``cell`` from its image: the chip's flags and
    devices, the weights mounted read-only, the port published (or the host's network, with
    the server bound to ``host``), serve.sh started with the placement's extra flags."""
    argv = ["docker", "run", "-d", "--name", name or container_name(cell)]
    argv += [
        a for key, value in sorted((labels or {}).items()) for a in ("--label", f"{key}={value}")
    ]
    argv += list(chip.docker_run_flags)
    argv += [a for path in device_paths(chip, placement.devices) for a in ("--device", path)]
    argv += [a for mount in chip.mounts for a in ("-v", mount)]
    env = {**(env or {}), **visible_devices(chip, placement.devices)}
    if host_network:
        env |= {HOST_VAR: host, PORT_VAR: str(port)}
    if model:
        env[MODEL_VAR] = model
    argv += [a for key, value in sorted(env.items()) for a in ("-e", f"{key}={value}")]
    model_dir = CONTAINER_MODEL_ROOT / cell.release_name
    argv += ["-v", f"{weights}:{model_dir}:ro"]
    argv += ["--network", "host"] if host_network else ["-p", f"{port}:{engine.port}"]
    argv += [cell.image, *serve_args(placement, engine)]
    return argv


# docker run options that take the next word as their value.
VALUED = frozenset({"--name", "--label", "--device", "-v", "-e", "-p", "--network"})


def shell_lines(argv: Sequence[str]) -> list[str]:
    """``argv`` as shell-quoted lines for a card: the command, then one option (with its
    value) a line, then the image and what follows it."""
    lines = [" ".join(shlex.quote(a) for a in argv[:3])]
    rest = list(argv[3:])
    while rest:
        word = rest.pop(0)
        if word in VALUED and rest:
            lines.append(f"{word} {shlex.quote(rest.pop(0))}")
        elif word.startswith("-"):
            lines.append(shlex.quote(word))
        else:
            lines.append(" ".join(shlex.quote(a) for a in [word, *rest]))
            break
    return lines


def deploy_line(cell: Cell, placement: Placement) -> str:
    """The ``builder deploy`` command that starts ``cell`` on these devices."""
    devices = f" --devices {len(placement.devices)}" if len(placement.devices) > 1 else ""
    return f"builder deploy {cell.id}{devices}"


def host_weights(cell: Cell) -> str:
    """Where the card tells users to download the weights to."""
    return str(HOST_MODEL_ROOT / cell.release_name)
