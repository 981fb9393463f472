"""JSON form of the nested parts of catalog objects, as stored in the database's text columns.

Written by hand rather than with `dataclasses.asdict`: these run once per partition on listing paths.
Empty values are left out to keep rows small.
"""

from __future__ import annotations

import json

from metastore.catalog.types import Column, SerDe, SkewedInfo, SortOrder, StorageDescriptor

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
loads = json.loads


def dumps(value) -> str:
    return _dumps(value)


def cols_to_json(cols: list[Column]) -> list:
    return [[c.name, c.type, c.comment] if c.comment is not None else [c.name, c.type] for c in cols]


def cols_from_json(data: list) -> list[Column]:
    return [Column(*c) for c in data]


def sd_to_json(sd: StorageDescriptor, with_location: bool = True) -> dict:
    d: dict = {"cols": cols_to_json(sd.cols)}
    if with_location and sd.location is not None:
        d["location"] = sd.location
    if sd.input_format is not None:
        d["input_format"] = sd.input_format
    if sd.output_format is not None:
        d["output_format"] = sd.output_format
    if sd.compressed:
        d["compressed"] = True
    if sd.num_buckets != -1:
        d["num_buckets"] = sd.num_buckets
    s = sd.serde
    serde = {
        k: v
        for k, v in (
            ("name", s.name),
            ("lib", s.serialization_lib),
            ("params", s.parameters or None),
            ("description", s.description),
            ("serializer", s.serializer_class),
            ("deserializer", s.deserializer_class),
            ("type", s.serde_type),
        )
        if v is not None
    }
    if serde:
        d["serde"] = serde
    if sd.bucket_cols:
        d["bucket_cols"] = sd.bucket_cols
    if sd.sort_cols:
        d["sort_cols"] = [[o.col, o.order] for o in sd.sort_cols]
    if sd.parameters:
        d["params"] = sd.parameters
    if sd.skewed_info is not None:
        k = sd.skewed_info
        d["skewed"] = [k.col_names, k.col_values, [[list(v), loc] for v, loc in k.locations]]
    if sd.stored_as_sub_directories:
        d["subdirs"] = True
    return d


def sd_from_json(d: dict) -> StorageDescriptor:
    """(Partitions keep their location in a column of its own: the caller sets it.)"""
    s = d.get("serde", {})
    skewed = d.get("skewed")
    return StorageDescriptor(
        cols=cols_from_json(d["cols"]),
        location=d.get("location"),
        input_format=d.get("input_format"),
        output_format=d.get("output_format"),
        compressed=d.get("compressed", False),
        num_buckets=d.get("num_buckets", -1),
        serde=SerDe(
            name=s.get("name"),
            serialization_lib=s.get("lib"),
            parameters=s.get("params", {}),
            description=s.get("description"),
            serializer_class=s.get("serializer"),
            deserializer_class=s.get("deserializer"),
            serde_type=s.get("type"),
        ),
        bucket_cols=d.get("bucket_cols", []),
        sort_cols=[SortOrder(c, o) for c, o in d.get("sort_cols", [])],
        parameters=d.get("params", {}),
        skewed_info=SkewedInfo(skewed[0], skewed[1], [(v, loc) for v, loc in skewed[2]]) if skewed else None,
        stored_as_sub_directories=d.get("subdirs", False),
    )
