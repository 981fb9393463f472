"""What the `mortar` sub-commands share: the catalog of the settings, errors, KEY=VALUE options, tables."""

from __future__ import annotations

import click


def catalog():
    """The catalog service of the current settings (MORTAR_* environment, MORTAR_CONFIG file)."""
    from metastore.catalog import CatalogService
    from metastore.config import Settings

    s = Settings.load()
    return CatalogService.open(s.database_url, s.warehouse, lock_timeout_s=s.lock_timeout_s)


def fail(e: Exception) -> None:
    """A catalog error, as a clear command-line error (exit status 1)."""
    raise click.ClickException(str(e)) from e


def pairs(items, option: str) -> dict[str, str]:
    """KEY=VALUE options as a dict."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        out[key] = value
    return out


def when(ts_ms) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ms / 1000).strftime("%Y-%m-%d %H:%M:%S") if ts_ms else "-"


def table(header: list[str], rows: list[tuple]) -> None:
    """Rows as aligned columns."""
    cells = [header, *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
