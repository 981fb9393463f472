"""Profiles computed on demand: a Spark job (in a child process of the worker) reads a table's files, or
only its partitions not profiled yet, and the worker stores what it found as the catalog's statistics
(metastore/catalog/profiles.py). Distinct counts are exact on small data, Spark's HyperLogLog++
(`approx_count_distinct`, rsd 0.01) beyond."""
