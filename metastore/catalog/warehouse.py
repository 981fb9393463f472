"""The warehouse: default locations of managed objects, and the directory work HMS does for them.

Locations are local paths or fsspec URLs (file://, s3://, ...). File-system errors never undo a
catalog change that has committed; they are logged (HMS behaves the same way on drop).
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import threading
import uuid

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

log = logging.getLogger(__name__)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base.rstrip("/"), *parts)


TRASH = ".mortar-deleted-"  # in the names of local trees being deleted in the background


def local_path(location: str) -> str | None:
    """The path of a local location (`/p`, `file:/p`, `file:///p`), else None."""
    if location.startswith("/"):
        return location
    if location.startswith("file:"):
        rest = location[5:]
        if rest.startswith("///"):
            return rest[2:]
        if rest.startswith("/") and not rest.startswith("//"):
            return rest
    return None


def qualify(location: str | None) -> str | None:
    """A location as HMS answers it (Hadoop's qualified path): a local one as `file:/path` (from `/path`,
    `file:///path` or `file:/path/`), without a trailing slash; other schemes as given."""
    if not location:
        return location
    if location.startswith("/"):
        path = location
    elif location.startswith("file:///"):
        path = location[7:]
    elif location.startswith("file:/") and not location.startswith("file://"):
        path = location[5:]
    else:
        return location
    return "file:/" + posixpath.normpath(path).lstrip("/")


_LOCAL = LocalFileSystem()


class Warehouse:
    def __init__(self, root: str):
        self.root = root.rstrip("/") or "/"
        if "://" not in self.root:
            self.root = "file:" + self.root if self.root.startswith("/") else self.root

    def database_location(self, db_name: str) -> str:
        """HMS's default: the warehouse root for `default`, `<root>/<db>.db` for the others."""
        return self.root if db_name == "default" else join(self.root, f"{db_name}.db")

    @staticmethod
    def table_location(db_location: str, table_name: str) -> str:
        return join(db_location, table_name)

    @staticmethod
    def partition_location(table_location: str, partition_name: str) -> str:
        return join(table_location, partition_name)

    @staticmethod
    def _fs(location: str):
        path = local_path(location)
        return (_LOCAL, path) if path is not None else url_to_fs(location)

    def mkdirs(self, location: str | None) -> None:
        if not location:
            return
        path = local_path(location)
        if path is not None and os.path.isdir(path):
            return  # already there (add_partitions on folders made beforehand: one stat, not fsspec)
        try:
            fs, path = self._fs(location)
            missing = _missing_local_dirs(fs, path)
            fs.makedirs(path, exist_ok=True)
            _own_like_parent(missing)
        except Exception as e:  # noqa: BLE001 - the catalog change stands; say what failed
            log.warning("could not create directory %s: %s", location, e)

    def exists(self, location: str) -> bool:
        try:
            fs, path = self._fs(location)
            return fs.exists(path)
        except Exception:  # noqa: BLE001
            return False

    def delete(self, location: str | None, parents: int = 0) -> None:
        """Delete a directory tree, then up to `parents` of its parent folders that it leaves empty, as HMS
        does for a dropped partition (`parents`: its number of keys - 1; a folder holding anything, a hidden
        file included, stays). A local tree is first renamed aside to a hidden name (one system call, so its
        path is free at once, and engines listing the parent skip it) and removed in the background:
        dropping a table of 10,000 partition folders does not wait for 10,000 rmdirs."""
        if not location:
            return
        try:
            fs, path = self._fs(location)
            local = _is_local(fs)
            path = path.rstrip("/")
            if local:
                _delete_aside(path)
            elif fs.exists(path):
                fs.rm(path, recursive=True)
            for _ in range(parents):
                path = posixpath.dirname(path)
                if not path or path == "/" or not _is_empty(fs, path, local):
                    break
                if local:
                    _delete_aside(path)
                else:
                    fs.rm(path, recursive=True)
        except Exception as e:  # noqa: BLE001
            log.warning("could not delete %s: %s", location, e)

    def quick_stats(self, location: str | None) -> tuple[int, int] | None:
        """HMS's "fast stats" of a folder that exists: (number of files, total bytes), counted through its
        sub-folders, leaving out names starting with `_` or `.` (HMS's hidden files, as `_SUCCESS`). None
        when the folder does not exist (HMS then creates it and records no statistics)."""
        if not location:
            return None
        try:
            fs, path = self._fs(location)
            if _is_local(fs):
                try:
                    return _local_stats(path)
                except (FileNotFoundError, NotADirectoryError):  # (one call fewer than asking first)
                    return None
            if not fs.isdir(path):
                return None
            files, size = 0, 0
            root = path.rstrip("/") + "/"
            for name, info in fs.find(path, withdirs=False, detail=True).items():
                if info.get("type") == "file" and not any(_hidden(p) for p in name.removeprefix(root).split("/")):
                    files += 1
                    size += int(info.get("size") or 0)
            return files, size
        except Exception as e:  # noqa: BLE001 - statistics are a hint: none rather than a failed change
            log.warning("could not list %s for its statistics: %s", location, e)
            return None

    def rename(self, src: str, dst: str) -> None:
        try:
            fs, spath = self._fs(src)
            _, dpath = self._fs(dst)
            if fs.exists(spath):
                missing = _missing_local_dirs(fs, posixpath.dirname(dpath))
                fs.makedirs(posixpath.dirname(dpath), exist_ok=True)
                _own_like_parent(missing)
                fs.mv(spath, dpath, recursive=True)
        except Exception as e:  # noqa: BLE001
            log.warning("could not move %s to %s: %s", src, dst, e)


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


def _local_stats(path: str) -> tuple[int, int]:
    files, size = 0, 0
    stack = [path]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for e in entries:
                if _hidden(e.name):
                    continue
                if e.is_dir(follow_symlinks=True):
                    stack.append(e.path)
                else:
                    files += 1
                    size += e.stat().st_size
    return files, size


def _delete_aside(path: str) -> None:
    """Rename a local tree to a hidden name beside it, then remove it in the background."""
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        os.remove(path)
        return
    head, name = os.path.split(path)
    trash = os.path.join(head, f".{name}{TRASH}{uuid.uuid4().hex[:8]}")
    os.rename(path, trash)
    threading.Thread(target=shutil.rmtree, args=(trash, True), daemon=True).start()


def _is_empty(fs, path: str, local: bool) -> bool:
    """Nothing in the folder but trees being deleted (HMS: no file, no folder, hidden ones included)."""
    if local:
        try:
            with os.scandir(path) as entries:
                return all(TRASH in e.name for e in entries)
        except (FileNotFoundError, NotADirectoryError):
            return False
    return fs.isdir(path) and not fs.ls(path, detail=False)


def _is_local(fs) -> bool:
    return getattr(fs, "protocol", None) in ("file", ("file", "local"))


def _missing_local_dirs(fs, path: str) -> list[str]:
    """The directories, top down, that making local `path` will create; [] unless this process is root
    (only then are they given an owner, see _own_like_parent) or `path` is not local."""
    if os.geteuid() != 0 or not _is_local(fs):
        return []
    missing = []
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing[::-1]


def _own_like_parent(created: list[str]) -> None:
    """A server running as root gives each directory it just created the owner (uid, gid) of its parent:
    the administrator gives the warehouse root to the OS user job drivers run as (job_os_user), and every
    database, table and partition directory the catalog makes below it is theirs to write."""
    for path in created:
        try:
            st = os.lstat(os.path.dirname(path))
            own = os.lstat(path)
            if stat.S_ISDIR(own.st_mode) and own.st_uid == 0 and (st.st_uid, st.st_gid) != (0, own.st_gid):
                os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
        except OSError as e:
            log.warning("could not give directory %s the owner of its parent: %s", path, e)
