"""The API's interactive documentation at /api/docs: every operation of the OpenAPI description (openapi.SPEC),
grouped by tag, each with a form that sends the request from the browser and shows the answer.

Server-rendered from the same SPEC the API serves, so it cannot drift from it; the only script is
static/apidocs.js (no third-party JavaScript, allowed by the Content-Security-Policy). Requests go with the
console's session cookie (and its CSRF token for changes) or an API token typed into the page.
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("api_docs", __name__)


def _schema_name(op: dict) -> str | None:
    ref = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _example(schema: dict, schemas: dict, depth: int = 0):
    """A body to start from: the required fields of a schema with placeholder values."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if kind == "object" and depth < 3:
        required = schema.get("required") or []
        return {k: _example(v, schemas, depth + 1) for k, v in schema.get("properties", {}).items() if k in required}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(kind, None)


def operations() -> list[tuple[str, list[dict]]]:
    """(tag, operations) in the order of the description; each operation with what its form needs."""
    import json

    from metastore.web.api import PREFIX
    from metastore.web.openapi import SPEC

    schemas = SPEC["components"]["schemas"]
    tags: dict[str, list[dict]] = {}
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            body = _schema_name(op)
            tags.setdefault((op.get("tags") or ["other"])[0], []).append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "method": method.upper(), "path": PREFIX + path, "summary": op.get("summary", ""),
                "parameters": op.get("parameters", []), "body": body,
                "example": json.dumps(_example({"$ref": f"#/components/schemas/{body}"}, schemas), indent=2)
                if body else "",
            })  # fmt: skip
    return list(tags.items())


@bp.get("/api/docs")
def docs():
    """No data on this page: it is open, like openapi.json; the requests it sends need a login or a token."""
    return render_template("api_docs.html", groups=operations())
