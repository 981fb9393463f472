"""Job bookmarks of Glue sources, kept in Mortar's job bookmarks (committed when a run succeeds).

A source read with a `transformation_ctx` while bookmarks are on is bookmarked as "<db.table or path>@<ctx>":
partition names of a partitioned catalog table, file entries (path, size, mtime) otherwise. What a run read
is sent to the metastore when the script calls `Job.commit()`; the metastore commits it when the run
succeeds, so a failed run (or one that never commits) moves no bookmark.
"""

from __future__ import annotations

import hashlib
import os
import sys

ENABLE, PAUSE, DISABLE = "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"


def option() -> str:
    """The run's bookmark option: --job-bookmark-option in the run's arguments, else the job's setting."""
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--job-bookmark-option" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--job-bookmark-option="):
            return a.split("=", 1)[1]
    return "job-bookmark-" + (os.environ.get("MORTAR_JOB_BOOKMARK") or "disable")


def active(ctx: str) -> bool:
    """Whether a source read with transformation_ctx `ctx` is bookmarked in this run."""
    return bool(ctx) and option() != DISABLE and bool(os.environ.get("MORTAR_JOB_RUN_ID"))


def source_key(what: str, ctx: str) -> str:
    key = f"{what}@{ctx}"
    if len(key) > 256:
        key = f"{key[:180]}~{hashlib.sha256(key.encode()).hexdigest()[:32]}@{ctx[:40]}"
    return key


def done(key: str) -> set[str]:
    """Keys of the entries of `key` that committed runs of this job read."""
    from metastore.catalog.jobs import bookmark_key
    from runner.jobs.context import _catalog

    return {bookmark_key(e) for e in _catalog().call("bookmark", {"table": key})}


def record(pending: dict[str, list]) -> None:
    """Send what this run read (source key -> entries) to the metastore: committed if the run succeeds."""
    from runner.jobs.context import _catalog

    for key, entries in pending.items():
        if entries:
            _catalog().call("record_bookmark", {"table": key, "entries": entries})


def files_under(paths: list[str], recurse: bool = True) -> list[dict]:
    """Data files under `paths` (files or folders): {"path", "size", "mtime"}, hidden ones (._) left out."""
    from fsspec.core import url_to_fs

    out = []
    for p in paths:
        fs, root = url_to_fs(p)
        if fs.isfile(root):
            infos = {root: fs.info(root)}
        else:
            infos = fs.find(root, detail=True, maxdepth=None if recurse else 1)
        proto = p.split("://", 1)[0] + "://" if "://" in p else ""
        for path, info in sorted(infos.items()):
            rel = path[len(root.rstrip("/")):].lstrip("/")
            if info.get("type") != "file" or any(x[:1] in "._" for x in rel.split("/") if x):
                continue
            mtime = info.get("mtime", info.get("LastModified", info.get("last_modified", 0)))
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            full = path if not proto or path.startswith(proto) else proto + path
            out.append({"path": full, "size": int(info.get("size") or 0), "mtime": mtime})
    return out
