"""The catalog's exceptions. The Thrift layer maps them to HMS exceptions, the web layer to HTTP codes."""


class CatalogError(Exception):
    """Base of every catalog error; the message names the object."""


class NotFound(CatalogError):
    """The named object does not exist."""


class AlreadyExists(CatalogError):
    """An object with that name already exists."""


class InvalidInput(CatalogError):
    """The request is malformed: a bad name, type, value or filter."""


class Conflict(CatalogError):
    """The request clashes with the current state (a non-empty database, a held lock, ...)."""


class Forbidden(CatalogError):
    """The caller may not do this (see access.py); denials are audited."""
