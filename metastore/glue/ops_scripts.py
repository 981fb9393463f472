"""Glue's CreateScript and GetMapping over Mortar's script generator (`metastore.catalog.mapping`).

CreateScript takes Glue's code-generation graph of a catalog table read, an optional ApplyMapping and a
catalog table write (DataSource → ApplyMapping → DataSink; node arguments are Python literals, as Glue
writes them) and answers the AWS Glue script (GlueContext, DynamicFrame, ApplyMapping) Mortar generates for
that mapping, which runs on Mortar's `awsglue` as on Glue (Python only).
GetMapping proposes a mapping from a source table to a sink table: Mortar's recommendations when
`metastore.catalog.recommend` is there, else every source column as it is. Both read the tables named:
they need read access to their databases.
"""

from __future__ import annotations

import ast

from metastore.catalog.mapping import FORMATS, ColumnMapping, Mapping, mapping_script
from metastore.glue import control as c
from metastore.glue.errors import invalid_input
from metastore.glue.registry import GlueRequest, operation

NODE_TYPES = ("DataSource", "ApplyMapping", "DataSink")


def _value(text: str):
    """A node argument: a Python literal as Glue writes them (`"db"`, `[("a", "string", "a", "long")]`),
    or the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _args(node: dict) -> dict:
    args = node.get("Args") or []
    if not isinstance(args, list) or not all(isinstance(a, dict) for a in args):
        raise invalid_input(f"node {node.get('Id')}: Args must be a list of {{Name, Value}}")
    return {c.text(a, "Name", required=True): _value(c.text(a, "Value") or "") for a in args}


def _chain(body: dict) -> list[dict]:
    """The nodes in the order the edges link them: one DataSource, at most one ApplyMapping, one DataSink."""
    nodes = body.get("DagNodes") or []
    edges = body.get("DagEdges") or []
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise invalid_input("DagNodes must be a list of nodes")
    if not isinstance(edges, list) or not all(isinstance(e, dict) for e in edges):
        raise invalid_input("DagEdges must be a list of edges")
    by_id = {c.text(n, "Id", required=True): n for n in nodes}
    for n in nodes:
        if n.get("NodeType") not in NODE_TYPES:
            raise invalid_input(f"node {n['Id']}: NodeType {n.get('NodeType')!r} is not supported "
                                f"(Mortar generates {' -> '.join(NODE_TYPES)})")  # fmt: skip
    sources = [n for n in nodes if n["NodeType"] == "DataSource"]
    if len(sources) != 1 or sum(n["NodeType"] == "DataSink" for n in nodes) != 1 or len(nodes) > 3:
        raise invalid_input("the graph must have one DataSource, at most one ApplyMapping and one DataSink")
    following = {}
    for e in edges:
        src, dst = c.text(e, "Source", required=True), c.text(e, "Target", required=True)
        if src not in by_id or dst not in by_id:
            raise invalid_input(f"edge {src} -> {dst} names a node that is not in DagNodes")
        following[src] = by_id[dst]
    chain = [sources[0]]
    while chain[-1]["Id"] in following and len(chain) <= len(nodes):
        chain.append(following[chain[-1]["Id"]])
    if len(chain) != len(nodes) or chain[-1]["NodeType"] != "DataSink":
        raise invalid_input("the edges must link DataSource -> [ApplyMapping ->] DataSink")
    return chain


def _table(req: GlueRequest, node: dict) -> str:
    args = _args(node)
    db, table = args.get("database"), args.get("table_name")
    if not isinstance(db, str) or not isinstance(table, str) or not db or not table:
        raise invalid_input(f"node {node['Id']}: a catalog {node['NodeType']} needs database and table_name")
    req.check("read", db, table)
    return f"{db}.{table}"


def _columns(node: dict) -> list[ColumnMapping]:
    args = _args(node)
    pairs = args.get("mapping", args.get("mappings"))
    if not isinstance(pairs, list | tuple) or not all(
        isinstance(p, list | tuple) and len(p) == 4 for p in pairs
    ):
        raise invalid_input(
            f"node {node['Id']}: mapping must be a list of (source, source type, target, target type)"
        )
    return [ColumnMapping(str(s), str(t), str(tt)) for s, _st, t, tt in pairs]


@operation("CreateScript")
def create_script(req: GlueRequest, body: dict) -> dict:
    language = (c.text(body, "Language") or "PYTHON").upper()
    if language != "PYTHON":
        raise invalid_input("only Language PYTHON is supported (Mortar generates PySpark scripts)")
    req.check("read")
    chain = _chain(body)
    sink = _args(chain[-1])
    fmt = sink.get("format", "parquet")
    if fmt not in FORMATS:
        raise invalid_input(f"DataSink format {fmt!r} is not one of {', '.join(FORMATS)}")
    partitions = sink.get("partitionKeys", sink.get("partition_keys", []))
    if not isinstance(partitions, list | tuple) or not all(isinstance(p, str) for p in partitions):
        raise invalid_input("DataSink partitionKeys must be a list of column names")
    mapping = Mapping(
        source=_table(req, chain[0]),
        target=_table(req, chain[-1]),
        columns=_columns(chain[1]) if len(chain) == 3 else [],
        partition_by=list(partitions),
        target_format=fmt,
        mode=sink.get("mode", "append") if isinstance(sink.get("mode", "append"), str) else "append",
        style="glue",
    )
    return {"PythonScript": mapping_script(req.service, mapping)}


@operation("GetMapping")
def get_mapping(req: GlueRequest, body: dict) -> dict:
    source = c.struct(body, "Source")
    if not source:
        raise invalid_input("Source is required")
    sdb, stable = c.text(source, "DatabaseName", required=True), c.text(source, "TableName", required=True)
    req.check("read", sdb, stable)
    sinks = body.get("Sinks") or []
    if not isinstance(sinks, list) or not all(isinstance(s, dict) for s in sinks):
        raise invalid_input("Sinks must be a list of {DatabaseName, TableName}")
    tdb = ttable = None
    if sinks:
        tdb, ttable = (
            c.text(sinks[0], "DatabaseName", required=True),
            c.text(sinks[0], "TableName", required=True),
        )
        req.check("read", tdb, ttable)
    try:
        from metastore.catalog.recommend import recommend_mapping
    except ImportError:
        recommend_mapping = None
    if recommend_mapping is not None:
        rows = recommend_mapping(req.service, sdb, stable, tdb, ttable)
    else:
        table = req.service.tables.get(sdb, stable)
        rows = [{"source": col.name, "source_type": col.type, "target": col.name, "target_type": col.type}
                for col in [*table.sd.cols, *table.partition_keys]]  # fmt: skip
    target = ttable or stable
    return {"Mapping": [{"SourceTable": stable, "SourcePath": r["source"], "SourceType": r["source_type"],
                         "TargetTable": target, "TargetPath": r["target"], "TargetType": r["target_type"]}
                        for r in rows]}  # fmt: skip
