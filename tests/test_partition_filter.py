"""The partition filter language: parsing, and compiled filters run on SQLite and PostgreSQL.

Expected results follow the real Hive Metastore 2.3.10 where it answers (see the notes in
metastore/catalog/partition_filter.py); each database case names the partitions it must select.
"""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from metastore.catalog.errors import InvalidInput
from metastore.catalog.partition_filter import (
    And,
    Between,
    Comparison,
    DateLit,
    In,
    IntLit,
    Like,
    MatchAll,
    Not,
    Or,
    StringLit,
    StructIn,
    compile_filter,
    integral_value,
    parse_filter,
)
from metastore.storage.models import (
    Base,
    CatalogRow,
    DatabaseRow,
    PartitionKeyValueRow,
    PartitionRow,
    TableRow,
)

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def cmp(key, op, value):
    return Comparison(key, op, value)


Str, Num, Day = StringLit, IntLit, DateLit

PARSE_CASES = [
    ('dt = "2024-01-02"', cmp("dt", "=", Str("2024-01-02"))),
    ('dt >= "2024-01-03"', cmp("dt", ">=", Str("2024-01-03"))),
    (
        'dt = "2024-01-03" and hr >= 12',
        And((cmp("dt", "=", Str("2024-01-03")), cmp("hr", ">=", Num(12)))),
    ),
    (
        "(ds = '1' or ds = '2') and hr <> 3",
        And((Or((cmp("ds", "=", Str("1")), cmp("ds", "=", Str("2")))), cmp("hr", "!=", Num(3)))),
    ),
    ('(ds = "x") or (ds = "y")', Or((cmp("ds", "=", Str("x")), cmp("ds", "=", Str("y"))))),
    ("hr between 10 and 12", Between("hr", Num(10), Num(12))),
    ("hr NOT BETWEEN -3 AND 12", Between("hr", Num(-3), Num(12), negated=True)),
    # AND binds tighter than OR; chains are flat
    (
        "a = 1 or b = 2 and c = 3 or d = 4",
        Or(
            (
                cmp("a", "=", Num(1)),
                And((cmp("b", "=", Num(2)), cmp("c", "=", Num(3)))),
                cmp("d", "=", Num(4)),
            )
        ),
    ),
    # literal on the left: the operator is reversed
    ('"2024-01-02" < dt', cmp("dt", ">", Str("2024-01-02"))),
    ("12 <= hr", cmp("hr", ">=", Num(12))),
    ("-1 = hr", cmp("hr", "=", Num(-1))),
    ('dt LIKE "2024.*"', Like("dt", "2024.*")),
    ("dt not like '.*x'", Like("dt", ".*x", negated=True)),
    ('(dt) IN ("a", "b")', In("dt", (Str("a"), Str("b")))),
    ("(hr) not in (1, 2)", In("hr", (Num(1), Num(2)), negated=True)),
    ("dt in ('a')", In("dt", (Str("a"),))),
    ("hr not in (1)", In("hr", (Num(1),), negated=True)),
    (
        '(struct(dt, hr)) IN (const struct("a", 1), const struct("b", 2))',
        StructIn(("dt", "hr"), ((Str("a"), Num(1)), (Str("b"), Num(2)))),
    ),
    ('struct(dt, hr) not in (struct("a", 1))', StructIn(("dt", "hr"), ((Str("a"), Num(1)),), negated=True)),
    ("NOT dt = 'a'", Not(cmp("dt", "=", Str("a")))),
    ("not (dt = 'a' or not hr = 1)", Not(Or((cmp("dt", "=", Str("a")), Not(cmp("hr", "=", Num(1))))))),
    # dates: bare (as Spark sends them), or with DATE
    ("dt = 2024-01-01", cmp("dt", "=", Day(datetime.date(2024, 1, 1)))),
    ("dt >= date '2024-1-2'", cmp("dt", ">=", Day(datetime.date(2024, 1, 2)))),
    (
        "dt between DATE 2024-01-01 and 2024-12-31",
        Between("dt", Day(datetime.date(2024, 1, 1)), Day(datetime.date(2024, 12, 31))),
    ),
    # strings: verbatim, backslashes kept (Hive's TrimQuotes); a backslash only protects the quote
    (r'dt = "a\b"', cmp("dt", "=", Str(r"a\b"))),
    (r'dt = "say \"hi\""', cmp("dt", "=", Str(r"say \"hi\""))),
    ("dt = 'x\" OR 1=1 --'", cmp("dt", "=", Str('x" OR 1=1 --'))),
    ('dt = ""', cmp("dt", "=", Str(""))),
    # identifiers: back-quoted, digits first, keyword-like names that are not reserved
    ("`my key` = 1", cmp("my key", "=", Num(1))),
    ("`a``b` = 1", cmp("a`b", "=", Num(1))),
    ("1a = 1", cmp("1a", "=", Num(1))),
    (
        "date = 'x' and struct = 1 and const = 2",
        And((cmp("date", "=", Str("x")), cmp("struct", "=", Num(1)), cmp("const", "=", Num(2)))),
    ),
    ("((((dt = 'a'))))", cmp("dt", "=", Str("a"))),
    ("hr=-5", cmp("hr", "=", Num(-5))),
    ("", MatchAll()),
    ("  \n ", MatchAll()),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[c[0] or "empty" for c in PARSE_CASES])
def test_parse(text, expected):
    assert parse_filter(text) == expected


def test_parse_all_operators_keywords_in_any_case():
    node = parse_filter("a == 1 AnD b != 2 aNd c <> 3 and d < 4 and e <= 5 and f > 6 and g >= 7")
    assert isinstance(node, And)
    assert [(c.key, c.op) for c in node.items] == [
        ("a", "="),
        ("b", "!="),
        ("c", "!="),
        ("d", "<"),
        ("e", "<="),
        ("f", ">"),
        ("g", ">="),
    ]


def test_positions_are_recorded():
    node = parse_filter('dt = "a" and  hr > 1')
    assert [c.pos for c in node.items] == [0, 14]


PARSE_ERRORS = [
    ("dt = ", 5, "expected a string, integer or date literal, found end of input"),
    ('dt = "x', 5, "unterminated string literal"),
    ("dt = 'x\\'", 5, "unterminated string literal"),
    ('dt = "a" hr = 1', 9, "expected AND, OR or the end of the filter, found 'hr'"),  # Hive ignores the tail
    ('dt = "a" and', 12, "expected a partition key"),
    ('(dt = "a"', 9, "expected ')' or AND/OR"),
    ('dt = "a")', 8, "expected AND, OR or the end"),
    ("dt ! 1", 3, "unexpected character '!'"),
    ("dt = 1.5", 6, "unexpected character '.'"),
    ("hr = +5", 5, "unexpected character '+'"),
    ("dt == == 1", 6, "expected a string, integer or date literal"),
    ("= 1", 0, "expected a partition key, a literal"),
    ("and = 1", 0, "expected a partition key, a literal"),
    ("dt 'a'", 3, "expected a comparison operator, LIKE, BETWEEN or IN"),
    ("dt like 5", 8, "expected a string pattern after LIKE"),
    ('"2024.*" like dt', 9, "the pattern of LIKE must be on the right"),
    ('"a" = "b"', 6, "expected a partition key"),
    ("hr = 99999999999999999999", 5, "out of the 64-bit range"),
    ("dt = 2024-02-30", 5, "invalid date '2024-02-30'"),
    ("dt = date '2024-13-01'", 10, "invalid date"),
    ("hr between 1", 12, "expected AND"),
    ("(dt) in ()", 9, "expected a string, integer or date literal"),
    ("dt in ('a' 'b')", 11, "expected ',' or ')'"),
    ("(struct(a, b)) in (struct(1))", 19, "expected 2 values in the struct, found 1"),
    ("`` = 1", 0, "empty back-quoted identifier"),
    ("`dt = 1", 0, "unterminated back-quoted identifier"),
    ("(" * 150 + "dt = 1" + ")" * 150, 100, "nested more than 100 levels deep"),
    ("not " * 150 + "dt = 1", 400, "nested more than 100 levels deep"),
]


@pytest.mark.parametrize(("text", "pos", "message"), PARSE_ERRORS, ids=[c[0][:40] for c in PARSE_ERRORS])
def test_parse_errors(text, pos, message):
    with pytest.raises(InvalidInput) as err:
        parse_filter(text)
    assert f"at position {pos}: " in str(err.value)
    assert message in str(err.value)


def test_nesting_within_the_limit_parses():
    assert parse_filter("(" * 90 + "dt = 1" + ")" * 90) == cmp("dt", "=", Num(1))


def test_integral_value():
    assert integral_value("int", "07") == 7
    assert integral_value("BIGINT", "-5") == -5
    assert integral_value("int", "__HIVE_DEFAULT_PARTITION__") is None
    assert integral_value("int", "1.5") is None
    assert integral_value("string", "7") is None
    assert integral_value("bigint", str(2**63)) is None


# --------------------------------------------------------------------------------------------
# Compiled SQL
# --------------------------------------------------------------------------------------------

KEYS = [("dt", "string"), ("hr", "int")]


def _sql(filter_text, dialect, keys=KEYS):
    stmt = select(PartitionRow.name).where(compile_filter(filter_text, keys, 42, PartitionRow.id))
    compiled = stmt.compile(dialect=dialect)
    return str(compiled), compiled.params


@pytest.mark.parametrize(
    "dialect", [postgresql.dialect(), sqlite.dialect(), mysql.dialect()], ids=lambda d: d.name
)
def test_literals_are_bound_parameters(dialect):
    sql, params = _sql(
        "dt = \"x' OR 1=1 --\" and hr >= 12 or dt like 'evil%\\'.*' or (dt) in ('p', 'q')", dialect
    )
    for fragment in ("x'", "1=1", "evil", "'p'", "12"):
        assert fragment not in sql
    values = {v for v in params.values() if not isinstance(v, list)} | {
        x for v in params.values() if isinstance(v, list) for x in v
    }
    assert {"x' OR 1=1 --", 12, 42, "p", "q"} <= values
    assert any(isinstance(v, str) and v.startswith("evil") for v in values)
    # indexed IN-subqueries, not correlated EXISTS
    assert "EXISTS" not in sql.upper()
    assert sql.count("partitions.id IN (SELECT partition_key_values.partition_id") == 3


def test_like_is_case_sensitive_per_dialect():
    pg, pg_params = _sql('dt like "a_%.*"', postgresql.dialect())
    assert "LIKE" in pg and "ESCAPE '/'" in pg and "a/_/%%" in pg_params.values()
    lite, lite_params = _sql('dt like "a_*.*"', sqlite.dialect())
    assert "GLOB" in lite and "LIKE" not in lite and "a_[*]*" in lite_params.values()
    my, _ = _sql('dt like "a.*"', mysql.dialect())
    assert "AS BINARY) LIKE CAST(" in my


def test_same_key_conditions_share_one_subquery():
    sql, params = _sql("hr >= 10 and hr <= 12 and (dt = 'a' or dt = 'b' or dt = 'c')", postgresql.dialect())
    assert sql.count("SELECT partition_key_values.partition_id") == 2
    assert ["a", "b", "c"] in params.values()


def test_empty_filter_is_true():
    sql, _ = _sql("", postgresql.dialect())
    assert "WHERE true" in sql


# --------------------------------------------------------------------------------------------
# Executed on real databases
# --------------------------------------------------------------------------------------------

DTS = [f"2024-01-0{d}" for d in range(1, 6)]
HRS = ["0", "3", "6", "9", "10", "11", "12", "13", "23"]
SPECIAL = [
    ("2024-01-02", "07"),
    ("2024-01-03", "__HIVE_DEFAULT_PARTITION__"),
    ("x' OR 1=1 --", "1"),
    ("a_b", "1"),
    ("axb", "1"),
    ("A.B", "1"),
    ("2024%x", "1"),
    ("a\\b", "1"),
    ('say "hi"', "1"),
    ("-5", "-5"),
]
EVENTS = [(dt, hr) for dt in DTS for hr in HRS] + SPECIAL  # 55 partitions
OTHER = [(dt, hr) for dt in DTS for hr in ("0", "12")]  # same keys, another table: never selected
TYPED_KEYS = [("d", "date"), ("n", "bigint"), ("f", "double"), ("v", "varchar(10)")]
TYPED = [("2024-01-01", "1", "1.5", "a"), ("2024-01-02", "10", "2.0", "b"), ("2024-01-10", "2", "10.25", "c")]


def pname(keys, values):
    return "/".join(f"{k}={v}" for (k, _), v in zip(keys, values, strict=True))


def _populate(engine):
    Base.metadata.create_all(engine)
    ids = {}
    with Session(engine) as s, s.begin():
        cat = CatalogRow(name="hive", location_uri="file:///w", create_time=0)
        s.add(cat)
        s.flush()
        db = DatabaseRow(catalog_id=cat.id, name="db", parameters="{}", create_time=0)
        s.add(db)
        s.flush()
        for table, keys, rows in (
            ("events", KEYS, EVENTS),
            ("other", KEYS, OTHER),
            ("typed", TYPED_KEYS, TYPED),
        ):
            t = TableRow(
                database_id=db.id,
                name=table,
                table_type="MANAGED_TABLE",
                create_time=0,
                sd="{}",
                partition_keys=json.dumps([{"name": k, "type": ty} for k, ty in keys]),
            )
            s.add(t)
            s.flush()
            ids[table] = t.id
            parts = [
                PartitionRow(
                    table_id=t.id, name=pname(keys, vals), values=json.dumps(vals), create_time=0, sd="{}"
                )
                for vals in rows
            ]
            s.add_all(parts)
            s.flush()
            s.add_all(
                PartitionKeyValueRow(
                    partition_id=p.id,
                    key_index=i,
                    table_id=t.id,
                    value=v,
                    int_value=integral_value(keys[i][1], v),
                )
                for p, vals in zip(parts, rows, strict=True)
                for i, v in enumerate(vals)
            )
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('pf') / 'catalog.db'}")
        yield engine, _populate(engine)
        engine.dispose()
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}")
    # a fresh database, with code-point ("C") string order, so that ordering cases are portable
    name = f"mortar_pf_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        )
    engine = create_engine(make_url(PG_URL).set(database=name))
    try:
        yield engine, _populate(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(db, filter_text, table="events", keys=KEYS):
    """The names a filter selects; the same as a sub-query per key (`id IN (...)`) and as a look-up per
    partition (`correlated`, the form used over a range of names: catalog/filtered_chunks.py)."""
    engine, ids = db
    out = []
    for correlated in (False, True):
        stmt = select(PartitionRow.name).where(
            PartitionRow.table_id == ids[table],
            compile_filter(filter_text, keys, ids[table], PartitionRow.id, correlated),
        )
        with engine.connect() as conn:
            out.append(set(conn.scalars(stmt)))
    assert out[0] == out[1], filter_text
    return out[0]


def names(pred, rows=EVENTS, keys=KEYS):
    return {pname(keys, r) for r in rows if pred(*r)}


def num(hr):
    return integral_value("int", hr)


def n(*pairs):
    return {pname(KEYS, p) for p in pairs}


CASES = [
    # Spark / Hive / Trino forms
    ('dt = "2024-01-02"', names(lambda dt, hr: dt == "2024-01-02")),
    ('dt >= "2024-01-03"', names(lambda dt, hr: dt >= "2024-01-03")),
    ('dt = "2024-01-03" and hr >= 12', n(("2024-01-03", "12"), ("2024-01-03", "13"), ("2024-01-03", "23"))),
    (
        "(dt = '2024-01-01' or dt = '2024-01-02') and hr <> 3",
        names(lambda dt, hr: dt in ("2024-01-01", "2024-01-02") and num(hr) is not None and num(hr) != 3),
    ),
    ('(dt = "2024-01-04") or (dt = "2024-01-05")', names(lambda dt, hr: dt in ("2024-01-04", "2024-01-05"))),
    ("hr between 10 and 12", names(lambda dt, hr: num(hr) is not None and 10 <= num(hr) <= 12)),
    ("hr not between 3 and 12", names(lambda dt, hr: num(hr) is not None and not 3 <= num(hr) <= 12)),
    ('"2024-01-02" = dt', names(lambda dt, hr: dt == "2024-01-02")),
    ("12 < hr", names(lambda dt, hr: num(hr) is not None and num(hr) > 12)),
    ("-1 > hr", n(("-5", "-5"))),
    (
        'dt = "2024-01-01" or dt = "2024-01-02" and hr = 3',
        names(lambda dt, hr: dt == "2024-01-01" or (dt == "2024-01-02" and hr == "3")),
    ),
    ('DT = "2024-01-01" AND HR = 0', n(("2024-01-01", "0"))),
    ('`Dt` = "2024-01-01" and `hr` = 0', n(("2024-01-01", "0"))),
    # integral keys compare numbers; values that are not integers never match a numeric comparison
    ("hr = 7", n(("2024-01-02", "07"))),
    ('hr = "07"', n(("2024-01-02", "07"))),
    ('hr = "7"', n(("2024-01-02", "07"))),
    ("hr < 1", names(lambda dt, hr: num(hr) is not None and num(hr) < 1)),
    ("hr != 3", names(lambda dt, hr: num(hr) is not None and num(hr) != 3)),
    ("not hr = 3", names(lambda dt, hr: num(hr) is not None and num(hr) != 3)),
    (
        "not (hr = 3 or dt = '2024-01-01')",
        names(lambda dt, hr: num(hr) is not None and num(hr) != 3 and dt != "2024-01-01"),
    ),
    ('hr = "__HIVE_DEFAULT_PARTITION__"', n(("2024-01-03", "__HIVE_DEFAULT_PARTITION__"))),
    (
        'dt = "2024-01-03" and hr != "__HIVE_DEFAULT_PARTITION__"',
        names(lambda dt, hr: dt == "2024-01-03" and num(hr) is not None),
    ),
    # a string key against an integer literal: its text, for equality only
    ("dt = -5", n(("-5", "-5"))),
    # LIKE: Hive 2.3 semantics ('.*' any sequence, '.' any character, the rest literal, case-sensitive)
    ('dt like "2024.*"', names(lambda dt, hr: dt.startswith("2024"))),  # Spark's startsWith
    ('dt like ".*-05"', names(lambda dt, hr: dt.endswith("-05"))),  # endsWith
    ('dt like ".*01-0.*"', names(lambda dt, hr: "01-0" in dt)),  # contains
    ('dt like "2024%"', set()),
    ('dt like "2024%x"', n(("2024%x", "1"))),
    ('dt like "a_b"', n(("a_b", "1"))),
    ('dt like "a.b"', n(("a_b", "1"), ("axb", "1"), ("a\\b", "1"))),
    ('dt like "A.B"', n(("A.B", "1"))),
    ('dt like "2024-01-0[12]"', set()),
    ('dt like "a\\b"', n(("a\\b", "1"))),
    (
        'dt not like "2024.*" and hr = 1',
        n(("x' OR 1=1 --", "1"), ("a_b", "1"), ("axb", "1"), ("A.B", "1"), ("a\\b", "1"), ('say "hi"', "1")),
    ),
    ('hr like "1."', names(lambda dt, hr: len(hr) == 2 and hr.startswith("1"))),
    # IN, NOT IN, multi-column IN
    ('(dt) in ("2024-01-01", "2024-01-02")', names(lambda dt, hr: dt in ("2024-01-01", "2024-01-02"))),
    (
        '(dt) not in ("2024-01-01", "2024-01-02")',
        names(lambda dt, hr: dt not in ("2024-01-01", "2024-01-02")),
    ),
    (
        "dt in ('2024-01-05') and hr in (0, '23', '__HIVE_DEFAULT_PARTITION__')",
        n(("2024-01-05", "0"), ("2024-01-05", "23")),
    ),
    (  # NOT IN is an AND of != (as in Hive): values that are not integers are not selected
        "(hr) not in (0, 3, 6, 9, 10, 11, 12, 13)",
        names(lambda dt, hr: num(hr) is not None and num(hr) not in (0, 3, 6, 9, 10, 11, 12, 13)),
    ),
    (
        "(hr) in (7, '__HIVE_DEFAULT_PARTITION__')",
        n(("2024-01-02", "07"), ("2024-01-03", "__HIVE_DEFAULT_PARTITION__")),
    ),
    (
        '(struct(dt, hr)) in (const struct("2024-01-01", 0), const struct("2024-01-02", 7))',
        n(("2024-01-01", "0"), ("2024-01-02", "07")),
    ),
    (
        'dt = "2024-01-01" and struct(dt, hr) not in (struct("2024-01-01", 0), struct("2024-01-01", 3))',
        names(lambda dt, hr: dt == "2024-01-01" and hr not in ("0", "3")),
    ),
    # dates against a string key compare as ISO text
    ("dt = 2024-01-01", names(lambda dt, hr: dt == "2024-01-01")),
    ("dt >= 2024-01-04 and dt < date '2024-01-05'", names(lambda dt, hr: dt == "2024-01-04")),
    ("dt between 2024-01-02 and '2024-01-03'", names(lambda dt, hr: "2024-01-02" <= dt <= "2024-01-03")),
    # literals are data, never SQL
    ('dt = "x\' OR 1=1 --"', n(("x' OR 1=1 --", "1"))),
    ("dt = \"1' OR '1'='1\"", set()),
    ('dt = "2024-01-01\\" OR dt != \\""', set()),
    ("dt = 'say \"hi\"'", n(('say "hi"', "1"))),
    ('dt = "a\\b"', n(("a\\b", "1"))),
    ('dt like "x\' OR 1=1 --"', n(("x' OR 1=1 --", "1"))),
    # everything / nothing
    ("", names(lambda dt, hr: True)),
    ('dt = "2024-01-01" and not dt = "2024-01-01"', set()),
    ("(" * 90 + "hr = 0" + ")" * 90, names(lambda dt, hr: hr == "0")),
]


@pytest.mark.parametrize(("filter_text", "expected"), CASES, ids=[c[0][:60] or "empty" for c in CASES])
def test_filter_selects(db, filter_text, expected):
    assert run(db, filter_text) == expected


def test_other_tables_partitions_are_never_selected(db):
    assert run(db, "hr = 0", table="other") == {pname(KEYS, (dt, "0")) for dt in DTS}
    assert all(name.startswith("dt=") for name in run(db, ""))
    assert len(run(db, "")) == len(EVENTS)


def test_long_or_chain(db):
    # Spark turns IN lists into OR chains; 2,000 terms must not hit SQLite's expression depth limit
    filter_text = (
        " or ".join(f"hr = {i}" for i in range(2000))
        + " or "
        + " or ".join(f'dt = "v{i}"' for i in range(2000))
    )
    assert run(db, filter_text) == names(lambda dt, hr: num(hr) is not None and 0 <= num(hr) < 2000)


def test_outer_join_on_partition_key_values_is_not_correlated(db):
    engine, ids = db
    cond = compile_filter('dt = "2024-01-01" and hr >= 12', KEYS, ids["events"], PartitionRow.id)
    stmt = (
        select(PartitionRow.name, PartitionKeyValueRow.value)
        .join(PartitionKeyValueRow, PartitionKeyValueRow.partition_id == PartitionRow.id)
        .where(PartitionKeyValueRow.key_index == 1, cond)
    )
    with engine.connect() as conn:
        rows = set(conn.execute(stmt))
    assert rows == {(pname(KEYS, ("2024-01-01", hr)), hr) for hr in ("12", "13", "23")}


TYPED_CASES = [
    ('d = "2024-1-2"', [1]),  # a string that is a date, as java.sql.Date.valueOf reads it
    ("d = 2024-01-02", [1]),
    ("d >= 2024-01-02", [1, 2]),
    ("d between '2024-01-01' and date '2024-01-05'", [0, 1]),
    ("d > 2024-01-05 and v = 'c'", [2]),
    ("n > 2", [1]),
    ('n = "10"', [1]),
    ("n between 1 and 2", [0, 2]),
    ('f = "1.5"', [0]),
    ("f = 2 or f = '10.25'", [2]),  # text: "2.0" is not "2"
    ("f like '.*5'", [0, 2]),
    ('v >= "b"', [1, 2]),
    ('v like "a.*"', [0]),
    ("d like '2024-01-0.'", [0, 1]),
]


@pytest.mark.parametrize(("filter_text", "expected"), TYPED_CASES, ids=[c[0] for c in TYPED_CASES])
def test_typed_keys(db, filter_text, expected):
    assert run(db, filter_text, table="typed", keys=TYPED_KEYS) == {
        pname(TYPED_KEYS, TYPED[i]) for i in expected
    }


COMPILE_ERRORS = [
    ('nope = "x"', KEYS, 0, "'nope' is not a partition key of the table (partition keys: dt, hr)"),
    ('dt = "a" and `Nope` = 1', KEYS, 13, "'Nope' is not a partition key"),
    ('dt = "a"', [], 0, "partition keys: none: the table is not partitioned"),
    ('hr > "abc"', KEYS, 0, "cannot order 'hr' (int) against the string 'abc'"),
    ("dt > 5", KEYS, 0, "cannot order 'dt' (string) against the integer 5"),
    ("hr between 1 and 'x'", KEYS, 0, "cannot order 'hr' (int)"),
    ("hr >= 2024-01-01", KEYS, 0, "against the date 2024-01-01"),
    ('f > "1.5"', TYPED_KEYS, 0, "cannot order 'f' (double)"),
    ("n = 1 and d < 5", TYPED_KEYS, 10, "cannot order 'd' (date) against the integer 5"),
    ("not hr <= 'x'", KEYS, 4, "cannot order 'hr'"),
]


@pytest.mark.parametrize(
    ("filter_text", "keys", "pos", "message"), COMPILE_ERRORS, ids=[c[0] for c in COMPILE_ERRORS]
)
def test_compile_errors(filter_text, keys, pos, message):
    with pytest.raises(InvalidInput) as err:
        compile_filter(filter_text, keys, 1, PartitionRow.id)
    assert f"at position {pos}: " in str(err.value)
    assert message in str(err.value)


def test_compile_accepts_a_parsed_node_and_key_case():
    node = parse_filter("HR = 1")
    sql = str(
        select(PartitionRow.id).where(compile_filter(node, [("hr", "INT")], 1, PartitionRow.id)).compile()
    )
    assert "int_value" in sql
