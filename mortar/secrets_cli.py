"""`mortar secrets ...`: the key that encrypts secrets at rest (connection passwords, the web session key),
its status, and its rotation.

Rotation, with a key file (`<data_dir>/secret.key` or the `secret_key_file` setting):

    mortar secrets rotate            # a new key goes first in the key file, the old one stays second;
                                     # every secret is re-encrypted with the new key (one transaction)
    # copy the key file to every machine running Mortar (servers, workers), if they do not share it
    mortar secrets rotate --finish   # checks every secret decrypts with the new key, drops the old one

With MORTAR_SECRET_KEY: set it to NEW,OLD everywhere (NEW from `mortar secrets generate-key`), run
`mortar secrets rotate`, then set it to NEW alone and run `mortar secrets rotate --finish`.
"""

from __future__ import annotations

import json
import sys

import click


def _settings():
    from metastore.config import Settings

    try:
        return Settings.load()
    except (OSError, ValueError) as e:
        raise click.UsageError(str(e)) from e


def _engine(settings):
    from metastore.storage.engine import make_engine, upgrade_schema

    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return engine


def _fail(e: Exception):
    raise click.ClickException(str(e)) from e


@click.group()
def secrets() -> None:
    """Secrets at rest: the key that encrypts connection passwords and the web session key.

    The key is MORTAR_SECRET_KEY (the key itself), else the key file: the `secret_key_file` setting,
    by default <data_dir>/secret.key, made (mode 0600) on first use. Keep it out of the catalog's backups.
    """


@secrets.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Where the key comes from, its keys (by fingerprint, never the keys), and how the stored secrets stand.

    Exits with status 1 when a stored secret decrypts with none of the keys.
    """
    from metastore.catalog.encryption import SecretKeyError, Secrets, census, fingerprint

    s = _settings()
    box = Secrets.from_settings(s)
    engine = _engine(s)
    try:
        if not box.exists():
            keys = []
        else:
            keys = box.keys(create=False)
        counts = census(engine, box)
    except SecretKeyError as e:
        _fail(e)
    finally:
        engine.dispose()
    info = {
        "source": box.source,
        "keys": [fingerprint(k) for k in keys],
        "secrets": counts,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        if not keys:
            click.echo(f"key:     none yet ({box.source} is made on first use)")
        else:
            older = f"; older: {', '.join(info['keys'][1:])}" if len(keys) > 1 else ""
            click.echo(f"key:     {box.source}, encrypting with {info['keys'][0]}{older}")
        if counts is not None:
            click.echo(f"secrets: {counts['primary']} encrypted with the current key, {counts['older']} with an "
                       f"older key, {counts['plain']} in plain text, {counts['undecryptable']} that no key decrypts")  # fmt: skip
            if counts["older"] or counts["plain"]:
                click.echo("next:    mortar secrets rotate (re-encrypts them all with the current key)")
            elif len(keys) > 1:
                click.echo("next:    mortar secrets rotate --finish (drops the older keys)")
    if counts and counts["undecryptable"]:
        sys.exit(1)


@secrets.command("generate-key")
def generate_key() -> None:
    """Print a new random key (for MORTAR_SECRET_KEY, or `rotate --key-stdin`)."""
    from metastore.catalog.encryption import new_key

    click.echo(new_key())


@secrets.command("rotate")
@click.option("--finish", is_flag=True,
              help="Re-encrypt every secret with the current key, check it, then drop the older keys.")  # fmt: skip
@click.option("--key-stdin", is_flag=True,
              help="Read the new key from standard input instead of generating one (key file only).")  # fmt: skip
def rotate(finish: bool, key_stdin: bool) -> None:
    """Encrypt every stored secret with a new key, in one transaction.

    With a key file: a new key (generated, or read with --key-stdin) goes first in the file and the old
    ones stay, so that servers still running with them (and copies of the file elsewhere) keep working;
    every secret is re-encrypted with it, plain-text ones from older catalogs too. Then, once every machine
    has the new file, `mortar secrets rotate --finish` re-encrypts what was written meanwhile with an old
    key, checks every secret decrypts with the new key alone, and removes the old keys from the file.

    With MORTAR_SECRET_KEY: put the new key first in it (MORTAR_SECRET_KEY=NEW,OLD; NEW from `mortar
    secrets generate-key`), run this command, then set it to NEW alone and run it with --finish.
    """
    from metastore.catalog.encryption import (
        SecretKeyError,
        Secrets,
        fingerprint,
        new_key,
        reencrypt_all,
        write_key_file,
    )

    s = _settings()
    box = Secrets.from_settings(s)
    path = box.key_file
    if key_stdin and (finish or path is None):
        raise click.UsageError("--key-stdin gives the new key of a key file; "
                               + ("not with --finish" if finish else "MORTAR_SECRET_KEY holds the keys here"))  # fmt: skip
    engine = _engine(s)
    try:
        keys = box.keys()
        if finish:
            n = reencrypt_all(engine, box, only=Secrets([keys[0]]))
            if path is not None and len(keys) > 1:
                write_key_file(path, keys[:1])
            click.echo(f"{n} secret(s) encrypted with key {fingerprint(keys[0])} alone; "
                       + (f"older keys removed from {path}" if path is not None and len(keys) > 1
                          else "set MORTAR_SECRET_KEY to its first key alone now" if len(keys) > 1
                          else "there were no older keys"))  # fmt: skip
            return
        if path is not None:
            new = Secrets(sys.stdin.readline()).keys()[0] if key_stdin else new_key()
            keys = [new] + [k for k in keys if k != new]
            write_key_file(path, keys)  # first: if what follows fails, the old key still decrypts everything
        n = reencrypt_all(engine, box)
        click.echo(f"{n} secret(s) re-encrypted with key {fingerprint(keys[0])} ({box.source})")
        if len(keys) > 1:
            click.echo("older keys still decrypt; when every machine has the new key: mortar secrets rotate --finish")
        elif path is None:
            click.echo("to change the key: set MORTAR_SECRET_KEY=NEW,OLD (NEW from `mortar secrets generate-key`) "
                       "and run this again")  # fmt: skip
    except SecretKeyError as e:
        _fail(e)
    finally:
        engine.dispose()
