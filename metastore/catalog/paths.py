"""Where crawlers and job scripts may reach: the administrator's `allowed_paths` setting.

`allowed_paths` (MORTAR_ALLOWED_PATHS, or `allowed_paths` in the TOML file) is a comma-separated list of
local roots (`/data`, `file:///data`) and URL prefixes (`s3://bucket/raw/`, `https://files.example/`).
Empty (the default) allows the data folder and the catalog's warehouse only, so that `mortar up` works on
one machine and nothing else is reachable until an administrator lists it.

- Local paths (plain, `file://` or `file:`) are compared after resolving symbolic links and `..`
  (realpath): a target is allowed when it is a listed root or under one.
- URLs are compared by prefix on a `/` boundary (`s3://bucket/raw` allows `s3://bucket/raw/x`, not
  `s3://bucket/rawdata`); a URL whose path has a `..` segment is refused, and so are fsspec chained URLs
  (`a::b`), which name more than one store. `http(s)://` is allowed only when listed, like any other URL.
- URLs in storage options (an S3 `endpoint_url`, ...) are places the worker will contact: they must be
  allowed too.

The check is made when a crawler or job is defined and again when a crawl starts (and when a script is
loaded), with the settings of that moment, so a setting changed later is honoured.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from metastore.catalog.errors import InvalidInput

SETTING = "allowed_paths (MORTAR_ALLOWED_PATHS)"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")


class PathNotAllowed(InvalidInput):
    """A crawler target, storage option or script location outside the allowed paths."""


def _is_local(location: str) -> bool:
    m = _SCHEME.match(location)
    return m is None or m.group(1).lower() in ("file", "local")


def _local_path(location: str) -> str:
    """The real absolute path of a local location (plain path, file://host-less URL or file:/path)."""
    m = _SCHEME.match(location)
    if m is not None:
        location = location[m.end() :]
        if not location.startswith("/"):
            location = "/" + location
    elif location.startswith("file:"):
        location = location[len("file:") :]
    return os.path.realpath(os.path.expanduser(location))


def _url_key(location: str) -> str | None:
    """A URL normalised for prefix comparison (scheme and host lower-cased, `//` collapsed), or None when
    its path has a `..` segment."""
    m = _SCHEME.match(location)
    scheme = m.group(1).lower()
    rest = location[m.end() :]
    host, sep, path = rest.partition("/")
    if ".." in path.split("/"):
        return None
    path = re.sub("/+", "/", path)
    return f"{scheme}://{host.lower()}{sep}{path}"


def _within_local(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _within_url(key: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return key.startswith(prefix) or key == prefix.rstrip("/")
    return key == prefix or key.startswith(prefix + "/")


def allowed_roots(warehouse: str | None = None, settings=None) -> list[str]:
    """The allowed roots: the listed ones (local roots resolved), or by default the data folder and
    `warehouse` (the catalog's warehouse root)."""
    if settings is None:
        from metastore.config import Settings

        settings = Settings.load()
    listed = [p.strip() for p in (settings.allowed_paths or "").split(",") if p.strip()]
    if not listed:
        listed = [str(settings.data_dir), *([warehouse] if warehouse else [])]
    roots = []
    for entry in listed:
        if _is_local(entry):
            roots.append(_local_path(entry))
        else:
            key = _url_key(entry)
            if key is not None:
                roots.append(key)
    return list(dict.fromkeys(roots))


def is_allowed(location: str, roots: list[str]) -> bool:
    """Whether `location` (a path or URL) lies within one of `roots` (from `allowed_roots`)."""
    if not isinstance(location, str) or not location.strip() or "::" in location:
        return False
    location = location.strip()
    if _is_local(location):
        path = _local_path(location)
        return any(_is_local(r) and _within_local(path, r) for r in roots)
    key = _url_key(location)
    return key is not None and any(not _is_local(r) and _within_url(key, r) for r in roots)


def check_location(location: str, what: str, *, warehouse: str | None = None, settings=None,
                   roots: list[str] | None = None) -> None:  # fmt: skip
    """PathNotAllowed unless `location` is within the allowed roots; `what` names it in the message
    (e.g. "crawler sales: target"). The message says what was refused and how to allow it."""
    roots = allowed_roots(warehouse, settings) if roots is None else roots
    if is_allowed(location, roots):
        return
    if isinstance(location, str) and "::" in location:
        why = "chained fsspec URLs (::) are not allowed"
    else:
        why = f"it is outside the allowed locations ({', '.join(roots) or 'none'})"
    raise PathNotAllowed(
        f"{what} {location!r} is refused: {why}. An administrator may allow it by adding its root or URL "
        f"prefix to the {SETTING} setting"
    )


def option_urls(options, _key: str = "") -> list[tuple[str, str]]:
    """(key, value) of every URL-like string in storage options (nested mappings and lists too)."""
    found = []
    if isinstance(options, Mapping):
        for k, v in options.items():
            found += option_urls(v, f"{_key}.{k}" if _key else str(k))
    elif isinstance(options, list | tuple):
        for v in options:
            found += option_urls(v, _key)
    elif isinstance(options, str) and _SCHEME.match(options.strip()):
        found.append((_key, options.strip()))
    return found


def check_crawl_locations(name: str, targets, storage_options, *, warehouse: str | None = None,
                          settings=None) -> None:  # fmt: skip
    """PathNotAllowed unless every target of crawler `name`, and every URL in its storage options, is
    allowed."""
    roots = allowed_roots(warehouse, settings)
    for target in targets:
        check_location(getattr(target, "path", target), f"crawler {name}: target", roots=roots)
    for key, url in option_urls(storage_options or {}):
        check_location(url, f"crawler {name}: storage option {key}", roots=roots)


def is_location(text: str) -> bool:
    """Whether a job's `script_location` names a place (a path or URL), rather than describing where the
    script came from (`mapping a.b -> c.d`, written by `mortar job generate`)."""
    return isinstance(text, str) and bool(text.strip()) and not text.startswith("mapping ")
