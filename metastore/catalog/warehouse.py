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

log = logging.getLogger(__name__)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base.rstrip("/"), *parts)


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
        return url_to_fs(location)

    def mkdirs(self, location: str | None) -> None:
        if not location:
            return
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

    def delete(self, location: str | None) -> None:
        """Delete a directory tree. A local one is first renamed aside (one system call, so its path
        is free at once) and removed in the background: dropping a table of 10,000 partition folders
        does not wait for 10,000 rmdirs."""
        if not location:
            return
        try:
            fs, path = self._fs(location)
            if getattr(fs, "protocol", None) in ("file", ("file", "local")) and os.path.isdir(path):
                trash = f"{path.rstrip('/')}.mortar-deleted-{uuid.uuid4().hex[:8]}"
                os.rename(path, trash)
                threading.Thread(target=shutil.rmtree, args=(trash, True), daemon=True).start()
            elif fs.exists(path):
                fs.rm(path, recursive=True)
        except Exception as e:  # noqa: BLE001
            log.warning("could not delete %s: %s", location, e)

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
