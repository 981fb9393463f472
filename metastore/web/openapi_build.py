"""What the OpenAPI description (openapi.py, openapi_etl.py) is written with: JSON Schema shorthands,
parameters, and `paths`, which turns a table of routes into OpenAPI `paths`, so that every route is
described the same way.
"""

from __future__ import annotations

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
STR_MAP = {"type": "object", "additionalProperties": STR}
NAME = {"type": "string", "pattern": "^[A-Za-z0-9_]{1,128}$"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict, **extra) -> dict:
    return {"anyOf": [schema, {"type": "null"}], **extra}


def array(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


def obj(required: list[str] | None, props: dict, closed: bool = False) -> dict:
    """An object schema; `required` None leaves the key out, `closed` refuses unknown properties."""
    out: dict = {"type": "object"}
    if required is not None:
        out["required"] = required
    out["properties"] = props
    if closed:
        out["additionalProperties"] = False
    return out


def requiring(schema: dict, *fields: str) -> dict:
    """`schema` with `fields` required too: the create form of an update schema."""
    return {**schema, "required": sorted({*schema.get("required", []), *fields})}


def page_of(item: str) -> dict:
    """A page of a list route: {"items", "total", "limit", "offset"}."""
    return obj(
        ["items", "total", "limit", "offset"],
        {"items": array(ref(item)), "total": INT, "limit": INT, "offset": INT},
    )


def param(
    name: str, where: str = "path", schema: dict | None = None, description: str = "", example=None
) -> dict:
    out = {"name": name, "in": where, "required": where == "path", "description": description or name,
           "schema": schema or STR}  # fmt: skip
    if example is not None:
        out["example"] = example
    return out


LIMIT = param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 1000},
    "Items per page (1-1000, default 50)",
)
PAGING = [param("q", "query", STR, "Only names containing this text (case-insensitive)"), LIMIT,
          param("offset", "query", {"type": "integer", "minimum": 0}, "Items to skip (default 0)")]  # fmt: skip

ERRORS = {
    "default": {
        "description": "An error: 400 bad input, 401 not logged in, 403 not allowed, 404 missing, 409 conflict",
        "content": {"application/json": {"schema": ref("Error")}},
    }
}


def paths(routes: list[tuple]) -> dict:
    """The OpenAPI `paths` of a table of routes, each row

        (method, path, summary, tag, parameters, body, status, response[, answer])

    body: the name of the request's schema, with a trailing "?" when the body may be left out; response: the
    answer's schema, by name or inline (None: no content); answer: the response's description, else the
    summary. Every operation also has the shared error response.
    """
    out: dict = {}
    for method, path, summary, tag, params, body, status, response, *answer in routes:
        described = {"description": answer[0] if answer else summary}
        if response is not None:
            schema = ref(response) if isinstance(response, str) else response
            described["content"] = {"application/json": {"schema": schema}}
        op = {"summary": summary, "responses": {str(status): described, **ERRORS}, "tags": [tag]}
        if params:
            op["parameters"] = params
        if body:
            op["requestBody"] = {"required": not body.endswith("?"),
                                 "content": {"application/json": {"schema": ref(body.removesuffix("?"))}}}  # fmt: skip
        out.setdefault(path, {})[method] = op
    return out
