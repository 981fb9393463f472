"""The flow the console's create and edit pages share (crawlers, jobs, triggers, workflows, connections,
classifiers), so that each route states only its own parts: its form, its checks, how it saves, where it goes."""

from __future__ import annotations

from collections.abc import Callable

from flask import request

from metastore.catalog.errors import CatalogError


def definition_form(render: Callable, parse: Callable, save: Callable, old=None, preview: bool = False):
    """The one flow of every page that creates (`old` None) or edits (`old`) a definition from its form.

    GET: `render(old, editing)`. POST: `parse(request.form, old's name or None)`, then with `preview` the
    Preview button renders what was sent, else `save(sent)` stores it, flashes and answers the redirect. A
    CatalogError renders the form again with the error, status 400, filled with what was sent (or `old` when
    it did not parse). Access checks are the route's: before this call, or in `parse` or `save`."""
    editing = old is not None
    if request.method == "GET":
        return render(old, editing)
    sent = old
    try:
        sent = parse(request.form, old.name if editing else None)
        if preview and request.form.get("action") == "preview":
            return render(sent, editing)
        return save(sent)
    except CatalogError as e:
        return render(sent, editing, str(e), 400)
