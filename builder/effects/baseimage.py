"""The cpu chip's base image, made on this machine from Debian packages: nothing is pulled.

1. A Debian rootfs made by mmdebstrap from ``settings.cpu_base_image`` (suite, apt sources,
   packages), with a venv at /opt/venv. Bookworm's Python ships
   /usr/lib/python3.11/EXTERNALLY-MANAGED (PEP 668): ``python3 -m pip install`` refuses to
   touch the system Python, and deleting the marker would let pip overwrite files dpkg
   owns. The venv (made with the python3-venv package, so its pip is Debian's) is first on
   PATH: ``python3`` and ``pip`` are the venv's and install into it, which is how the
   rendered Dockerfiles' ``RUN python3 -m pip install`` behaves on python:3.11-slim (whose
   Python is its own build in /usr/local). The tarball is cached by a key over the suite, the
   sources, the packages, the snapshot and this module's source.
2. ``docker import`` of the tarball, with ``--change`` lines for PATH, VIRTUAL_ENV, LANG, CMD
   and the labels (tagged ``<repo>:rootfs-<key>``, kept in the daemon as a second cache).
3. Where a host context is staged (``.ci/stage-host-context``: the CA certificates of a
   TLS-inspecting proxy, local wheels such as torch's CPU build, pip constraints), a thin
   layer over the import: the certificates installed with update-ca-certificates, the wheels
   in /opt/wheels and an /etc/pip.conf that points pip at them and at the constraints.
   Without one (another machine) the image is the import alone.

The image is tagged ``tag`` and labelled with the key of all three steps: a build whose key
the tagged image already carries does nothing. Pure decisions (keys, argv, --change lines,
the layer's Dockerfile) are the small functions at the top, which the unit tests check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.core.catalog_model import BaseImageSettings
from builder.effects import fs, proc
from builder.effects.images import split_ref
from builder.errors import ConfigError, PublishError

VENV = "/opt/venv"
# minbase: Essential and Priority:required packages and apt, as Debian's -slim images.
VARIANT = "minbase"
# What Debian's slim images leave out too: manuals, documentation (copyrights kept), locales.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
)
KEY_LABEL = "io.llm-release.base-key"
# On an image with the host layer: the staged context's digest. Images built over it carry
# this host's certificates and pip settings (a fact to know before pushing them anywhere).
HOST_LABEL = "io.llm-release.base.host-layer"
# Where the host layer puts what it was given, and the pip settings that point at it.
CA_DIR = "usr/local/share/ca-certificates"
WHEELS_DIR = "opt/wheels"
CONSTRAINTS = "etc/pip/constraints.txt"
PIP_CONF = "etc/pip.conf"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MMDEBSTRAP_TIMEOUT_S = 1800.0

_TAG = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_CHECKS = {
    "tag": rf"{_TAG}:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}",
    "suite": r"[a-z][a-z0-9-]{0,31}",
    "snapshot": r"\d{8}T\d{6}Z",
    "packages": r"[a-z0-9][a-z0-9+.-]{0,99}",
    "sources": r"deb (?:\[[A-Za-z0-9=,._/ -]+\] )?https?://[A-Za-z0-9._~:/%+-]+(?: [a-z0-9/._-]+)+",
    "pip_extra_index_urls": r"https?://[A-Za-z0-9._~:/%+-]+",
}


# ----------------------------------------------------------------------------- decisions


def check(spec: BaseImageSettings) -> None:
    """Refuse settings that are not what their names say (they reach argv and a shell hook)."""
    values: dict[str, list[str]] = {
        "tag": [spec.tag],
        "suite": [spec.suite],
        "snapshot": [spec.snapshot],
        "packages": list(spec.packages),
        "sources": filled_sources(spec),
        "pip_extra_index_urls": list(spec.pip_extra_index_urls),
    }
    for key, found in values.items():
        for value in found:
            if not re.fullmatch(_CHECKS[key], value):
                msg = f"settings.cpu_base_image.{key}: {value!r} does not match {_CHECKS[key]}"
                raise ConfigError(msg)
    if not spec.packages or not spec.sources:
        msg = "settings.cpu_base_image: packages and sources must not be empty"
        raise ConfigError(msg)
    source_date_epoch(spec.snapshot)  # a real date and time, not only the right digits


def filled_sources(spec: BaseImageSettings) -> list[str]:
    """The apt lines with ``{suite}`` and ``{snapshot}`` filled in."""
    return [
        line.replace("{suite}", spec.suite).replace("{snapshot}", spec.snapshot)
        for line in spec.sources
    ]


def source_date_epoch(snapshot: str) -> int:
    """``20250520T000000Z`` -> seconds since 1970 (mmdebstrap's reproducible timestamps)."""
    try:
        moment = datetime.strptime(snapshot, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        msg = f"settings.cpu_base_image.snapshot: {snapshot!r} is not YYYYMMDDTHHMMSSZ"
        raise ConfigError(msg) from None
    return int(moment.timestamp())


def rootfs_key(spec: BaseImageSettings, code: str) -> str:
    """The rootfs cache key: what mmdebstrap is given, and the code that gives it."""
    inputs = {
        "suite": spec.suite,
        "snapshot": spec.snapshot,
        "sources": filled_sources(spec),
        "packages": sorted(set(spec.packages)),
        "pip_extra_index_urls": list(spec.pip_extra_index_urls),
        "code": code,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def image_key(rootfs: str, host: str) -> str:
    """The key the finished image is labelled with: the rootfs's alone when no host layer."""
    if not host:
        return rootfs
    return hashlib.sha256(f"{rootfs}\n{host}".encode()).hexdigest()


def pip_conf(
    *, extra_index_urls: Iterable[str], cert: str = "", find_links: str = "", constraint: str = ""
) -> str:
    """An /etc/pip.conf (pip reads it from any environment, the venv's included)."""
    lines = ["[global]"]
    urls = " ".join(extra_index_urls)
    for key, value in (
        ("extra-index-url", urls),
        ("cert", cert),
        ("find-links", find_links),
        ("constraint", constraint),
    ):
        if value:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def mmdebstrap_argv(spec: BaseImageSettings, target: Path) -> list[str]:
    """The mmdebstrap command that writes the rootfs tarball ``target``."""
    argv = [
        "mmdebstrap",
        f"--variant={VARIANT}",
        "--format=tar",
        f"--include={','.join(spec.packages)}",
        *(f"--dpkgopt={option}" for option in DPKG_OPTIONS),
        '--aptopt=Acquire::Retries "3"',
    ]
    sources = filled_sources(spec)
    if any("snapshot.debian.org" in line for line in sources):
        argv.append('--aptopt=Acquire::Check-Valid-Until "false"')
    argv.append(f'--customize-hook=chroot "$1" python3 -m venv {VENV}')
    if spec.pip_extra_index_urls:
        conf = pip_conf(extra_index_urls=spec.pip_extra_index_urls)
        argv.append(f'--customize-hook=printf %s {shlex.quote(conf)} > "$1/{PIP_CONF}"')
    # mmdebstrap copies the host's resolv.conf and hostname in; docker provides its own.
    argv.append('--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"')
    return [*argv, spec.suite, str(target), *sources]


def import_changes(spec: BaseImageSettings, key: str) -> list[str]:
    """The ``docker import --change`` lines: the venv first on PATH, as python:3.11-slim
    has its own Python first."""
    path = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [
        f"ENV PATH={path}",
        f"ENV VIRTUAL_ENV={VENV}",
        "ENV LANG=C.UTF-8",
        f"LABEL {KEY_LABEL}={key}",
        f"LABEL io.llm-release.base.suite={spec.suite}",
        f"LABEL io.llm-release.base.snapshot={spec.snapshot}",
        'CMD ["python3"]',
    ]


@dataclass(frozen=True, kw_only=True)
class HostContext:
    """What .ci/stage-host-context staged: ``ca-certificates/*.crt``, ``wheels/*.whl`` and
    ``constraints.txt`` under ``root``; ``digest`` covers their names and bytes."""

    root: Path
    certs: tuple[str, ...] = ()
    wheels: tuple[str, ...] = ()
    constraints: bool = False
    digest: str = ""


def host_files(host: HostContext) -> dict[str, str]:
    """Path in the image -> path under the staged root, for the host layer's files."""
    files = {f"{CA_DIR}/{name}": f"ca-certificates/{name}" for name in host.certs}
    files |= {f"{WHEELS_DIR}/{name}": f"wheels/{name}" for name in host.wheels}
    if host.constraints:
        files[CONSTRAINTS] = "constraints.txt"
    return files


def host_pip_conf(spec: BaseImageSettings, host: HostContext) -> str:
    """The host layer's /etc/pip.conf, in place of the rootfs's. With staged wheels, pip
    takes torch from them (the constraints pin it) and is not sent to the extra indexes,
    which such a host may not reach."""
    return pip_conf(
        extra_index_urls=() if host.wheels else spec.pip_extra_index_urls,
        cert=SYSTEM_CA_BUNDLE if host.certs else "",
        find_links=f"/{WHEELS_DIR}" if host.wheels else "",
        constraint=f"/{CONSTRAINTS}" if host.constraints else "",
    )


def host_dockerfile(base: str, host: HostContext) -> str:
    """The host layer: the staged files copied in place (one layer), then the certificates
    added to the system bundle that pip is pointed at."""
    lines = [f"FROM {base}", "COPY files/ /"]
    if host.certs:
        lines.append("RUN update-ca-certificates")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- effects


@dataclass(frozen=True, kw_only=True)
class Built:
    """A base image and which steps this build had to run (none: it was there already)."""

    tag: str
    image_id: str
    key: str
    ran: tuple[str, ...]
    host_layer: bool


def default_cache_dir() -> Path:
    """Rootfs tarballs, shared by every project of this user (``LLMRB_ROOTFS_CACHE``)."""
    override = os.environ.get("LLMRB_ROOTFS_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-release-builder" / "rootfs"


def code_digest() -> str:
    """This module's source: a change to how the image is made makes a new key."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def read_host_context(root: Path | None) -> HostContext | None:
    """The staged host context under ``root``; None when there is none or it is empty."""
    if root is None or not root.is_dir():
        return None
    certs = _names(root / "ca-certificates", "*.crt")
    wheels = _names(root / "wheels", "*.whl")
    constraints = (root / "constraints.txt").is_file()
    if not (certs or wheels or constraints):
        return None
    host = HostContext(root=root, certs=certs, wheels=wheels, constraints=constraints)
    digest = hashlib.sha256()
    for inside, staged in sorted(host_files(host).items()):
        digest.update(f"{inside}\0{_file_digest(root / staged)}\n".encode())
    return HostContext(
        root=root, certs=certs, wheels=wheels, constraints=constraints, digest=digest.hexdigest()
    )


def _names(folder: Path, pattern: str) -> tuple[str, ...]:
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.name for p in folder.glob(pattern) if p.is_file()))


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(
    docker_client: Any,
    spec: BaseImageSettings,
    *,
    cache_dir: Path,
    host_context: Path | None,
    log: Callable[[str], None],
) -> Built:
    """Make (or find) the base image ``spec.tag`` on the daemon ``docker_client`` talks to."""
    check(spec)
    rkey = rootfs_key(spec, code_digest())
    host = read_host_context(host_context)
    key = image_key(rkey, host.digest if host else "")
    found = _labelled(docker_client, spec.tag, key)
    if found:
        log(f"base image {spec.tag}: up to date ({key[:12]})")
        return Built(tag=spec.tag, image_id=found, key=key, ran=(), host_layer=host is not None)
    ran: list[str] = []
    repo, _ = split_ref(spec.tag)
    imported = f"{repo}:rootfs-{rkey[:16]}"
    if not _labelled(docker_client, imported, rkey):
        tarball, made = _rootfs(spec, rkey, cache_dir, log)
        ran += ["mmdebstrap"] if made else []
        log(f"base image {spec.tag}: docker import {tarball}")
        _import(docker_client, tarball, imported, import_changes(spec, rkey))
        ran.append("import")
    if host is None:
        image = docker_client.images.get(imported)
        image.tag(*split_ref(spec.tag))
    else:
        log(f"base image {spec.tag}: host layer from {host.root}")
        image = _host_layer(docker_client, spec, imported, host, key)
        ran.append("host-layer")
    return Built(
        tag=spec.tag, image_id=str(image.id), key=key, ran=tuple(ran), host_layer=host is not None
    )


def _labelled(docker_client: Any, ref: str, key: str) -> str:
    """The id of image ``ref`` when it carries ``key``; "" when it is missing or older."""
    import docker

    try:
        image = docker_client.images.get(ref)
    except docker.errors.ImageNotFound:
        return ""
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return str(image.id) if labels.get(KEY_LABEL) == key else ""


def _rootfs(
    spec: BaseImageSettings, key: str, cache_dir: Path, log: Callable[[str], None]
) -> tuple[Path, bool]:
    """The rootfs tarball for ``key``: from the cache, or made by mmdebstrap (True)."""
    entry = cache_dir / key
    if (entry / "rootfs.tar").is_file() and (entry / "inputs.json").is_file():
        return entry / "rootfs.tar", False
    logs = cache_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=cache_dir))
    try:
        log_path = logs / f"{key}.log"
        argv = mmdebstrap_argv(spec, tmp / "rootfs.tar")
        log(f"base image {spec.tag}: mmdebstrap {spec.suite} (log: {log_path})")
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch(spec.snapshot))}
        code = proc.run_job(argv, env=env, log_path=log_path, timeout_s=MMDEBSTRAP_TIMEOUT_S)
        if code != 0:
            tail = log_path.read_text(errors="replace")[-1500:]
            msg = f"mmdebstrap failed with exit code {code} (log: {log_path}):\n{tail}"
            raise PublishError(msg)
        inputs = {"argv": argv, "source_date_epoch": env["SOURCE_DATE_EPOCH"]}
        fs.write_atomic(tmp / "inputs.json", json.dumps(inputs, indent=2).encode())
        tmp.chmod(0o755)
        fs.swap_in(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry / "rootfs.tar", True


def _import(docker_client: Any, tarball: Path, ref: str, changes: list[str]) -> None:
    import docker

    repo, tag = split_ref(ref)
    try:
        docker_client.api.import_image_from_file(
            str(tarball), repository=repo, tag=tag, changes=changes
        )
    except docker.errors.APIError as exc:
        msg = f"docker import of {tarball} as {ref} failed: {exc}"
        raise PublishError(msg) from None


def _host_layer(
    docker_client: Any, spec: BaseImageSettings, base: str, host: HostContext, key: str
) -> Any:
    """Build the host layer over ``base`` from a context laid out as the image's tree."""
    import docker

    with tempfile.TemporaryDirectory(prefix="llmrb-host-layer-") as ctx:
        root = Path(ctx)
        _lay_out(root / "files", host.root, host_files(host))
        fs.write_atomic(root / "files" / PIP_CONF, host_pip_conf(spec, host).encode())
        fs.write_atomic(root / "Dockerfile", host_dockerfile(base, host).encode())
        _open_dirs(root / "files")
        try:
            image, _ = docker_client.images.build(
                path=ctx,
                tag=spec.tag,
                labels={KEY_LABEL: key, HOST_LABEL: host.digest},
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",
            )
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            msg = f"the host layer of {spec.tag} failed: {exc}"
            raise PublishError(msg) from None
    return image


def _lay_out(files: Path, staged: Path, layout: Mapping[str, str]) -> None:
    """Hard links where the file system allows (a wheel is hundreds of MB), else copies."""
    for inside, source in layout.items():
        target = files / inside
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(staged / source, target)
        except OSError:
            shutil.copyfile(staged / source, target)


def _open_dirs(files: Path) -> None:
    """``COPY files/ /`` gives the image's folders these folders' modes: 0755, as the
    rootfs has them. Folders only: a file may be a hard link to the host's own."""
    for path in [files, *files.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
