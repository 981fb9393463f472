"""Mortar: a self-hosted data catalog and ETL service, Hive Metastore-compatible."""

__version__ = "0.1.0"
