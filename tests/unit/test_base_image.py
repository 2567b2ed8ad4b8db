"""The cpu base image's decisions (builder/effects/baseimage.py), checked without running
mmdebstrap or Docker; and .ci/stage-host-context on a made-up pip setup."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from builder.core.catalog_model import BaseImageSettings, Catalog
from builder.core.matrix import LOCAL_BASE, base_image
from builder.effects import baseimage
from builder.effects.baseimage import HostContext
from builder.errors import ConfigError
from builder.session import load_catalog
from tests.conftest import ROOT

SPEC = BaseImageSettings()


def test_the_catalog_builds_the_image_the_cpu_chip_names(catalog: Catalog) -> None:
    assert catalog.settings.cpu_base_image == SPEC  # conf/config.yaml and the defaults agree
    assert catalog.chips["cpu"].base_image["transformers"] == LOCAL_BASE
    assert base_image(catalog, "cpu", "transformers") == SPEC.tag
    # Real chips keep their vendors' images.
    assert base_image(catalog, "nvidia", "transformers") != SPEC.tag


def test_a_command_line_override_reaches_the_nested_settings() -> None:
    catalog = load_catalog(ROOT / "conf", ["settings.cpu_base_image.suite=trixie"])
    assert catalog.settings.cpu_base_image.suite == "trixie"
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.settings.cpu_base_image.suite = "sid"  # type: ignore[misc]


def test_rootfs_key_follows_every_input_but_package_order() -> None:
    key = baseimage.rootfs_key(SPEC, "code-1")
    assert key == baseimage.rootfs_key(SPEC, "code-1")
    shuffled = dataclasses.replace(SPEC, packages=list(reversed(SPEC.packages)))
    assert baseimage.rootfs_key(shuffled, "code-1") == key
    changed = [
        dataclasses.replace(SPEC, suite="trixie"),
        dataclasses.replace(SPEC, snapshot="20250601T000000Z"),
        dataclasses.replace(SPEC, packages=[*SPEC.packages, "curl"]),
        dataclasses.replace(SPEC, sources=SPEC.sources[:1]),
        dataclasses.replace(SPEC, pip_extra_index_urls=[]),
    ]
    keys = {baseimage.rootfs_key(spec, "code-1") for spec in changed}
    keys.add(baseimage.rootfs_key(SPEC, "code-2"))
    assert key not in keys
    assert len(keys) == len(changed) + 1
    # The tag is only a name: renaming the image does not rebuild the rootfs.
    assert baseimage.rootfs_key(dataclasses.replace(SPEC, tag="x/y:1"), "code-1") == key


def test_image_key_is_the_rootfs_key_without_a_host_layer() -> None:
    assert baseimage.image_key("r" * 64, "") == "r" * 64
    with_host = baseimage.image_key("r" * 64, "h1")
    assert with_host != "r" * 64
    assert with_host != baseimage.image_key("r" * 64, "h2")


def test_mmdebstrap_argv() -> None:
    target = Path("/cache/k/rootfs.tar")
    argv = baseimage.mmdebstrap_argv(SPEC, target)
    assert argv[:3] == ["mmdebstrap", "--variant=minbase", "--format=tar"]
    assert "--include=python3,python3-venv,ca-certificates" in argv
    assert argv[-5:] == [
        "bookworm",
        str(target),
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    ]
    hooks = [a.split("=", 1)[1] for a in argv if a.startswith("--customize-hook=")]
    assert hooks[0] == 'chroot "$1" python3 -m venv /opt/venv'
    assert hooks[-1] == 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
    [printf] = [h for h in hooks if h.startswith("printf")]
    words = shlex.split(printf)
    assert words[:2] == ["printf", "%s"]
    assert words[2] == "[global]\nextra-index-url = https://download.pytorch.org/whl/cpu\n"
    assert words[3:] == [">", "$1/etc/pip.conf"]
    assert not any("Check-Valid-Until" in a for a in argv)


def test_mmdebstrap_argv_for_a_snapshot_and_without_extra_indexes() -> None:
    spec = dataclasses.replace(
        SPEC,
        sources=["deb http://snapshot.debian.org/archive/debian/{snapshot} {suite} main"],
        pip_extra_index_urls=[],
    )
    argv = baseimage.mmdebstrap_argv(spec, Path("/t.tar"))
    assert (
        argv[-1] == "deb http://snapshot.debian.org/archive/debian/20250520T000000Z bookworm main"
    )
    assert '--aptopt=Acquire::Check-Valid-Until "false"' in argv
    assert not any(a.startswith("--customize-hook=printf") for a in argv)


def test_import_changes_put_the_venv_first() -> None:
    changes = baseimage.import_changes(SPEC, "k" * 64)
    assert changes[0].startswith("ENV PATH=/opt/venv/bin:/usr/local/sbin:")
    assert "ENV VIRTUAL_ENV=/opt/venv" in changes
    assert f"LABEL io.llm-release.base-key={'k' * 64}" in changes
    assert "LABEL io.llm-release.base.snapshot=20250520T000000Z" in changes
    assert changes[-1] == 'CMD ["python3"]'


def test_source_date_epoch() -> None:
    assert baseimage.source_date_epoch("20250520T000000Z") == 1747699200
    with pytest.raises(ConfigError, match="snapshot"):
        baseimage.source_date_epoch("20251340T000000Z")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("packages", ["python3", "-oAPT::Get::Foo=1"]),
        ("packages", []),
        ("suite", "bookworm; rm -rf /"),
        ("snapshot", "latest"),
        ("tag", "llm-release/cpu-base"),
        ("sources", ["deb http://x/debian {suite} main; touch /p"]),
        ("pip_extra_index_urls", ["https://x/simple' ; echo '"]),
    ],
)
def test_check_refuses_values_that_would_reach_a_shell_or_argv(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match="cpu_base_image"):
        baseimage.check(dataclasses.replace(SPEC, **{field: value}))


def test_check_accepts_the_defaults() -> None:
    baseimage.check(SPEC)


def test_host_layer_with_everything_staged() -> None:
    host = HostContext(
        root=Path("/staged"),
        certs=("proxy.crt",),
        wheels=("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",),
        constraints=True,
        digest="d",
    )
    assert baseimage.host_files(host) == {
        "usr/local/share/ca-certificates/proxy.crt": "ca-certificates/proxy.crt",
        "opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl": (
            "wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
        ),
        "etc/pip/constraints.txt": "constraints.txt",
    }
    # The staged wheel replaces the extra index (such a host may not reach it).
    assert baseimage.host_pip_conf(SPEC, host) == (
        "[global]\n"
        "cert = /etc/ssl/certs/ca-certificates.crt\n"
        "find-links = /opt/wheels\n"
        "constraint = /etc/pip/constraints.txt\n"
    )
    assert baseimage.host_dockerfile("base:1", host) == (
        "FROM base:1\nCOPY files/ /\nRUN update-ca-certificates\n"
    )


def test_host_layer_with_certificates_only_keeps_the_extra_index() -> None:
    host = HostContext(root=Path("/staged"), certs=("proxy.crt",), digest="d")
    assert baseimage.host_pip_conf(SPEC, host) == (
        "[global]\n"
        "extra-index-url = https://download.pytorch.org/whl/cpu\n"
        "cert = /etc/ssl/certs/ca-certificates.crt\n"
    )
    wheels_only = HostContext(root=Path("/staged"), wheels=("torch-1-py3-none-any.whl",))
    assert "update-ca-certificates" not in baseimage.host_dockerfile("b:1", wheels_only)


def test_read_host_context(tmp_path: Path) -> None:
    assert baseimage.read_host_context(None) is None
    assert baseimage.read_host_context(tmp_path / "missing") is None
    assert baseimage.read_host_context(tmp_path) is None  # staged nothing: no layer
    (tmp_path / "ca-certificates").mkdir()
    (tmp_path / "ca-certificates" / "proxy.crt").write_text("cert 1")
    (tmp_path / "ca-certificates" / "notes.txt").write_text("not a certificate")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"w")
    host = baseimage.read_host_context(tmp_path)
    assert host is not None
    assert host.certs == ("proxy.crt",)
    assert host.wheels == ("torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl",)
    assert not host.constraints
    (tmp_path / "ca-certificates" / "proxy.crt").write_text("cert 2")
    again = baseimage.read_host_context(tmp_path)
    assert again is not None
    assert again.digest != host.digest


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMRB_ROOTFS_CACHE", str(tmp_path / "r"))
    assert baseimage.default_cache_dir() == tmp_path / "r"
    monkeypatch.delenv("LLMRB_ROOTFS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert baseimage.default_cache_dir() == tmp_path / "llm-release-builder" / "rootfs"


@pytest.mark.integration  # runs .ci/stage-host-context
def test_stage_host_context_pins_the_newest_staged_torch(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    for version in ("2.9.0+cpu", "2.13.0+cpu"):
        (links / f"torch-{version}-cp311-cp311-linux_x86_64.whl").write_bytes(b"w")
    (links / "numpy-2.0.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"n")
    constraint = tmp_path / "constraints.txt"
    constraint.write_text("torch<=2.14.1\n")
    dest = tmp_path / "staged"
    env = {
        **os.environ,
        "PIP_CONFIG_FILE": os.devnull,  # the host's pip config files are not read
        "PIP_FIND_LINKS": str(links),
        "PIP_CONSTRAINT": str(constraint),
    }
    done = subprocess.run(
        [str(ROOT / ".ci" / "stage-host-context"), str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (dest / "wheels").iterdir()) == [
        "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl",
        "torch-2.9.0+cpu-cp311-cp311-linux_x86_64.whl",
    ]
    lines = (dest / "constraints.txt").read_text().splitlines()
    assert "torch<=2.14.1" in lines
    assert lines[-1] == "torch==2.13.0+cpu"
