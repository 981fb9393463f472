"""Paging as botocore's paginators expect: `MaxResults` in, an opaque `NextToken` out, no token at the end.

A token carries the operation it belongs to and where the next page starts (an offset, or the last key
seen); each page's token is past the previous one's, so the same token never comes back twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from metastore.glue.errors import invalid_input


def max_results(body: dict, default: int = 100, maximum: int = 1000) -> int:
    """The page size asked for (`MaxResults`), within 1..maximum."""
    n = body.get("MaxResults")
    if n is None:
        return default
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise invalid_input(f"MaxResults must be a positive integer, not {n!r}")
    return min(n, maximum)


def encode(op: str, state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps({"op": op, **state}, separators=(",", ":")).encode()).decode()


def decode(op: str, body: dict) -> dict | None:
    """The state of the request's `NextToken` (None: the first page); a token of another operation or one
    that is not ours is InvalidInputException."""
    token = body.get("NextToken")
    if token in (None, ""):
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(state, dict) or state.pop("op") != op:
            raise ValueError
        return state
    except (ValueError, TypeError, KeyError, AttributeError):
        raise invalid_input(f"NextToken {str(token)[:40]!r} is not a token of {op}") from None


def page(op: str, items: Sequence, body: dict, default: int = 100, maximum: int = 1000) -> tuple[list, str | None]:
    """One page of `items` (a full listing, in a stable order) and the token of the next one, if any."""
    state = decode(op, body) or {}
    start = state.get("o", 0)
    if not isinstance(start, int) or start < 0:
        raise invalid_input("NextToken is not valid")
    size = max_results(body, default, maximum)
    chunk = list(items[start : start + size])
    nxt = encode(op, {"o": start + size}) if start + size < len(items) else None
    return chunk, nxt


def with_token(answer: dict, token: str | None) -> dict:
    if token:
        answer["NextToken"] = token
    return answer
