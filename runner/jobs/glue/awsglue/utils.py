"""Job arguments as Glue's getResolvedOptions resolves them."""

from __future__ import annotations

import argparse

# Arguments Glue gives every run: resolved (None when absent) whether or not a script asks for them.
_RESERVED = {
    "job-bookmark-option": "job_bookmark_option",
    "job-bookmark-from": "job_bookmark_from",
    "job-bookmark-to": "job_bookmark_to",
    "JOB_ID": "JOB_ID",
    "JOB_RUN_ID": "JOB_RUN_ID",
    "SECURITY_CONFIGURATION": "SECURITY_CONFIGURATION",
    "encryption-type": "encryption_type",
    "enable-data-lineage": "enable_data_lineage",
    "RedshiftTempDir": "RedshiftTempDir",
    "TempDir": "TempDir",
}
BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")


class GlueArgumentError(Exception):
    """A job argument is missing or invalid."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print and exit: the run fails with Glue's exception instead
        raise GlueArgumentError(message)


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str | None]:  # noqa: N802 - Glue's name
    """The values of `--NAME value` (or `--NAME=value`) in `args` (sys.argv) for each NAME of `options`, all
    required, plus Glue's reserved arguments (job_bookmark_option, JOB_RUN_ID, TempDir...: None when absent).
    Unknown arguments are ignored; a missing one raises GlueArgumentError."""
    parser = _Parser(add_help=False, allow_abbrev=False)
    for flag, dest in _RESERVED.items():
        if flag not in options:
            parser.add_argument("--" + flag, dest=dest, default=None)
    for name in options:
        if name.startswith("--"):
            raise GlueArgumentError(f"option {name!r}: name options without the leading '--'")
        parser.add_argument("--" + name, dest=name, required=True)
    resolved, _ = parser.parse_known_args(list(args[1:]))
    out = vars(resolved)
    option = out.get("job_bookmark_option")
    if option is not None and option not in BOOKMARK_OPTIONS:
        raise GlueArgumentError(f"--job-bookmark-option {option!r} is not one of {', '.join(BOOKMARK_OPTIONS)}")
    return out
