"""Glue's errors: HTTP 400 with `{"__type": ..., "Message": ...}` (boto3 retries 5xx, so client errors are
never 5xx). Catalog errors map to their Glue names here, in one place."""

from __future__ import annotations

from metastore.catalog import errors as catalog_errors


class GlueError(Exception):
    def __init__(self, type_: str, message: str, status: int = 400):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status


def not_found(message: str) -> GlueError:
    return GlueError("EntityNotFoundException", message)


def invalid_input(message: str) -> GlueError:
    return GlueError("InvalidInputException", message)


def already_exists(message: str) -> GlueError:
    return GlueError("AlreadyExistsException", message)


def concurrent_modification(message: str) -> GlueError:
    return GlueError("ConcurrentModificationException", message)


_CATALOG = {
    catalog_errors.NotFound: "EntityNotFoundException",
    catalog_errors.AlreadyExists: "AlreadyExistsException",
    catalog_errors.InvalidInput: "InvalidInputException",
    catalog_errors.Conflict: "ConcurrentModificationException",
    catalog_errors.Forbidden: "AccessDeniedException",
}


def from_catalog(error: catalog_errors.CatalogError) -> GlueError:
    for cls, name in _CATALOG.items():
        if isinstance(error, cls):
            return GlueError(name, str(error))
    return GlueError("InternalServiceException", str(error), 500)
