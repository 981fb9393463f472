"""Walking a crawler target: the data files under a path (local or any fsspec URL), minus exclusions.

Exclusion globs are relative to the target: `*` and `?` stay within a folder, `**` crosses folders
(Glue's rules). Hidden files (a name starting with `.` or `_`: `_SUCCESS`, `.part-0.crc`) are not data.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from fsspec.core import url_to_fs


class DataFile(NamedTuple):  # a tuple: a merge makes a million of them
    path: str  # as the filesystem names it (no protocol)
    folders: tuple[str, ...]  # folder names between the target root and the file
    name: str
    size: int
    version: str  # what changes when the file changes: mtime, or the object's ETag


@dataclass
class Walk:
    fs: object
    root: str  # the target root, as the filesystem names it
    protocol: str  # "file", "s3", ...
    files: list[DataFile] = field(default_factory=list)
    hidden: int = 0
    excluded: int = 0
    refused: list[str] = field(default_factory=list)  # symbolic links that lead outside the allowed roots
    _folders: list | None = None

    def folders(self) -> list[tuple[tuple[str, ...], list[DataFile]]]:
        """The files grouped by their folder, in path order (computed once)."""
        if self._folders is None:
            self._folders = list(iter_leaf_folders(self.files))
        return self._folders

    def url(self, path: str) -> str:
        """A location for the catalog: file:/abs/path or s3://bucket/key."""
        if self.protocol == "file":
            return "file:" + path
        return f"{self.protocol}://{path}"


def glob_to_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                out[-1] = "(?:.*/)?"
                i += 1
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{":
            end = pattern.find("}", i)
            if end > i:
                out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1 : end].split(",")) + ")")
                i = end + 1
                continue
            out.append(re.escape(c))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _version(info: dict) -> str:
    for key in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created"):
        if info.get(key) is not None:
            return str(info[key]).strip('"')
    return ""


def walk(url: str, exclusions: list[str] | None = None, storage_options: dict | None = None,
         allowed: list[str] | None = None, only: list[str] | None = None, root_files: bool = True) -> Walk:  # fmt: skip
    """The data files under `url`. `allowed`: roots (metastore.catalog.paths.allowed_roots) that local
    symbolic links met on the way must stay within; those that do not are listed in `refused`.
    `only`: walk just these top-level folders (a piece of a split crawl), with the files directly under
    `url` if `root_files`."""
    fs, root = url_to_fs(url, **(storage_options or {}))
    root = root.rstrip("/")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    protocol = "file" if protocol in ("file", "local") else protocol
    result = Walk(fs, root, protocol)
    rules = [glob_to_regex(p.strip().lstrip("/")) for p in exclusions or [] if p.strip()]
    if not fs.exists(root):
        raise FileNotFoundError(f"crawler target {url} does not exist")
    tops = None if only is None else set(only)
    if protocol == "file":
        listing = _local_find(root, allowed, result.refused, tops, root_files)
    else:
        listing = _find(fs, root) if tops is None else _find_some(fs, root, tops, root_files)
    for path, size, version in sorted(listing):
        rel = path[len(root) :].lstrip("/")
        slashed = "/" + rel
        if "/." in slashed or "/_" in slashed:
            result.hidden += 1
            continue
        parts = rel.split("/")
        if any(r.match(rel) for r in rules):
            result.excluded += 1
            continue
        result.files.append(DataFile(path, tuple(parts[:-1]), parts[-1], size, version))
    return result


def _find(fs, root: str) -> Iterator[tuple[str, int, str]]:
    for path, info in fs.find(root, detail=True).items():
        if info.get("type") != "directory":
            yield path, int(info.get("size") or 0), _version(info)


def _find_some(fs, root: str, tops: set[str], root_files: bool) -> Iterator[tuple[str, int, str]]:
    """The files of some top-level folders of `root` (and those directly in it, if `root_files`)."""
    for info in fs.ls(root, detail=True):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info.get("type") == "directory":
            if name in tops:
                yield from _find(fs, info["name"].rstrip("/"))
        elif root_files:
            yield info["name"], int(info.get("size") or 0), _version(info)


def top_folders(url: str, storage_options: dict | None = None) -> list[str]:
    """The names of the folders directly under `url`, sorted (hidden ones too: the walk skips them)."""
    fs, root = url_to_fs(url, **(storage_options or {}))
    root = root.rstrip("/")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if not fs.exists(root):
        raise FileNotFoundError(f"crawler target {url} does not exist")
    if protocol in ("file", "local"):
        with os.scandir(root) as entries:
            return sorted(e.name for e in entries if e.is_dir(follow_symlinks=True))
    return sorted(i["name"].rstrip("/").rsplit("/", 1)[-1] for i in fs.ls(root, detail=True)
                  if i.get("type") == "directory")  # fmt: skip


def _local_find(root: str, allowed: list[str] | None = None, refused: list[str] | None = None,
                tops: set[str] | None = None, root_files: bool = True) -> Iterator[tuple[str, int, str]]:  # fmt: skip
    """os.scandir is several times faster than fsspec's local find on folders of many small files.
    Symbolic links are followed only within `allowed` (when given), and a folder is entered once.
    `tops`: only these folders of `root` are entered, and its own files are listed if `root_files`."""
    from metastore.catalog.paths import is_allowed

    stack = [root]
    seen = {os.path.realpath(root)}
    while stack:
        folder = stack.pop()
        if tops is not None and folder == root:
            entries = _top_entries(root, tops, root_files)  # not the root's whole listing (for each piece)
        else:
            entries = os.scandir(folder)
        with entries:
            for e in entries:
                if tops is not None and folder == root:
                    if not (e.name in tops if e.is_dir(follow_symlinks=True) else root_files):
                        continue
                if e.is_symlink():
                    real = os.path.realpath(e.path)
                    if allowed is not None and not is_allowed(real, allowed):
                        if refused is not None:
                            refused.append(e.path)
                        continue
                    if e.is_dir(follow_symlinks=True):
                        if real in seen:
                            continue
                        seen.add(real)
                if e.is_dir(follow_symlinks=True):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=True):
                    st = e.stat()
                    yield e.path, st.st_size, repr(st.st_mtime)


class _Entries(list):
    """Directory entries, usable as os.scandir's iterator is (`with`)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _top_entries(root: str, tops: set[str], root_files: bool) -> _Entries:
    """The entries of `root` named in `tops` (and its files if `root_files`): a piece of a split crawl
    lists its own folders, not the whole root (100,000 entries, for each of hundreds of pieces)."""
    if root_files:
        with os.scandir(root) as entries:
            return _Entries(e for e in entries if e.name in tops or not e.is_dir(follow_symlinks=True))
    return _Entries(_PathEntry(root, name) for name in sorted(tops)
                    if "/" not in name and os.path.lexists(posixpath.join(root, name)))  # fmt: skip


class _PathEntry:
    """What `_local_find` asks of an os.DirEntry, for a path named rather than listed."""

    __slots__ = ("name", "path", "_lstat")

    def __init__(self, folder: str, name: str):
        self.name, self.path = name, posixpath.join(folder, name)
        self._lstat = os.lstat(self.path)

    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self._lstat.st_mode)

    def stat(self) -> os.stat_result:
        return os.stat(self.path) if self.is_symlink() else self._lstat

    def is_dir(self, follow_symlinks: bool = True) -> bool:
        try:
            return stat.S_ISDIR(self.stat().st_mode)
        except OSError:
            return False

    def is_file(self, follow_symlinks: bool = True) -> bool:
        try:
            return stat.S_ISREG(self.stat().st_mode)
        except OSError:
            return False


def iter_leaf_folders(files: list[DataFile]) -> Iterator[tuple[tuple[str, ...], list[DataFile]]]:
    """Files grouped by their folder, in path order."""
    groups: dict[tuple[str, ...], list[DataFile]] = {}
    for f in files:
        groups.setdefault(f.folders, []).append(f)
    yield from sorted(groups.items())
