"""Glue's transform classes: `Transform.apply(frame=..., ...)` calls the DynamicFrame method."""

from __future__ import annotations

from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection

__all__ = ["ApplyMapping", "DropFields", "DropNullFields", "Filter", "Join", "Map", "Relationalize", "RenameField",
           "ResolveChoice", "SelectFields", "Spigot", "SplitFields", "SplitRows", "Unbox", "Union", "UnnestFrame",
           "DynamicFrame", "DynamicFrameCollection", "GlueTransform"]  # fmt: skip


class GlueTransform:
    """A transform: `Cls.apply(**kw)` (or `Cls()(**kw)`)."""

    @classmethod
    def apply(cls, *args, **kwargs):
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @classmethod
    def describe(cls) -> dict:
        return {"name": cls.__name__, "description": (cls.__doc__ or "").strip()}


class ApplyMapping(GlueTransform):
    """Keep, rename and cast fields by (source, source type, target, target type) mappings."""

    def __call__(self, frame, mappings, case_sensitive=False, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx, info, stageThreshold, totalThreshold)


class ResolveChoice(GlueTransform):
    """Resolve choice columns (cast:, project:, make_cols, make_struct, match_catalog)."""

    def __call__(self, frame, specs=None, choice="", database=None, table_name=None, transformation_ctx="", info="",
                 stageThreshold=0, totalThreshold=0, catalog_id=None):  # noqa: N803
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx, info, stageThreshold,
                                   totalThreshold, catalog_id)  # fmt: skip


class DropNullFields(GlueTransform):
    """Drop the fields that are null in every record."""

    def __call__(self, frame, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.drop_null_fields(transformation_ctx, info, stageThreshold, totalThreshold)


class Relationalize(GlueTransform):
    """Flatten nested records into a collection of tables."""

    def __call__(self, frame, staging_path="", name="roottable", options=None, transformation_ctx="", info="",
                 stageThreshold=0, totalThreshold=0, root_table_name=None):  # noqa: N803
        return frame.relationalize(root_table_name or name, staging_path, options, transformation_ctx, info,
                                   stageThreshold, totalThreshold)  # fmt: skip


class Join(GlueTransform):
    """Inner join of two frames on keys1 == keys2."""

    def __call__(self, frame1, frame2, keys1, keys2, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame1.join(keys1, keys2, frame2, transformation_ctx, info, stageThreshold, totalThreshold)


class Filter(GlueTransform):
    """Records for which f(record) is true."""

    def __call__(self, frame, f, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.filter(f, transformation_ctx, info, stageThreshold, totalThreshold)


class Map(GlueTransform):
    """f(record) for each record."""

    def __call__(self, frame, f, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.map(f, transformation_ctx, info, stageThreshold, totalThreshold)


class SelectFields(GlueTransform):
    """Only the given fields."""

    def __call__(self, frame, paths, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.select_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class DropFields(GlueTransform):
    """Without the given fields."""

    def __call__(self, frame, paths, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.drop_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class RenameField(GlueTransform):
    """One field renamed."""

    def __call__(self, frame, old_name, new_name, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.rename_field(old_name, new_name, transformation_ctx, info, stageThreshold, totalThreshold)


class SplitFields(GlueTransform):
    """Two frames: the given fields (name1) and the others (name2)."""

    def __call__(self, frame, paths, name1=None, name2=None, transformation_ctx="", info="", stageThreshold=0,
                 totalThreshold=0):  # noqa: N803
        return frame.split_fields(paths, name1 or f"{frame.name}_1", name2 or f"{frame.name}_2", transformation_ctx,
                                  info, stageThreshold, totalThreshold)  # fmt: skip


class SplitRows(GlueTransform):
    """Two frames: the records meeting the comparisons (name1) and the others (name2)."""

    def __call__(self, frame, comparison_dict, name1="frame1", name2="frame2", transformation_ctx="", info="",
                 stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.split_rows(comparison_dict, name1, name2, transformation_ctx, info, stageThreshold, totalThreshold)


class Unbox(GlueTransform):
    """A string field (json, csv) parsed into a struct."""

    def __call__(self, frame, path, format, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0, **options):  # noqa: N803, A002
        return frame.unbox(path, format, transformation_ctx, info, stageThreshold, totalThreshold, **options)


class UnnestFrame(GlueTransform):
    """Nested fields as top-level columns named by path."""

    def __call__(self, frame, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame.unnest(transformation_ctx, info, stageThreshold, totalThreshold)


class Spigot(GlueTransform):
    """A sample of the records written to a path; the frame passes through."""

    def __call__(self, frame, path, options=None, transformation_ctx=""):
        return frame.spigot(path, options, transformation_ctx)


class Union(GlueTransform):
    """The records of two frames, fields matched by name."""

    def __call__(self, frame1, frame2, transformation_ctx="", info="", stageThreshold=0, totalThreshold=0):  # noqa: N803
        return frame1.union(frame2, transformation_ctx, info, stageThreshold, totalThreshold)
