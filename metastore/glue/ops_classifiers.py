"""Glue's classifier operations over Mortar's custom classifiers (grok, JSON, CSV, XML): not database
objects, everyone reads them, editors change them; an update changes the fields given."""

from __future__ import annotations

from metastore.catalog.crawlers import Classifier
from metastore.glue import control as c
from metastore.glue.errors import invalid_input
from metastore.glue.registry import GlueRequest, operation

_KINDS = {"GrokClassifier": "grok", "XMLClassifier": "xml", "JsonClassifier": "json", "CsvClassifier": "csv"}


def classifier_out(cl: Classifier) -> dict:
    if cl.kind == "grok":
        return {"GrokClassifier": c.compact({"Name": cl.name, "Classification": cl.classification,
                                             "GrokPattern": cl.grok_pattern, "CustomPatterns": cl.custom_patterns})}  # fmt: skip
    if cl.kind == "xml":
        return {
            "XMLClassifier": {"Name": cl.name, "Classification": cl.classification, "RowTag": cl.xml_row_tag}
        }
    if cl.kind == "json":
        return {"JsonClassifier": {"Name": cl.name, "JsonPath": cl.json_path}}
    return {"CsvClassifier": c.compact({"Name": cl.name, "Delimiter": cl.csv_delimiter, "QuoteSymbol": cl.csv_quote,
                                        "ContainsHeader": cl.csv_header, "Header": cl.csv_column_names})}  # fmt: skip


def _classifier_in(body: dict, base: Classifier | None = None) -> Classifier:
    given = [k for k in _KINDS if body.get(k) is not None]
    if len(given) != 1:
        raise invalid_input(f"give exactly one of {', '.join(_KINDS)}")
    key = given[0]
    spec = c.struct(body, key)
    kind = _KINDS[key]
    name = c.text(spec, "Name", required=True)
    cl = base if base is not None and base.kind == kind else Classifier(name, kind, None)
    fields = {"Classification": "classification", "GrokPattern": "grok_pattern", "CustomPatterns": "custom_patterns",
              "RowTag": "xml_row_tag", "JsonPath": "json_path", "Delimiter": "csv_delimiter",
              "QuoteSymbol": "csv_quote", "ContainsHeader": "csv_header"}  # fmt: skip
    for glue, attr in fields.items():
        if glue in spec:
            setattr(cl, attr, c.text(spec, glue))
    if "Header" in spec:
        cl.csv_column_names = c.strings(spec, "Header") or None
    return cl


@operation("CreateClassifier")
def create_classifier(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    req.service.crawlers.create_classifier(_classifier_in(body))
    return {}


@operation("GetClassifier")
def get_classifier(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    return {
        "Classifier": classifier_out(req.service.crawlers.get_classifier(c.text(body, "Name", required=True)))
    }


@operation("GetClassifiers")
def get_classifiers(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    chosen, more = c.page_by_key(body, req.service.crawlers.list_classifiers(), lambda cl: cl.name)
    return {"Classifiers": [classifier_out(cl) for cl in chosen], **more}


@operation("UpdateClassifier")
def update_classifier(req: GlueRequest, body: dict) -> dict:
    """Change the fields given (the kind may change too)."""
    req.check("write")
    name = next((c.text(c.struct(body, k), "Name") for k in _KINDS if body.get(k) is not None), None)
    current = req.service.crawlers.get_classifier(name or "")
    req.service.crawlers.update_classifier(current.name, _classifier_in(body, current))
    return {}


@operation("DeleteClassifier")
def delete_classifier(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    req.service.crawlers.delete_classifier(c.text(body, "Name", required=True))
    return {}
