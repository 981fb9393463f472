"""Recommended ETL mappings: which source column (or nested struct field) feeds which target column, with
which cast, and why.

The matching itself (`recommend_columns`) is pure: it works on lists of (name, Hive type). A source column
matches a target column by name, from the strictest rule to the loosest (same name; same once case and
separators are normalised, `userId` ~ `user_id`; a nested field flattened, `a.b.c` ~ `a_b_c`; common
synonyms and abbreviations, `qty` ~ `quantity`; the leaf of a nested field; the table's name as a prefix,
`id` of `customers` ~ `customer_id`; a near spelling) and only if its type can be cast to the target's: a
widening cast is proposed as safe, a narrowing one with a warning, incompatible types never match. Every
pair is scored and the best pairs are taken first, each column once. With no target table, every source
column is proposed as a new column: structs flattened, names in snake_case.

`recommend_mapping` reads the tables from the catalog; the caller (a door) has checked read access.
"""

from __future__ import annotations

import difflib
import re

from metastore.catalog.errors import NotFound

# Groups of words that mean the same in column names; the first word is the group's canonical form.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("id", "identifier", "ident", "key"),
    ("ts", "timestamp", "time", "datetime", "tstamp", "tm"),
    ("date", "dt", "day"),
    ("qty", "quantity", "qnty"),
    ("amt", "amount", "amnt"),
    ("num", "number", "no", "nbr", "nr"),
    ("cnt", "count"),
    ("desc", "description", "descr"),
    ("cust", "customer", "client"),
    ("addr", "address"),
    ("phone", "tel", "telephone", "phoneno"),
    ("email", "mail"),
    ("name", "nm"),
    ("cat", "category"),
    ("org", "organization", "organisation"),
    ("dept", "department"),
    ("user", "usr"),
    ("msg", "message"),
    ("src", "source"),
    ("dst", "dest", "destination"),
    ("create", "created", "creation"),
    ("update", "updated", "modified", "mod", "modify"),
    ("delete", "deleted"),
    ("ccy", "currency", "cur", "curr"),
    ("pct", "percent", "percentage"),
    ("avg", "average", "mean"),
    ("min", "minimum"),
    ("max", "maximum"),
    ("tot", "total", "sum"),
    ("lat", "latitude"),
    ("lon", "lng", "long", "longitude"),
    ("zip", "zipcode", "postcode", "postal"),
    ("prod", "product"),
    ("acct", "account", "acc"),
    ("txn", "transaction", "trans", "tx"),
    ("ord", "order"),
    ("ref", "reference"),
    ("seq", "sequence"),
    ("val", "value"),
    ("emp", "employee"),
    ("str", "street"),
    ("cty", "city"),
    ("ctry", "country", "cntry"),
    ("st", "state"),
    ("lang", "language"),
    ("img", "image"),
    ("url", "link", "uri"),
    ("pwd", "password"),
    ("dob", "birthdate", "birthday"),
    ("flg", "flag"),
    ("stat", "status", "sts"),
    ("ip", "ipaddress", "ipaddr"),
)
_CANONICAL = {word: group[0] for group in SYNONYMS for word in group}
# `created_at` ~ `created_ts`: a trailing `at`/`on` is a time
_TRAILING = {"at": "ts", "on": "date"}
_FLAG_PREFIXES = ("is", "has", "was", "can")

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# How good a name match is; the type's fit is subtracted from it.
SAME_NAME, SAME_CASELESS, SAME_WORDS, FLATTENED, SYNONYM, LEAF, FLAG, TABLE_PREFIX, NEAR = (
    100, 97, 94, 92, 85, 75, 70, 65, 55)  # fmt: skip
NEAR_RATIO = 0.8

_INTS = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}
_INT_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
_CAST_COST = {"same": 0, "widen": 3, "narrow": 20}
_ALIASES = {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint", "real": "float",
            "double precision": "double", "bool": "boolean", "numeric": "decimal", "datetime": "timestamp",
            "text": "string"}  # fmt: skip


# --- names ------------------------------------------------------------------------------------------


def words(name: str) -> list[str]:
    """The words of a column name or path, lower-cased: `customer.firstName-2` → [customer, first, name, 2]."""
    return [w.lower() for part in re.split(r"[\s._\-/:$#@]+", name) for w in _WORD.findall(part)]


def snake_case(name: str) -> str:
    """`customer.firstName` → `customer_first_name`; a name without letters or digits is kept as it is."""
    return "_".join(words(name)) or name


def canonical(ws: list[str]) -> list[str]:
    """Words with synonyms replaced by their group's canonical word."""
    out = [_CANONICAL.get(w, w) for w in ws]
    if len(out) > 1 and out[-1] in _TRAILING:
        out[-1] = _TRAILING[out[-1]]
    return out


def _unflagged(ws: list[str]) -> list[str]:
    return ws[1:] if len(ws) > 1 and ws[0] in _FLAG_PREFIXES else ws


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ses") or word.endswith("xes"):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def name_match(path: str, target: str, source_table: str = "", target_table: str = "") -> tuple[int, str] | None:
    """(score, reason) of source column or struct path `path` as target column `target`, or None."""
    nested = "." in path
    if path == target:
        return SAME_NAME, "same name"
    if path.lower() == target.lower():
        return SAME_CASELESS, "same name, case differs"
    sw, tw = words(path), words(target)
    if sw and sw == tw:
        if nested:
            return FLATTENED, f"nested field {path} flattened to {target}"
        return SAME_WORDS, "same name once case and separators are normalised"
    cs, ct = canonical(sw), canonical(tw)
    if cs and cs == ct:
        pairs = sorted({f"{a} ~ {b}" for a, b in zip(sw, tw, strict=False) if a != b})
        how = f"nested field {path} flattened, " if nested else ""
        return SYNONYM, f"{how}synonyms: {', '.join(pairs) or 'same words'}"
    if nested:
        leaf = path.rsplit(".", 1)[1]
        if canonical(words(leaf)) == ct:
            return LEAF, f"nested field {path} has the target's name"
    if cs and _unflagged(cs) == _unflagged(ct):
        return FLAG, "same name but for a flag prefix (is_, has_)"
    for table, short, long_ in ((source_table, cs, ct), (target_table, ct, cs)):
        tws = [_singular(w) for w in canonical(words(table))] if table else []
        if tws and short and long_ == canonical(tws[-1:]) + short:
            return TABLE_PREFIX, f"{'_'.join(sw)} of table {table} is {'_'.join(tw)}"
    if cs and ct:
        ratio = difflib.SequenceMatcher(None, "_".join(cs), "_".join(ct)).ratio()
        if ratio >= NEAR_RATIO:
            return NEAR - int((1 - ratio) * 50), f"similar names ({ratio:.0%} alike)"
    return None


# --- types ------------------------------------------------------------------------------------------


def _base(type_name: str) -> tuple[str, list[int]]:
    """(base type, parameters): `decimal(10, 2)` → (decimal, [10, 2]); `struct<...>` → (struct, [])."""
    text = re.sub(r"\s+", " ", type_name.strip().lower())
    text = _ALIASES.get(text, text)
    m = re.match(r"([a-z_ ]+?)\s*(?:\(([\d\s,]*)\)|<|$)", text)
    base = _ALIASES.get(m.group(1).strip(), m.group(1).strip()) if m else text
    params = [int(p) for p in m.group(2).split(",") if p.strip()] if m and m.group(2) else []
    if base == "decimal" and not params:
        params = [10, 0]
    return base, params


def _inner(type_name: str) -> str:
    text = type_name.strip()
    return text[text.index("<") + 1 : text.rindex(">")]


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return parts


def normalise_type(type_name: str) -> str:
    base, params = _base(type_name)
    if base in ("array", "map", "struct", "uniontype"):
        return re.sub(r"\s+", "", type_name.strip().lower())
    return f"{base}({','.join(map(str, params))})" if params else base


def cast_kind(src: str, dst: str) -> tuple[str, str] | None:
    """How a value of Hive type `src` becomes `dst`: ("same"|"widen"|"narrow", why), None if it cannot."""
    if normalise_type(src) == normalise_type(dst):
        return "same", "same type"
    (sb, sp), (db, dp) = _base(src), _base(dst)
    complex_ = {"array", "map", "struct", "uniontype"}
    if sb in complex_ or db in complex_:
        if sb != db or sb in ("struct", "uniontype"):
            return None
        worst = "same"
        for s, d in zip(_split_top(_inner(src)), _split_top(_inner(dst)), strict=True):
            kind = cast_kind(s, d)
            if kind is None:
                return None
            worst = max(worst, kind[0], key=_CAST_COST.__getitem__)
        return worst, f"{sb} elements cast"
    if db == "string":
        return ("widen", "to text") if sb != "binary" else ("narrow", "bytes read as UTF-8 text")
    if db in ("varchar", "char"):
        return "narrow", f"text longer than {dp[0] if dp else '?'} characters is cut"
    if sb in ("string", "varchar", "char"):
        if db == "binary":
            return "widen", "text as bytes"
        return "narrow", f"text parsed as {db}: values that do not parse become null"
    if sb in _INTS and db in _INTS:
        if _INTS[db] > _INTS[sb]:
            return "widen", "a wider integer"
        return "narrow", "a narrower integer: large values overflow"
    if sb in _INTS and db in ("float", "double"):
        exact = {"float": 2, "double": 3}[db]  # up to smallint exact in a float, int in a double
        if _INTS[sb] <= exact:
            return "widen", "integers are exact in a " + db
        return "narrow", f"{sb} values beyond {db}'s precision are rounded"
    if sb in _INTS and db == "decimal":
        if dp[0] - dp[1] >= _INT_DIGITS[sb]:
            return "widen", f"every {sb} fits in decimal({dp[0]},{dp[1]})"
        return "narrow", f"{sb} values beyond decimal({dp[0]},{dp[1]}) become null"
    if sb == "decimal" and db == "decimal":
        if dp[1] >= sp[1] and dp[0] - dp[1] >= sp[0] - sp[1]:
            return "widen", "a wider decimal"
        return "narrow", "a narrower decimal: digits are rounded or values become null"
    if sb == "float" and db == "double":
        return "widen", "float to double"
    if sb in ("float", "double", "decimal") and (db in ("float", "double", "decimal") or db in _INTS):
        return "narrow", f"{sb} to {db}: precision is lost" if db not in _INTS else "fractions are dropped"
    if sb == "boolean" and (db in _INTS or db in ("float", "double", "decimal")):
        return "widen", "true/false as 1/0"
    if db == "boolean" and (sb in _INTS or sb in ("float", "double", "decimal")):
        return "narrow", "zero is false, anything else true"
    if sb == "date" and db == "timestamp":
        return "widen", "a date as midnight"
    if sb == "timestamp" and db == "date":
        return "narrow", "the time of day is dropped"
    if sb in _INTS and db == "timestamp":
        return "narrow", "integers read as seconds since the epoch"
    return None


# --- columns ----------------------------------------------------------------------------------------


def struct_fields(type_name: str) -> dict[str, str] | None:
    """The fields of a Hive struct type, names as written (`struct<firstName:string>` → {firstName: string});
    None if the type is not a struct."""
    text = type_name.strip()
    if not text.lower().startswith("struct<") or not text.endswith(">"):
        return None
    fields = {}
    for part in _split_top(text[7:-1]):
        name, _, typ = part.partition(":")
        if name.strip():
            fields[name.strip().strip("`")] = typ.strip()
    return fields


def flatten(columns: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """(path, type, is_leaf) of every column and every nested struct field, depth first: a struct column is
    listed, then its fields (`a`, `a.b`, `a.b.c`)."""
    out: list[tuple[str, str, bool]] = []

    def walk(path: str, typ: str) -> None:
        fields = struct_fields(typ)
        out.append((path, typ, not fields))
        for name, sub in (fields or {}).items():
            walk(f"{path}.{name}", sub)

    for name, typ in columns:
        walk(name, typ)
    return out


def _proposal(path: str, src_type: str, target: str, target_type: str, reason: str) -> dict:
    return {"source": path, "source_type": src_type, "target": target, "target_type": target_type,
            "reason": reason}  # fmt: skip


def propose_new_target(source_columns: list[tuple[str, str]]) -> list[dict]:
    """Every source column as a column of a new table: structs flattened to their leaves, snake_case names
    (made unique with a suffix), types kept."""
    out, taken = [], set()
    for path, typ, leaf in flatten(source_columns):
        if not leaf:
            continue
        name = snake_case(path)
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        taken.add(unique)
        if "." in path:
            why = f"nested field {path} flattened to {unique}"
        elif unique == path:
            why = "same name and type"
        else:
            why = f"renamed to snake_case ({path} → {unique})"
        out.append(_proposal(path, typ, unique, typ, f"new column: {why}"))
    return out


def recommend_columns(source_columns: list[tuple[str, str]], target_columns: list[tuple[str, str]] | None,
                      source_table: str = "", target_table: str = "") -> list[dict]:  # fmt: skip
    """Proposals mapping `source_columns` ((name, Hive type) of the source's columns and partition keys) to
    `target_columns` (of an existing target; None: a new target), in the target's column order. Target
    columns that nothing matches are left out (the caller lists them as unmapped)."""
    if target_columns is None:
        return propose_new_target(source_columns)
    candidates = []
    sources = flatten(source_columns)
    for ti, (target, ttype) in enumerate(target_columns):
        for si, (path, stype, _leaf) in enumerate(sources):
            named = name_match(path, target, source_table, target_table)
            if named is None:
                continue
            cast = cast_kind(stype, ttype)
            if cast is None:
                continue
            score = named[0] - _CAST_COST[cast[0]]
            if cast[0] == "same":
                why = named[1]
            else:
                safe = "safe" if cast[0] == "widen" else "check it"
                why = f"{named[1]}; cast {stype} → {ttype} ({cast[1]}; {safe})"
            candidates.append((-score, ti, si, why))
    candidates.sort()
    used_t, used_s, chosen = set(), set(), {}
    for _neg, ti, si, why in candidates:
        if ti in used_t or si in used_s:
            continue
        used_t.add(ti)
        used_s.add(si)
        path, stype, _ = sources[si]
        chosen[ti] = _proposal(path, stype, target_columns[ti][0], target_columns[ti][1], why)
    return [chosen[ti] for ti in sorted(chosen)]


def unmatched_targets(proposals: list[dict], target_columns: list[tuple[str, str]]) -> list[str]:
    mapped = {p["target"] for p in proposals}
    return [name for name, _ in target_columns if name not in mapped]


# --- the catalog ------------------------------------------------------------------------------------


def _columns(table) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in [*table.sd.cols, *table.partition_keys]]


def recommend_mapping(service, source_db: str, source_table: str, target_db: str | None = None,
                      target_table: str | None = None) -> list[dict]:  # fmt: skip
    """The proposed mapping from table `source_db.source_table` to `target_db.target_table` (the source's
    database if only the table is named); a new target if none is named or it does not exist yet.
    Raises NotFound if the source does not exist."""
    source = service.tables.get(source_db, source_table)
    target = None
    if target_table:
        try:
            target = service.tables.get(target_db or source_db, target_table)
        except NotFound:
            target = None
    return recommend_columns(_columns(source), _columns(target) if target is not None else None,
                             source_table, target_table or "")  # fmt: skip
