"""What the Glue control-plane operations (jobs, crawlers, triggers, workflows, connections, scripts) share:
field readers that answer InvalidInputException, times as Glue's epoch seconds, AWS cron expressions,
paging by name, the web layer's task sender and tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from metastore.glue import tags as tag_store
from metastore.glue.errors import GlueError, invalid_input
from metastore.glue.registry import GlueRequest

T = TypeVar("T")
MAX_PAGE = 1000


# --- reading request fields ------------------------------------------------------------------------------


def text(body: dict, key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise invalid_input(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise invalid_input(f"{key} must be a string, not {value!r}")
    return value


def struct(body: dict, key: str) -> dict:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_input(f"{key} must be an object")
    return value


def strings(body: dict, key: str, required: bool = False) -> list[str]:
    value = body.get(key)
    if value is None:
        if required:
            raise invalid_input(f"{key} is required")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_input(f"{key} must be a list of strings")
    return value


def string_map(body: dict, key: str) -> dict[str, str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise invalid_input(f"{key} must map strings to strings")
    return value


def integer(body: dict, key: str, low: int | None = None, high: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_input(f"{key} must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid_input(f"{key} {value} is out of range [{low}, {high}]")
    return value


def flag(body: dict, key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise invalid_input(f"{key} must be true or false")
    return value


# --- answers -----------------------------------------------------------------------------------------------


def seconds(ms: int | None) -> float | None:
    """Catalog milliseconds as Glue's epoch seconds."""
    return None if ms is None else ms / 1000


def compact(d: dict) -> dict:
    """`d` without its None values (Glue leaves unset members out)."""
    return {k: v for k, v in d.items() if v is not None}


def run_id(prefix: str, rid: int) -> str:
    return f"{prefix}_{rid}"


def parse_run_id(prefix: str, value, what: str = "RunId") -> int:
    """`jr_12` (or `12`, as Mortar's CLI shows it) → 12; an id naming nothing is EntityNotFound."""
    if not isinstance(value, str) or not value:
        raise invalid_input(f"{what} must be a string")
    digits = value.removeprefix(f"{prefix}_")
    if not digits.isdigit() or len(digits) > 18:
        raise GlueError("EntityNotFoundException", f"run {value} does not exist")
    return int(digits)


# --- paging ------------------------------------------------------------------------------------------------


def page_size(body: dict, default: int = 100, high: int = MAX_PAGE) -> int:
    """MaxResults (at least 1; more than `high` gets `high`, as Glue pages do), or `default`."""
    n = integer(body, "MaxResults", 1)
    return default if n is None else min(n, high)


def page_by_key(
    body: dict, items: Iterable[T], key: Callable[[T], str], default: int = 100
) -> tuple[list[T], dict]:
    """A page of `items` (sorted by `key`) after the key in NextToken; the answer's NextToken member when
    more follow. Keys are names, so objects created or deleted meanwhile never repeat or skip others."""
    limit = page_size(body, default)
    after = text(body, "NextToken")
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [i for i in ordered if key(i) > after]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return chosen, ({"NextToken": key(chosen[-1])} if more and chosen else {})


def page_by_offset(body: dict) -> tuple[int, int]:
    """(limit, offset) of NextToken (an offset, for lists newest first such as runs)."""
    limit = page_size(body, 100, 200)
    token = text(body, "NextToken")
    if token is None:
        return limit, 0
    if not token.isdigit() or len(token) > 12:
        raise invalid_input(f"NextToken {token!r} was not given by this service")
    return limit, int(token)


def next_offset(offset: int, shown: int, total: int) -> dict:
    return {"NextToken": str(offset + shown)} if shown and offset + shown < total else {}


# --- the web layer's task sender and tags ----------------------------------------------------------------


def sender(req: GlueRequest):
    """The web layer's `send_task(name, args)` (Celery task by name)."""
    send = req.extra.get("send_task")
    if send is None:
        raise GlueError("InternalServiceException", "this Glue server cannot queue work (no broker)", 500)
    return send


def set_tags(req: GlueRequest, arn: str, tags) -> None:
    """Tag a new resource (Create* with Tags)."""
    if tags:
        tag_store.set_tags(req, arn, tags)


def drop_tags(req: GlueRequest, arn: str) -> None:
    tag_store.drop_tags(req, arn)


def tagged(req: GlueRequest, body: dict, kind: str, items: list[T], key: Callable[[T], str]) -> list[T]:
    """`items` whose resource (`kind`/key) has every tag of the request's `Tags` filter (List* operations)."""
    wanted = string_map(body, "Tags")
    if not wanted:
        return items
    return [i for i in items if wanted.items() <= tag_store.get_tags(req, req.arn(kind, key(i))).items()]


def register_exists(kind: str, check: Callable[[GlueRequest, str], object]) -> None:
    """Tag operations on `kind` ARNs check that the resource exists (and may be seen) with `check`."""
    tag_store.EXISTS[kind] = lambda req, parts: check(req, "/".join(parts))


# --- AWS cron expressions ----------------------------------------------------------------------------------


def _shift_dow(field: str, to_aws: bool) -> str:
    """Day-of-week numbers between AWS (1=SUN..7=SAT) and cron (0 or 7=SUN..6=SAT); names kept."""
    out = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        ends = base.split("-")
        moved = []
        for e in ends:
            if e.isdigit():
                n = int(e) % 7 + 1 if to_aws else int(e) - 1
                if not 0 <= n <= 7:
                    raise invalid_input(f"day of week {e} is out of range (1-7)")
                moved.append(str(n))
            else:
                moved.append(e)
        out.append("-".join(moved) + (slash + step if slash else ""))
    return ",".join(out)


def from_aws_cron(expression: str | None) -> str | None:
    """`cron(15 12 * * ? *)` (AWS: minutes hours day-of-month month day-of-week year) → the 5-field cron
    Mortar stores; a plain 5-field expression is taken as it is. None or "" → None."""
    if expression is None or not expression.strip():
        return None
    e = expression.strip()
    if not (e.lower().startswith("cron(") and e.endswith(")")):
        if len(e.split()) == 5:
            return e
        raise invalid_input(
            f"schedule {expression!r} is not cron(minutes hours day-of-month month day-of-week year)"
        )
    fields = e[5:-1].split()
    if len(fields) != 6:
        raise invalid_input(f"schedule {expression!r} needs 6 fields inside cron(...)")
    minute, hour, dom, month, dow, year = fields
    if year not in ("*", "?"):
        raise invalid_input(f"schedule {expression!r}: a year other than * is not supported")
    if any(c in f for f in (dom, dow) for c in "LW#"):
        raise invalid_input(f"schedule {expression!r}: L, W and # are not supported")
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else _shift_dow(dow, False)
    return " ".join((minute, hour, dom, month, dow))


def to_aws_cron(cron: str | None) -> str | None:
    """Mortar's 5-field cron as AWS writes it: `0 3 * * *` → `cron(0 3 * * ? *)`."""
    if not cron:
        return None
    minute, hour, dom, month, dow = cron.split()
    if dow == "*":
        dow = "?"
    else:
        dow = _shift_dow(dow, True)
        if dom == "*":
            dom = "?"
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


# --- Glue-only fields ----------------------------------------------------------------------------------------


def attributes(req: GlueRequest):
    from metastore.glue.paused import Attributes

    return Attributes(req.service.ctx)


def kept(body: dict, keys: tuple[str, ...], replace: bool = False) -> dict:
    """The fields of `keys` in `body` (kept, answered as given); with `replace`, absent ones as None (removed)."""
    import json

    from metastore.glue.paused import MAX_ATTRIBUTES

    out = {k: body.get(k) for k in keys if replace or k in body}
    if len(json.dumps(out, default=str)) > MAX_ATTRIBUTES:
        raise invalid_input(f"{', '.join(out)}: larger than {MAX_ATTRIBUTES} bytes as JSON")
    return out
