"""Job scripts generated from a source → target mapping: checked against the catalog, and valid Python
that says what it maps. (Run through a real worker and Spark: tests/test_jobs.py.)"""

from __future__ import annotations

import ast

import pytest
from click.testing import CliRunner

from metastore.catalog import CatalogService, InvalidInput, NotFound
from metastore.catalog.mapping import ColumnMapping, Mapping, mapping_script, parse_column_mapping
from metastore.catalog.types import Column, Database, StorageDescriptor, Table
from mortar.cli import main


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv("MORTAR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MORTAR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MORTAR_WAREHOUSE", raising=False)
    svc = CatalogService.open(f"sqlite:///{tmp_path}/catalog.db", str(tmp_path / "warehouse"))
    svc.databases.create(Database("raw"))
    sd = StorageDescriptor(cols=[Column("user", "string"), Column("amount", "bigint"), Column("a.b", "int")])
    svc.tables.create(Table("clicks", "raw", sd=sd, partition_keys=[Column("dt", "string")]))
    yield svc
    svc.ctx.engine.dispose()


def test_column_mappings_parse_with_types_that_contain_colons():
    assert parse_column_mapping("a") == ColumnMapping("a", None, None)
    assert parse_column_mapping("a:b") == ColumnMapping("a", "b", None)
    assert parse_column_mapping("a::bigint") == ColumnMapping("a", None, "bigint")
    assert parse_column_mapping("s:t:struct<x:int,y:string>") == ColumnMapping(
        "s", "t", "struct<x:int,y:string>"
    )
    with pytest.raises(InvalidInput):
        parse_column_mapping(":b")


def test_a_script_is_generated_for_every_column_by_default(service):
    script = mapping_script(service, Mapping("raw.clicks", "mart.all"))
    ast.parse(script)
    for line in ("F.col('`user`').alias('user')", "F.col('`a.b`').alias('a.b')", "F.col('`dt`').alias('dt')",
                 "SOURCE, TARGET = 'raw.clicks', 'mart.all'", "saveAsTable(TARGET)"):  # fmt: skip
        assert line in script, script
    assert ".cast(" not in script  # nothing to convert


def test_a_mapping_is_checked_against_the_catalog(service):
    def script(**kw):
        return mapping_script(service, Mapping(**{"source": "raw.clicks", "target": "mart.out", **kw}))

    with pytest.raises(NotFound):
        script(source="raw.nope")
    for kw, message in [
        ({"source": "clicks"}, "is not db.table"),
        ({"target": "raw.clicks"}, "same table"),
        ({"columns": [ColumnMapping("nope")]}, "is not a column of raw.clicks"),
        ({"columns": [ColumnMapping("user", "x"), ColumnMapping("amount", "x")]}, "mapped twice"),
        ({"columns": [ColumnMapping("amount", None, "int(")]}, "type"),
        ({"columns": [ColumnMapping("user")], "partition_by": ["dt"]}, "not one of the target columns"),
        ({"target_format": "xls"}, "format"),
        ({"mode": "merge"}, "mode"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            script(**kw)
    # an existing target must have exactly the mapped columns; the script inserts in the target's order
    service.databases.create(Database("mart"))
    service.tables.create(Table("out", "mart", sd=StorageDescriptor(cols=[Column("eur", "double")]),
                                partition_keys=[Column("customer", "string")]))  # fmt: skip
    with pytest.raises(InvalidInput, match="exists with columns eur, customer"):
        script(columns=[ColumnMapping("user", "customer")])
    text = script(columns=[ColumnMapping("user", "customer"), ColumnMapping("amount", "eur", "double")],
                  mode="overwrite")  # fmt: skip
    assert text.index("alias('eur')") < text.index("alias('customer')")
    assert "insertInto(TARGET, overwrite=True)" in text


def test_cli_generates_prints_and_defines_the_job(service):
    args = ["job", "generate", "spend", "--source", "raw.clicks", "--target", "mart.spend",
            "--map", "user:customer", "--map", "amount:eur:double", "--map", "dt", "--partition-by", "dt"]  # fmt: skip
    printed = CliRunner().invoke(main, [*args, "--print"])
    assert printed.exit_code == 0, printed.output
    assert "F.col('`amount`').cast('double').alias('eur')" in printed.output
    with pytest.raises(NotFound):
        service.jobs.get("spend")
    made = CliRunner().invoke(main, [*args, "--bookmark", "enable"])
    assert made.exit_code == 0, made.output
    job = service.jobs.get("spend")
    assert (job.script, job.bookmark, job.script_version) == (printed.output, "enable", 1)
    again = CliRunner().invoke(main, [*args[:-2]])  # regenerated: a new version of the same job
    assert again.exit_code == 0 and "updated" in again.output
    assert service.jobs.get("spend").script_version == 2
    bad = CliRunner().invoke(main, [*args[:5], "--target", "mart.spend", "--map", "nope"])
    assert bad.exit_code == 1 and "nope" in bad.output


def test_nested_source_fields_are_mapped_as_glue_applymapping_takes_them(service):
    """`--map props.page:page` (issue 16, item 11): a path into a struct column, checked against its type."""
    sd = StorageDescriptor(cols=[Column("id", "bigint"),
                                 Column("props", "struct<page:string,ctx:struct<`ref`:string,n:int>>")])  # fmt: skip
    service.tables.create(Table("events", "raw", sd=sd))
    text = mapping_script(service, Mapping("raw.events", "mart.pages", [
        ColumnMapping("id"), ColumnMapping("props.page", "page"), ColumnMapping("props.ctx.n", None, "bigint"),
        ColumnMapping("props.ctx.ref")]))  # fmt: skip
    ast.parse(text)
    for line in ("F.col('`props`.`page`').alias('page')", "F.col('`props`.`ctx`.`n`').cast('bigint').alias('props_ctx_n')",
                 "F.col('`props`.`ctx`.`ref`').alias('props_ctx_ref')", "props.page string -> page string"):  # fmt: skip
        assert line in text, text
    with pytest.raises(InvalidInput, match=r"'props' of raw.events has no field 'nope' \(its fields are page, ctx\)"):
        mapping_script(service, Mapping("raw.events", "mart.x", [ColumnMapping("props.nope")]))
    with pytest.raises(InvalidInput, match="'id' of raw.events has no field 'x' .it is bigint, not a struct"):
        mapping_script(service, Mapping("raw.events", "mart.x", [ColumnMapping("id.x")]))
    printed = CliRunner().invoke(main, ["job", "generate", "pages", "--source", "raw.events", "--target",
                                        "mart.pages", "--map", "props.page:page", "--print"])  # fmt: skip
    assert printed.exit_code == 0 and "F.col('`props`.`page`').alias('page')" in printed.output, printed.output


def test_a_glue_style_script_is_generated_as_aws_glue_writes_them(service):
    """`--style glue` (issue 13): GlueContext, the source as a bookmarked DynamicFrame, ApplyMapping with Glue's
    type names and nested paths, the target through the catalog. (Run through a real worker:
    tests/test_awsglue.py.)"""
    sd = StorageDescriptor(cols=[Column("id", "bigint"), Column("props", "struct<page:string,n:int>")])
    service.tables.create(Table("events", "raw", sd=sd, partition_keys=[Column("dt", "string")]))
    text = mapping_script(service, Mapping("raw.events", "mart.pages", [
        ColumnMapping("id", "event_id"), ColumnMapping("props.page", "page"), ColumnMapping("props.n", None, "bigint"),
        ColumnMapping("dt")], ["dt"], style="glue", where="id > 0"))  # fmt: skip
    ast.parse(text)
    for line in ("from awsglue.context import GlueContext", "job.init(args[\"JOB_NAME\"], args)",
                 "table_name=SOURCE_TABLE,\n", 'transformation_ctx="source"',
                 "('id', 'long', 'event_id', 'long'),", "('props.page', 'string', 'page', 'string'),",
                 "('props.n', 'int', 'props_n', 'long'),", "('dt', 'string', 'dt', 'string'),",
                 "partitionKeys=['dt']", "sink.setFormat('glueparquet')", "source.toDF().where('id > 0')",
                 "glueContext.write_dynamic_frame.from_catalog(", "job.commit()"):  # fmt: skip
        assert line in text, text
    columns = mapping_script(service, Mapping("raw.clicks", "mart.c", [ColumnMapping("a.b")], style="glue"))
    assert "('`a.b`', 'int', '`a.b`', 'int')" in columns  # a column whose name has a dot, not a path
    overwrite = mapping_script(service, Mapping("raw.clicks", "mart.c", mode="overwrite", style="glue"))
    assert "write.insertInto(TARGET, overwrite=True)" in overwrite
    with pytest.raises(InvalidInput, match="style 'scala' is not one of pyspark, glue"):
        mapping_script(service, Mapping("raw.clicks", "mart.c", style="scala"))
    printed = CliRunner().invoke(main, ["job", "generate", "pages", "--source", "raw.events", "--target",
                                        "mart.pages", "--map", "props.page:page", "--style", "glue", "--print"])  # fmt: skip
    assert printed.exit_code == 0 and "ApplyMapping.apply(" in printed.output, printed.output
