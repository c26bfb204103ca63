"""Where a store keeps its files, and how one version replaces another atomically.

::

    DIR/store.json, DIR/series/, DIR/catalog.parquet, DIR/quarantine.parquet
                                  fixed relative symlinks through .current
    DIR/.current -> .versions/<id>
                                  the ONE name a commit changes (rename(2) of a symlink)
    DIR/.versions/<id>/           a complete, never-modified version: store.json, series/,
                                  catalog.parquet, quarantine.parquet, index.parquet
    DIR/.lock                     POSIX lock held by the running ingest (names its holder)

Why a version directory and one symlink: a store is many files (partitions, catalog,
quarantine) that must change together. Replacing each file atomically is not enough
(a crash between two renames mixes versions); building the whole next version beside
the current one and swapping a single symlink makes the commit one atomic step.
Unchanged partition files are hard links, so a version costs only what changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson

from floodmark.errors import StoreError

FORMAT = "floodmark-store"
FORMAT_VERSION = 1

MARKER = "store.json"
SERIES = "series"
CATALOG = "catalog.parquet"
QUARANTINE = "quarantine.parquet"
#: Where each partition file's series start (hidden: only the library reads it).
INDEX = "index.parquet"
PUBLIC_NAMES = (MARKER, SERIES, CATALOG, QUARANTINE)

CURRENT = ".current"
VERSIONS = ".versions"
LOCK = ".lock"
_TMP_LINK_PREFIX = ".current.tmp-"
_TMP_SUFFIX = ".tmp-link"
_log = logging.getLogger("floodmark")

#: Every name a store (or a store interrupted while being created) may contain.
OWN_NAMES = frozenset({*PUBLIC_NAMES, CURRENT, VERSIONS, LOCK})


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_version_id() -> str:
    """Sortable by creation time; the random tail keeps two ids apart within a microsecond."""
    return f"{utc_now():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


def partition_dir(series_dir: Path, vector: str, metric: str) -> Path:
    return series_dir / f"vector={vector}" / f"metric={metric}"


def current_version(root: Path) -> Path | None:
    """The version directory ``.current`` points at, or None when there is none."""
    link = root / CURRENT
    try:
        target = os.readlink(link)
    except (FileNotFoundError, OSError):
        return None
    version = root / target
    return version if version.is_dir() else None


def marker(*, version: str, created_at: dt.datetime, updated_at: dt.datetime) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": created_at.isoformat(),
        "updated_at": updated_at.isoformat(),
    }


def read_marker(path: Path) -> dict:
    """Read and check ``store.json``; a StoreError says why a folder is not a store."""
    try:
        info = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise StoreError("not a floodmark store (no store.json)", file=path.parent) from None
    except (orjson.JSONDecodeError, OSError) as exc:
        raise StoreError(f"store.json is unreadable ({exc})", file=path) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise StoreError("not a floodmark store (store.json is foreign)", file=path)
    version = info.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoreError(
            f"store format {version!r} is newer than this floodmark reads ({FORMAT_VERSION})",
            file=path,
        )
    return info


def classify(root: Path) -> str:
    """``"missing"``, ``"new"`` (empty, or a creation that was interrupted) or ``"store"``.

    Raises StoreError for a file, or a folder holding anything that is not ours:
    an ingest must never write into someone else's directory.
    """
    if not root.exists():
        return "missing"
    if not root.is_dir():
        raise StoreError("store path exists and is not a directory", file=root)
    if current_version(root) is not None:
        read_marker(root / CURRENT / MARKER)
        return "store"
    foreign = sorted(p.name for p in root.iterdir() if not _is_own(p.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise StoreError(
            f"directory is not empty and not a floodmark store (contains {shown})", file=root
        )
    return "new"


def _is_own(name: str) -> bool:
    return name in OWN_NAMES or name.startswith(_TMP_LINK_PREFIX) or name.endswith(_TMP_SUFFIX)


#: Lock files (by device and inode of the store) this process holds: a POSIX lock
#: does not exclude its own process, and closing any descriptor of the file would
#: drop it, so a second ingest of the same store in this process is refused here.
_HELD: set[tuple[int, int]] = set()
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def exclusive_lock(root: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` for one ingest; a second concurrent ingest fails at once.

    A POSIX record lock (``fcntl.lockf``): the kernel drops it when the holding
    process ends, however it ends, and forked children (decoding workers) never
    inherit it, so no orphan can keep a store locked. The file names its holder
    (pid, since when) while held and is emptied on release, so a name in a lock
    nobody holds means that ingest died; the lock is then taken over with a one-line
    warning on the ``floodmark`` logger (printed to stderr when logging is not set up).
    """
    info = os.stat(root)
    key = (info.st_dev, info.st_ino)
    with _HELD_GUARD:
        if key in _HELD:
            raise StoreError("another ingest in this process is writing this store", file=root)
        _HELD.add(key)
    try:
        fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _acquire(fd, root)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)  # released alive (done or failed): no holder to report
        finally:
            os.close(fd)  # closing releases the lock
    finally:
        with _HELD_GUARD:
            _HELD.discard(key)


def _acquire(fd: int, root: Path) -> None:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EAGAIN):
            raise
        raise StoreError(f"another ingest{_holder(fd)} is writing this store", file=root) from None
    dead = _holder(fd)
    if dead:
        _log.warning("%s: the ingest%s ended without releasing the store; taking over", root, dead)
    os.ftruncate(fd, 0)
    os.pwrite(fd, orjson.dumps({"pid": os.getpid(), "since": utc_now().isoformat()}), 0)


def _holder(fd: int) -> str:
    """`` (pid N, since T)`` as recorded in the lock file, or "" when none is."""
    try:
        info = orjson.loads(os.pread(fd, 4096, 0))
        return f" (pid {int(info['pid'])}, since {info['since']})"
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return ""  # empty (released) or being written this very moment


def remove_stale(root: Path, keep: Path | None) -> None:
    """Delete every version but ``keep`` and leftover temporary links (caller holds the lock)."""
    versions = root / VERSIONS
    if versions.is_dir():
        for entry in versions.iterdir():
            if keep is None or entry.name != keep.name:
                shutil.rmtree(entry, ignore_errors=True)
    for entry in root.iterdir():
        if entry.name.startswith(_TMP_LINK_PREFIX) or entry.name.endswith(_TMP_SUFFIX):
            entry.unlink(missing_ok=True)


def commit(root: Path, version_dir: Path) -> None:
    """Make ``version_dir`` the store's current version in one atomic rename."""
    fsync_tree(version_dir)
    tmp = root / f"{_TMP_LINK_PREFIX}{version_dir.name}"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{VERSIONS}/{version_dir.name}", tmp)
    try:
        swap_current(tmp, root / CURRENT)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    ensure_public_links(root)
    fsync_dir(root)


def swap_current(tmp_link: Path, current: Path) -> None:
    """The commit point: before it the old version is the store, after it the new one."""
    os.replace(tmp_link, current)


def ensure_public_links(root: Path) -> None:
    """Create any missing fixed link ``DIR/<name> -> .current/<name>``."""
    for name in PUBLIC_NAMES:
        path = root / name
        if path.is_symlink() and os.readlink(path) == f"{CURRENT}/{name}":
            continue
        tmp = root / f".{name}{_TMP_SUFFIX}"
        tmp.unlink(missing_ok=True)
        os.symlink(f"{CURRENT}/{name}", tmp)
        os.replace(tmp, path)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link an unchanged file into the next version (copy where links are refused)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        fsync_file(dst)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush a version's directories (files are flushed as they are written)."""
    for dirpath, _dirnames, _filenames in os.walk(path):
        fsync_dir(Path(dirpath))
