"""TagResource, UntagResource, GetTags (see tags.py)."""

from metastore.glue import tags
from metastore.glue.registry import operation

operation("TagResource")(tags.tag_resource)
operation("UntagResource")(tags.untag_resource)
operation("GetTags")(tags.get_tags_op)
