"""Atomic writes to out/ and the README: an interrupted run leaves the old output or the new.

A file is written to a temporary sibling, fsynced and renamed over the target. A cell's
directory is written whole into a temporary sibling and swapped in with two renames; the
old copy is kept as ``.<name>.old`` until the swap is done, and :func:`recover` puts it back
if a run died between the two renames.

While a run holds out/'s lock (:func:`exclusive_lock`), nothing under out/ is written, read
back or recovered through a symbolic link: a link planted there (a pull request can commit
one) would send cell folders, renames and deletions to any folder of the runner. A link is
followed only when it leads into a folder the environment names in ``BUILDER_TRUSTED_LINKS``
(``:``-separated; a shared model cache the runner set up; a pull request cannot set the
environment): a launcher job's ``.cache``, linked to its parent run's, is one (launch.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from builder.effects import killpoint
from builder.errors import OutputError

# The out/ folders whose lock this process holds: writes under them never follow a link.
_GUARDED: ContextVar[tuple[Path, ...]] = ContextVar("guarded", default=())
TRUSTED_LINKS_ENV = "BUILDER_TRUSTED_LINKS"


def refuse_links(path: Path) -> None:
    """OutputError when ``path``, or any folder between it and a locked out/ (out/ itself
    included), is a symbolic link."""
    target = path.absolute()  # not resolve(): the links are what is checked
    for root in _GUARDED.get():
        if not target.is_relative_to(root):
            continue
        current = root
        for part in ("", *target.relative_to(root).parts):
            current = current / part if part else current
            try:
                is_link = stat.S_ISLNK(os.lstat(current).st_mode)
            except OSError:
                return  # missing: nothing below it exists yet, so nothing to follow
            if is_link and not _trusted(current):
                msg = (
                    f"{current}: is a symbolic link inside {root}; the builder never writes "
                    "or recovers through links under out/ (remove it)"
                )
                raise OutputError(msg)


def _trusted(link: Path) -> bool:
    """Whether ``link`` leads into a folder ``BUILDER_TRUSTED_LINKS`` names."""
    target = Path(os.path.realpath(link))
    for folder in os.environ.get(TRUSTED_LINKS_ENV, "").split(os.pathsep):
        if folder and target.is_relative_to(os.path.realpath(folder)):
            return True
    return False


def _fail(path: Path, exc: OSError, *, action: str) -> OutputError:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return OutputError(f"{path}: cannot {action}: {reason}")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when the file is missing, unreadable or not one."""
    refuse_links(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_bytes(path: Path) -> bytes | None:
    """The bytes of ``path``; None when it is missing or unreadable."""
    refuse_links(path)
    try:
        return path.read_bytes()
    except OSError:
        return None


def sha256_file(path: Path, *hashers: Any) -> str:
    """The sha256 of a file, read once in 1 MiB chunks (weights may be gigabytes); each of
    ``hashers`` (hashlib objects) is fed the same bytes."""
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
            for other in hashers:
                other.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` in one step; ``durable=False`` skips the fsync, for
    cache records whose reader tolerates losing them (a crash leaves old, new or none)."""
    refuse_links(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _fail(path, exc, action="write") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        Path(tmp).chmod(0o644)
        killpoint.point("file-written")
        killpoint.point(f"file-written-{path.name}")
        Path(tmp).replace(path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _fail(path, exc, action="write") from None


def write_dir_atomic(
    target: Path, files: Mapping[str, bytes], modes: Mapping[str, int], *, durable: bool = True
) -> None:
    """Replace directory ``target`` with exactly ``files`` (names relative to it).

    ``durable=False`` skips the fsync of each file, for entries whose reader checks them
    (the build cache verifies a cell against its manifest): after a crash such an entry may
    be damaged, but never half-swapped."""
    with _staged_dir(target) as tmp:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            path.chmod(modes.get(name, 0o644))


class DirBatch:
    """Cell directories written now and swapped in together after one sync.

    :func:`write_dir_atomic` fsyncs every file it writes: a thousand cells are six thousand
    fsyncs. A batch writes each directory into its temporary sibling without syncing,
    flushes them all with one ``sync()`` when the batch is committed, and only then swaps
    each one in, in order: every directory that becomes visible was on disk first, as with
    :func:`write_dir_atomic`, and a run killed before its swap leaves the temporary sibling
    that :func:`recover` removes. Steps queued with :meth:`then` run between the swaps, in
    the order they were queued (a run's kill points between cells stay where they were).
    """

    def __init__(self) -> None:
        self._queue: list[tuple[Path, Path] | Callable[[], None]] = []

    def stage(self, target: Path, files: Mapping[str, bytes], modes: Mapping[str, int]) -> None:
        """Write ``files`` into a temporary sibling of ``target``, swapped in at commit."""
        refuse_links(target)
        parent = target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
        except OSError as exc:
            raise _fail(target, exc, action="write") from None
        self._queue.append((tmp, target))
        try:
            for name, data in files.items():
                path = tmp / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(modes.get(name, 0o644))
            tmp.chmod(0o755)
        except OSError as exc:
            raise _fail(target, exc, action="write") from None

    def then(self, step: Callable[[], None]) -> None:
        """Run ``step`` at commit, after the directories staged before it are swapped in."""
        self._queue.append(step)

    def commit(self) -> None:
        """One sync for everything staged, then every swap and step in order."""
        if any(isinstance(entry, tuple) for entry in self._queue):
            os.sync()
        while self._queue:
            entry = self._queue.pop(0)
            if callable(entry):
                entry()
                continue
            tmp, target = entry
            try:
                swap_in(tmp, target)
            except OSError as exc:
                raise _fail(target, exc, action="write") from None

    def discard(self) -> None:
        """Remove what was staged and not swapped in (after an error)."""
        for entry in self._queue:
            if isinstance(entry, tuple):
                shutil.rmtree(entry[0], ignore_errors=True)
        self._queue.clear()


def copy_tree_atomic(target: Path, sources: Mapping[str, Path]) -> None:
    """Replace directory ``target`` with copies of ``sources`` (relative name -> file),
    swapped in whole like :func:`write_dir_atomic`. Copies, not hard links: editing the
    copy must never change the model cache it came from."""
    with _staged_dir(target) as tmp:
        for name, source in sources.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)


@contextlib.contextmanager
def _staged_dir(target: Path) -> Iterator[Path]:
    """A temporary sibling of ``target`` to fill; swapped in whole when the block ends, and
    removed (with a clear error) when filling or swapping fails."""
    parent = target.parent
    refuse_links(target)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise _fail(target, exc, action="write") from None
    try:
        yield tmp
        tmp.chmod(0o755)
        swap_in(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fail(target, exc, action="write") from None


def swap_in(new: Path, target: Path) -> None:
    """Put the finished directory ``new`` at ``target``; :func:`recover` completes a swap
    that a killed run left half done."""
    old = target.with_name(f".{target.name}.old")
    refuse_links(new)
    refuse_links(target)
    refuse_links(old)
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    killpoint.point("dir-swap")
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def recover(root: Path) -> None:
    """Undo what a killed run left in ``root`` and its recipe folders (two levels); a link
    among them is refused, never followed (see the module docstring)."""
    refuse_links(root)
    if not root.is_dir():
        return
    for entry in root.iterdir():
        refuse_links(entry)
    folders = [root, *(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]
    for folder in folders:
        for entry in [*folder.glob(".*.old"), *folder.glob(".*.tmp")]:
            refuse_links(entry)
        for old in folder.glob(".*.old"):
            target = old.with_name(old.name[1 : -len(".old")])
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.rename(target)
        for tmp in folder.glob(".*.tmp"):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def discard_temporaries(path: Path) -> None:
    """Remove the temporary files a killed :func:`write_atomic` of ``path`` left beside it."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out/.lock`` for a whole run; a second run refuses with a clear message.

    Unbuffered writes only: on a full disk a buffered pid would fail again when the file
    is closed, after the error was already reported.
    """
    lock_path = out_dir / ".lock"
    root = out_dir.absolute()
    guarded = _GUARDED.set((*_GUARDED.get(), root))
    try:
        with _locked(out_dir, lock_path):
            refuse_links(root)
            refuse_links(lock_path)
            yield
    finally:
        _GUARDED.reset(guarded)


@contextlib.contextmanager
def _locked(out_dir: Path, lock_path: Path) -> Iterator[None]:
    if out_dir.is_symlink():
        msg = f"{out_dir}: is a symbolic link; the builder never writes through links under out/"
        raise OutputError(msg)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _fail(lock_path, exc, action="lock") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            msg = f"{out_dir}: another release is running (pid {holder}); wait for it to finish"
            raise OutputError(msg) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as exc:  # a full disk can refuse even these few bytes
            raise _fail(lock_path, exc, action="lock") from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def tree_size(root: Path) -> int:
    """Bytes in the regular files under ``root`` (symbolic links not followed)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
