"""The catalog domain service: plain Python API over SQL storage, no Thrift or HTTP types."""

from metastore.catalog.errors import AlreadyExists, CatalogError, Conflict, Forbidden, InvalidInput, NotFound
from metastore.catalog.service import CatalogService

__all__ = ["AlreadyExists", "CatalogError", "CatalogService", "Conflict", "Forbidden", "InvalidInput", "NotFound"]
