"""The HMS Thrift handler: decodes calls, runs them on the catalog service, encodes answers.

One handler per connection (it remembers the user given by `set_ugi`). Domain errors become the HMS
exceptions the method declares (see `errors.py`); a method this class does not define is answered
UNKNOWN_METHOD by the processor, so clients such as Trino fall back to an older call.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import uuid

from metastore.catalog import CatalogService, Forbidden, InvalidInput, NotFound
from metastore.catalog import types as t
from metastore.catalog.access import (
    RUN_TOKEN_PREFIX,
    Identity,
    anonymous,
    host_matcher,
    user_identity,
    visible,
)
from metastore.catalog.filtered_chunks import KeptFilter
from metastore.catalog.names import parse_partition_name, unescape_path_name
from metastore.config import Settings
from metastore.hms import convert as cv
from metastore.hms import wire
from metastore.hms.authz import UNSCOPED, rule_of
from metastore.hms.errors import CALLS, map_errors
from metastore.hms.gen.hive import ttypes as tt
from metastore.hms.lineage_calls import observe as observe_lineage
from metastore.hms.listings import ListingCache, SortedAnswer

log = logging.getLogger(__name__)

BY_NAMES_KEPT = 1000  # get_partitions_by_names answers are kept for up to this many names (Trino asks in batches)
_RESULT_LIST_HEAD = bytes([15, 0, 1])  # field 1 of a result struct: a list

VERSION = "3.1.3-mortar"  # what getVersion reports; clients only log it
STARTED = int(time.time())


def split_db(name: str | None, catalog: str | None = None) -> tuple[str, str]:
    """(catalog, database) of a database name that may carry a catalog as `@cat#db` (Hive 3+ clients)."""
    if name and name.startswith("@"):
        cat, sep, db = name[1:].partition("#")
        if not sep or not cat:
            raise InvalidInput(f"database name {name!r} is not of the form @catalog#database")
        return cat.lower(), "" if db == "!" else db
    return (catalog or t.DEFAULT_CATALOG).lower(), name or ""


def _cascade(ctx: tt.EnvironmentContext | None) -> bool:
    return bool(ctx and ctx.properties and str(ctx.properties.get("CASCADE", "")).lower() == "true")


def _stats_result(stats: list[t.ColumnStats], db: str, table: str, part: str | None = None) -> tt.ColumnStatistics:
    return tt.ColumnStatistics(
        statsDesc=tt.ColumnStatisticsDesc(isTblLevel=part is None, dbName=db, tableName=table, partName=part,
                                          lastAnalyzed=max((s.last_analyzed for s in stats), default=0)),  # fmt: skip
        statsObj=[cv.column_stats_out(s) for s in stats],
    )


def principal_user(principal: str, settings: Settings) -> str:
    """The Mortar user name of an authenticated Kerberos principal: its first component (`alice` of
    alice/host@REALM) when it is of the service's own realm; a principal of another realm (a cross-realm
    trust) keeps its full name, which names no Mortar user, so it gets only what anonymous callers get."""
    name, _, realm = principal.partition("@")
    own = settings.kerberos_principal.partition("@")[2]
    if realm and own and realm != own:
        return principal
    return name.split("/")[0]


IDENTITY_TTL_S = 5.0  # how long a connection trusts what it last read of its user's role and grants


class Handler:
    """One per connection. Its identity comes from the connection (a Kerberos principal), from `set_ugi`
    (a job driver's credential, or a user name from a trusted host) or else from the `anonymous` setting;
    every call asks the catalog's one authorization decision first (`authorize`, see access.py)."""

    def __init__(self, catalog: CatalogService, listings: ListingCache | None = None,
                 settings: Settings | None = None, peer: str = "", principal: str | None = None):  # fmt: skip
        self._root = catalog
        self.listings = listings or ListingCache(0)  # shared by the process's connections
        self.settings = settings or Settings()
        self.peer = peer
        # where the identity comes from: ("anonymous", None), ("user", name) or ("run", credential)
        self._source = ("user", principal_user(principal, self.settings)) if principal else ("anonymous", None)
        self._resolve()

    # --- identity and authorization ---------------------------------------------------------------------

    def _resolve(self) -> None:
        kind, value = self._source
        identity = None
        if kind == "user":
            try:
                identity = user_identity(self._root.users.get(value), self.peer)
            except NotFound:  # authenticated, but not a Mortar user: what anonymous callers may, under its name
                base = anonymous(self.settings.anonymous, self.peer)
                identity = Identity(value, "user", base.role, None, self.peer)
        elif kind == "run":
            identity = self._root.access.run_identity(value, self.peer) or Identity(
                "unknown job credential", "run", "none", None, self.peer
            )
        self.identity = identity or anonymous(self.settings.anonymous, self.peer)
        if getattr(self, "cat", None) is None or self.cat.ctx.user != self.identity.name:
            self.cat = self._root.for_user(self.identity.name)
        # a job driver's credential is looked up again at every call: it is bound to a run when the run
        # starts, revoked when it ends and, in a warm driver reused for its job's next run, bound again,
        # while the driver's Hive connection stays open: the connection acts as the run of the moment
        self._expires = 0.0 if kind == "run" else time.monotonic() + IDENTITY_TTL_S

    def authorize(self, method: str, args: tuple) -> None:
        """Ask the one decision (access.decide) whether this connection's identity may call `method` with
        `args`; a denial is audited with the identity and peer and answered as the method's HMS exception."""
        if self._source[0] != "anonymous" and time.monotonic() >= self._expires:
            self._resolve()
        rule = rule_of(method)
        if rule is None:
            return
        action, databases = rule(args)
        if not databases:  # none named (UNSCOPED: by lock id, or the method filters its answer)
            if databases is not UNSCOPED and action == "write" and self.identity.databases is not None:
                self._root.access.deny(self.identity, action, f"{self.identity.name} may call {method} only "
                                       "where it names a database it has access to")  # fmt: skip
            self._root.access.check(self.identity, action)
            return
        for db in databases:
            self._root.access.check(self.identity, action, db)
        if self.identity.run_id is not None:  # a job run's session: what it reads and writes is its lineage
            observe_lineage(self._root, self.identity.run_id, method, args)

    def _visible(self, names: list[str]) -> list[str]:
        return visible(self.identity, names)

    # --- fb303 and session --------------------------------------------------------------------------

    def getName(self):
        return "Mortar metastore"

    def getVersion(self):
        return VERSION

    def getStatus(self):
        return 2  # fb_status.ALIVE

    def getStatusDetails(self):
        return "alive"

    def aliveSince(self):
        return STARTED

    def getCounters(self):
        """This server process's id (`process.pid`), calls per method since it started (`calls.<method>`),
        its listing cache (`listing_cache.hits`, `.misses`, `.entries`, `.bytes`; for filters kept per chunk,
        `.filter_chunks_filtered` and `.filter_chunks_reused` after changes) and chunks (`chunks.answered`:
        whole listings answered from the tables' encoded chunks, `.fetched`: chunks read from storage for them)."""
        counters = {f"calls.{name}": n for name, n in CALLS.items()}
        counters["process.pid"] = os.getpid()  # which of the server's processes answered
        counters.update({f"listing_cache.{k}": v for k, v in self.listings.stats().items()})
        if self.listings.chunks is not None:
            counters.update({f"chunks.{k}": v for k, v in self.listings.chunks.stats().items()})
        # this connection's last call of each method, request in → answer out (see server.Processor)
        counters.update({f"server_us.{m}": int(s * 1e6) for m, s in getattr(self, "server_times", {}).items()})
        return counters

    def getCounter(self, key):
        return self.getCounters().get(key, 0)

    def setOption(self, key, value):
        pass

    def getOption(self, key):
        return ""

    def getOptions(self):
        return {}

    def shutdown(self):
        """One-way: Spark sends it when it closes a connection. It must not stop the server."""

    def reinitialize(self):
        pass

    def set_ugi(self, user_name, group_names):
        """Who the client says it is. Believed only for a job driver's credential (passed as a group) or
        from a host the administrator trusts (`trusted_ugi_hosts`); otherwise the identity stays as it was."""
        groups = list(group_names or [])
        token = next((g for g in groups if isinstance(g, str) and g.startswith(RUN_TOKEN_PREFIX)), None)
        if token is not None:
            self._source = ("run", token)
            self._resolve()
        elif user_name and host_matcher(self.settings.trusted_ugi_hosts)(self.peer):
            self._source = ("user", str(user_name))
            self._resolve()
        elif user_name:
            log.debug("set_ugi(%r) from %s ignored: not a trusted host", user_name, self.peer)
        return [g for g in groups if g is not token]

    def getMetaConf(self, key):
        return self.cat.settings.get(key, "") or ""

    def setMetaConf(self, key, value):
        self.cat.settings.set(key, value)

    def get_config_value(self, name, defaultValue):
        if isinstance(name, str) and name.startswith(RUN_CALL_PREFIX):  # a job run's helper call (below)
            return self._run_call(name[len(RUN_CALL_PREFIX) :], defaultValue)
        return self.cat.settings.get(name, defaultValue)

    def get_current_notificationEventId(self):
        return tt.CurrentNotificationEventId(eventId=self.cat.audit.last_event_id())

    def get_metastore_db_uuid(self):
        value = self.cat.settings.get("mortar.metastore.uuid")
        if value is None:
            value = str(uuid.uuid4())
            self.cat.settings.set("mortar.metastore.uuid", value)
        return value

    # --- catalogs ---------------------------------------------------------------------------------------

    def create_catalog(self, catalog):
        c = catalog.catalog
        self.cat.catalogs.create(t.Catalog(c.name, c.locationUri, c.description))

    def get_catalog(self, catName):
        c = self.cat.catalogs.get(catName.name)
        return tt.GetCatalogResponse(
            catalog=tt.Catalog(name=c.name, description=c.description, locationUri=c.location_uri, createTime=c.create_time)
        )

    def get_catalogs(self):
        return tt.GetCatalogsResponse(names=self.cat.catalogs.list())

    def drop_catalog(self, catName):
        self.cat.catalogs.drop(catName.name)

    # --- databases --------------------------------------------------------------------------------------

    def create_database(self, database):
        cat, _ = split_db(database.name, database.catalogName)
        db = cv.database_in(database, cat)
        db.name = split_db(database.name)[1]
        self.cat.databases.create(db, hive=True)

    def get_database(self, name):
        cat, db = split_db(name)
        return cv.database_out(self.cat.databases.get(db, cat))

    def get_database_req(self, request):
        cat, db = split_db(request.name, request.catalogName)
        return cv.database_out(self.cat.databases.get(db, cat))

    def get_databases(self, pattern):
        cat, pat = split_db(pattern)
        return self._visible(self.cat.databases.list(pat or None, cat))

    def get_all_databases(self):
        return self._visible(self.cat.databases.list())

    def alter_database(self, dbname, db):
        cat, name = split_db(dbname)
        self.cat.databases.alter(name, cv.database_in(db, cat), cat)

    def drop_database(self, name, deleteData, cascade):
        cat, db = split_db(name)
        self.cat.databases.drop(db, cascade=bool(cascade), delete_data=bool(deleteData), catalog=cat)

    def drop_database_req(self, req):
        cat, db = split_db(req.name, req.catalogName)
        self.cat.databases.drop(db, cascade=bool(req.cascade), delete_data=bool(req.deleteData), catalog=cat)
        return tt.AsyncOperationResp(id=str(uuid.uuid4()), message=f"database {db} dropped", finished=True)

    # --- tables -----------------------------------------------------------------------------------------

    def create_table(self, tbl):
        cat, db = split_db(tbl.dbName, tbl.catName)
        table = cv.table_in(tbl, cat)
        table.db_name = db
        self.cat.tables.create(table, hive=True)

    def create_table_with_environment_context(self, tbl, environment_context):
        self.create_table(tbl)

    def create_table_with_constraints(self, tbl, primaryKeys, foreignKeys, uniqueConstraints, notNullConstraints,
                                      defaultConstraints, checkConstraints):  # fmt: skip
        self.create_table(tbl)

    def create_table_req(self, request):
        self.create_table(request.table)

    def get_table(self, dbname, tbl_name):
        cat, db = split_db(dbname)
        return cv.table_out(self.cat.tables.get(db, tbl_name, cat))

    def get_table_req(self, req):
        cat, db = split_db(req.dbName, req.catName)
        return tt.GetTableResult(table=cv.table_out(self.cat.tables.get(db, req.tblName, cat)))

    def get_table_wire(self, dbname, tbl_name):
        cat, db = split_db(dbname)
        return wire.table(self.cat.tables.get_stored(db, tbl_name, cat), db.lower(), cat)

    def get_table_req_wire(self, req):
        cat, db = split_db(req.dbName, req.catName)
        return wire.get_table_result(wire.table(self.cat.tables.get_stored(db, req.tblName, cat), db.lower(), cat))

    def get_table_objects_by_name(self, dbname, tbl_names):
        cat, db = split_db(dbname)
        return [cv.table_out(x) for x in self.cat.tables.get_many(db, tbl_names or [], cat)]

    def get_table_objects_by_name_req(self, req):
        cat, db = split_db(req.dbName, req.catName)
        if req.tblNames is None:
            names = self.cat.tables.list(db, None, catalog=cat)
        else:
            names = req.tblNames
        return tt.GetTablesResult(tables=[cv.table_out(x) for x in self.cat.tables.get_many(db, names, cat)])

    def get_tables(self, db_name, pattern):
        cat, db = split_db(db_name)
        return self.cat.tables.list(db, pattern, catalog=cat)

    def get_tables_by_type(self, db_name, pattern, tableType):
        cat, db = split_db(db_name)
        return self.cat.tables.list(db, pattern, tableType or None, catalog=cat)

    def get_all_tables(self, db_name):
        cat, db = split_db(db_name)
        return self.cat.tables.list(db, catalog=cat)

    def get_table_names_by_filter(self, dbname, filter, max_tables):  # noqa: A002 - IDL name
        cat, db = split_db(dbname)
        return self.cat.tables.names_by_filter(db, filter, -1 if max_tables is None else max_tables, cat)

    def get_table_meta(self, db_patterns, tbl_patterns, tbl_types):
        cat, pattern = split_db(db_patterns)
        rows = self.cat.tables.list_meta(pattern or None, tbl_patterns, tbl_types or None, cat)
        seen = set(self._visible(sorted({r[0] for r in rows})))
        return [tt.TableMeta(dbName=d, tableName=n, tableType=ty, comments=c, catName=cat)
                for d, n, ty, c in rows if d in seen]  # fmt: skip

    def get_fields(self, db_name, table_name):
        cat, db = split_db(db_name)
        return [cv.col_out(c) for c in self.cat.tables.get(db, table_name, cat).sd.cols]

    def get_fields_with_environment_context(self, db_name, table_name, environment_context):
        return self.get_fields(db_name, table_name)

    def get_schema(self, db_name, table_name):
        cat, db = split_db(db_name)
        x = self.cat.tables.get(db, table_name, cat)
        return [cv.col_out(c) for c in x.sd.cols + x.partition_keys]

    def get_schema_with_environment_context(self, db_name, table_name, environment_context):
        return self.get_schema(db_name, table_name)

    def _alter_table(self, dbname, tbl_name, new_tbl, cascade, catalog=None):
        cat, db = split_db(dbname, catalog)
        table = cv.table_in(new_tbl, cat)
        table.db_name = split_db(new_tbl.dbName)[1] if new_tbl.dbName else db
        self.cat.tables.alter(db, tbl_name, table, cascade=cascade, catalog=cat)

    def alter_table(self, dbname, tbl_name, new_tbl):
        self._alter_table(dbname, tbl_name, new_tbl, False)

    def alter_table_with_environment_context(self, dbname, tbl_name, new_tbl, environment_context):
        self._alter_table(dbname, tbl_name, new_tbl, _cascade(environment_context))

    def alter_table_with_cascade(self, dbname, tbl_name, new_tbl, cascade):
        self._alter_table(dbname, tbl_name, new_tbl, bool(cascade))

    def alter_table_req(self, req):
        self._alter_table(req.dbName, req.tableName, req.table, _cascade(req.environmentContext), req.catName)
        return tt.AlterTableResponse()

    def drop_table(self, dbname, name, deleteData):
        cat, db = split_db(dbname)
        self.cat.tables.drop(db, name, delete_data=bool(deleteData), catalog=cat)

    def drop_table_with_environment_context(self, dbname, name, deleteData, environment_context):
        self.drop_table(dbname, name, deleteData)

    def truncate_table(self, dbName, tableName, partNames):
        cat, db = split_db(dbName)
        self.cat.tables.truncate(db, tableName, partNames or None, cat)

    def truncate_table_req(self, req):
        cat, db = split_db(req.dbName)
        self.cat.tables.truncate(db, req.tableName, req.partNames or None, cat)
        return tt.TruncateTableResponse()

    # --- partitions: add ----------------------------------------------------------------------------------

    def _add(self, parts, if_not_exists=False, catalog=None, db=None, table=None):
        if not parts:
            return []
        first = parts[0]
        cat, dbn = split_db(db or first.dbName, catalog or first.catName)
        tbl = table or first.tableName
        domain = wire.partitions_in(parts, cat, dbn, tbl)
        for p in domain:
            p.db_name = dbn.lower()
        return self.cat.partitions.add(dbn, tbl, domain, if_not_exists=if_not_exists, catalog=cat, hive=True)

    def add_partition(self, new_part):
        return cv.partition_out(self._add([new_part])[0])

    def add_partition_with_environment_context(self, new_part, environment_context):
        return self.add_partition(new_part)

    def add_partitions(self, new_parts):
        return len(self._add(new_parts))

    def add_partitions_pspec(self, new_parts):
        raise InvalidInput("add_partitions_pspec is not supported: use add_partitions")

    def add_partitions_req(self, request):
        added = self._add(request.parts, bool(request.ifNotExists), request.catName, request.dbName, request.tblName)
        return tt.AddPartitionsResult(partitions=cv.partitions_out(added) if request.needResult else None)

    def append_partition(self, db_name, tbl_name, part_vals):
        cat, db = split_db(db_name)
        return cv.partition_out(self.cat.partitions.append(db, tbl_name, list(part_vals or []), cat, hive=True))

    def append_partition_with_environment_context(self, db_name, tbl_name, part_vals, environment_context):
        return self.append_partition(db_name, tbl_name, part_vals)

    def append_partition_by_name(self, db_name, tbl_name, part_name):
        cat, db = split_db(db_name)
        keys = [k.name for k in self.cat.partitions.keys(db, tbl_name, cat)]
        return cv.partition_out(
            self.cat.partitions.append(db, tbl_name, parse_partition_name(part_name, keys), cat, hive=True)
        )

    def append_partition_by_name_with_environment_context(self, db_name, tbl_name, part_name, environment_context):
        return self.append_partition_by_name(db_name, tbl_name, part_name)

    # --- partitions: read ---------------------------------------------------------------------------------

    def get_partition(self, db_name, tbl_name, part_vals):
        cat, db = split_db(db_name)
        return cv.partition_out(self.cat.partitions.get(db, tbl_name, list(part_vals or []), cat))

    def get_partition_with_auth(self, db_name, tbl_name, part_vals, user_name, group_names):
        return self.get_partition(db_name, tbl_name, part_vals)

    def get_partition_by_name(self, db_name, tbl_name, part_name):
        cat, db = split_db(db_name)
        return cv.partition_out(self.cat.partitions.get_by_name(db, tbl_name, part_name, cat))

    def get_partitions(self, db_name, tbl_name, max_parts):
        cat, db = split_db(db_name)
        return cv.partitions_out(self.cat.partitions.list(db, tbl_name, _max(max_parts), cat))

    def get_partitions_with_auth(self, db_name, tbl_name, max_parts, user_name, group_names):
        return self.get_partitions(db_name, tbl_name, max_parts)

    def get_partition_names(self, db_name, tbl_name, max_parts):
        cat, db = split_db(db_name)
        return self.cat.partitions.names(db, tbl_name, _max(max_parts), cat)

    def get_partitions_ps(self, db_name, tbl_name, part_vals, max_parts):
        cat, db = split_db(db_name)
        parts = self.cat.partitions.by_partial_values(db, tbl_name, list(part_vals or []), _max(max_parts), cat)
        return cv.partitions_out(parts)

    def get_partitions_ps_with_auth(self, db_name, tbl_name, part_vals, max_parts, user_name, group_names):
        return self.get_partitions_ps(db_name, tbl_name, part_vals, max_parts)

    def get_partition_names_ps(self, db_name, tbl_name, part_vals, max_parts):
        cat, db = split_db(db_name)
        return self.cat.partitions.names_by_partial_values(db, tbl_name, list(part_vals or []), _max(max_parts), cat)

    def get_partitions_by_filter(self, db_name, tbl_name, filter, max_parts):  # noqa: A002 - IDL name
        cat, db = split_db(db_name)
        parts = self.cat.partitions.by_filter(db, tbl_name, filter, _max(max_parts), cat)
        return cv.partitions_out(parts)

    # The same listings as encoded bytes (see wire.py), for the processor to write on binary connections.
    # Each `x_wire` takes the arguments of the IDL method `x` and returns its success value, encoded;
    # listings of a table's partitions are kept while the table's partitions stay the same (listings.py).

    def _listing(self, cat: str, db: str, tbl_name, request: tuple, encode):
        """`encode()`'s answer to `request` on this table, or the one kept from before."""
        key = (cat, db.lower(), (tbl_name or "").lower(), *request)
        return self.listings.answer(key, lambda: self.cat.partitions.version(db, tbl_name, cat), encode)

    def _whole(self, cat: str, db: str, tbl_name, what: str, build):
        key = (cat, db.lower(), (tbl_name or "").lower(), what, -1)
        return self.listings.answer_sorted(key, lambda: self.cat.partitions.version(db, tbl_name, cat), build)

    def _chunked(self, cat: str, db: str, tbl_name, column: str, element_type: int) -> list[bytes] | None:
        """A whole listing from the table's encoded chunks (catalog/chunks.py), or None when they do not
        hold its partitions now."""
        got = self.cat.partitions.chunked(db, tbl_name, column, self.listings.chunks, cat)
        if got is None:
            return None
        return [bytes([element_type]) + struct.pack(">i", got[0]), *got[1]]

    def get_partitions_wire(self, db_name, tbl_name, max_parts):
        (cat, db), n = split_db(db_name), _max(max_parts)
        if n < 0 and (chunked := self._chunked(cat, db, tbl_name, "parts", 12)) is not None:
            return chunked
        if n < 0:  # the whole listing: kept across this process's own changes (listings.SortedAnswer)
            return self._whole(cat, db, tbl_name, "all", lambda: SortedAnswer.of(
                12, *wire.partition_items(self.cat.partitions.list_named_rows(db, tbl_name, cat))))  # fmt: skip
        return self._listing(cat, db, tbl_name, ("all", n), lambda: wire.partition_chunks(
            self.cat.partitions.list_rows(db, tbl_name, n, cat)))  # fmt: skip

    def get_partitions_with_auth_wire(self, db_name, tbl_name, max_parts, user_name, group_names):
        return self.get_partitions_wire(db_name, tbl_name, max_parts)

    def get_partitions_by_filter_wire(self, db_name, tbl_name, filter, max_parts):  # noqa: A002
        (cat, db), n = split_db(db_name), _max(max_parts)
        # the partitions' bytes as kept in their rows (see catalog/chunks.py); the table's version read with
        # them, in the same read (not apart, as _listing does)
        key = (cat, db.lower(), (tbl_name or "").lower(), "filter", filter, n)
        if n < 0 and self.listings.max_bytes > 0:
            # kept per chunk of the table, the chunks a change did not touch reused (filtered_chunks.py)
            held = self.listings.held(key)
            held = held if isinstance(held, KeptFilter) else None
            made = self.cat.partitions.by_filter_kept(db, tbl_name, filter, cat, held)
            if made is not None:
                if made is held:
                    self.listings.count("hits")
                else:
                    self.listings.hold(key, made.version, made, made.size)
                    self.listings.count("misses", filter_chunks_filtered=made.filtered,
                                        filter_chunks_reused=len(made.chunks) - made.filtered)  # fmt: skip
                return made.pieces
        version, items, kept = self.cat.partitions.by_filter_encoded(db, tbl_name, filter, n, cat,
                                                                     lambda v: self.listings.lookup(key, v))  # fmt: skip
        if kept:
            return items
        answer = [bytes([12]) + struct.pack(">i", len(items)), *items]
        self.listings.keep(key, version, answer)
        return answer

    def get_partitions_ps_wire(self, db_name, tbl_name, part_vals, max_parts):
        (cat, db), values, n = split_db(db_name), list(part_vals or []), _max(max_parts)
        return self._listing(cat, db, tbl_name, ("ps", tuple(values), n), lambda: wire.partition_chunks(
            self.cat.partitions.by_partial_values_rows(db, tbl_name, values, n, cat)))  # fmt: skip

    def get_partitions_ps_with_auth_wire(self, db_name, tbl_name, part_vals, max_parts, user_name, group_names):
        return self.get_partitions_ps_wire(db_name, tbl_name, part_vals, max_parts)

    def get_partitions_by_names_wire(self, db_name, tbl_name, names):
        return self._by_names(*split_db(db_name), tbl_name, names)

    def get_partitions_by_names_req_wire(self, req):
        # GetPartitionsByNamesResult: field 1 (partitions), then the struct's end
        return [_RESULT_LIST_HEAD, *self._by_names(*split_db(req.db_name), req.tbl_name, req.names),
                b"\x00"]  # fmt: skip

    def _by_names(self, cat: str, db: str, tbl_name, names):
        names = list(names or [])

        def encode():
            return wire.partition_chunks(self.cat.partitions.get_by_names_rows(db, tbl_name, names, cat))

        if len(names) > BY_NAMES_KEPT:  # a key this long is not worth keeping
            return encode()
        return self._listing(cat, db, tbl_name, ("by_names", tuple(names)), encode)

    def get_partition_names_wire(self, db_name, tbl_name, max_parts):
        (cat, db), n = split_db(db_name), _max(max_parts)
        if n < 0 and (chunked := self._chunked(cat, db, tbl_name, "names", 11)) is not None:
            return chunked
        if n < 0:
            def names() -> SortedAnswer:
                found = self.cat.partitions.names(db, tbl_name, -1, cat)
                return SortedAnswer.of(11, found, wire.string_items(found))

            return self._whole(cat, db, tbl_name, "names", names)
        return self._listing(cat, db, tbl_name, ("names", n), lambda: [wire.string_list(
            self.cat.partitions.names(db, tbl_name, n, cat))])  # fmt: skip

    def get_partition_names_ps_wire(self, db_name, tbl_name, part_vals, max_parts):
        (cat, db), values, n = split_db(db_name), list(part_vals or []), _max(max_parts)
        return self._listing(cat, db, tbl_name, ("names_ps", tuple(values), n), lambda: [wire.string_list(
            self.cat.partitions.names_by_partial_values(db, tbl_name, values, n, cat))])  # fmt: skip

    def get_num_partitions_by_filter(self, db_name, tbl_name, filter):  # noqa: A002
        cat, db = split_db(db_name)
        return self.cat.partitions.count_by_filter(db, tbl_name, filter, cat)

    def get_partitions_by_names(self, db_name, tbl_name, names):
        cat, db = split_db(db_name)
        return cv.partitions_out(self.cat.partitions.get_by_names(db, tbl_name, list(names or []), cat))

    def get_partitions_by_names_req(self, req):
        cat, db = split_db(req.db_name)
        parts = self.cat.partitions.get_by_names(db, req.tbl_name, list(req.names or []), cat)
        return tt.GetPartitionsByNamesResult(partitions=cv.partitions_out(parts))

    def get_partition_values(self, request):
        cat, db = split_db(request.dbName, request.catName)
        rows = self.cat.partitions.values(
            db, request.tblName, [k.name for k in request.partitionKeys or []], request.filter,
            distinct=request.applyDistinct is not False, ascending=request.ascending is not False,
            max_parts=_max(request.maxParts), catalog=cat,
        )  # fmt: skip
        return tt.PartitionValuesResponse(partitionValues=[tt.PartitionValuesRow(row=r) for r in rows])

    def partition_name_to_vals(self, part_name):
        return parse_partition_name(part_name)

    def partition_name_to_spec(self, part_name):
        keys = [unescape_path_name(p.split("=", 1)[0]) for p in part_name.split("/")]
        return dict(zip(keys, parse_partition_name(part_name), strict=True))

    # --- partitions: change -------------------------------------------------------------------------------

    def _alter_partitions(self, db_name, tbl_name, new_parts, catalog=None):
        cat, db = split_db(db_name, catalog)
        self.cat.partitions.alter(db, tbl_name, [cv.partition_in(p, cat, db, tbl_name) for p in new_parts], cat)

    def alter_partition(self, db_name, tbl_name, new_part):
        self._alter_partitions(db_name, tbl_name, [new_part])

    def alter_partition_with_environment_context(self, db_name, tbl_name, new_part, environment_context):
        self._alter_partitions(db_name, tbl_name, [new_part])

    def alter_partitions(self, db_name, tbl_name, new_parts):
        self._alter_partitions(db_name, tbl_name, new_parts)

    def alter_partitions_with_environment_context(self, db_name, tbl_name, new_parts, environment_context):
        self._alter_partitions(db_name, tbl_name, new_parts)

    def alter_partitions_req(self, req):
        self._alter_partitions(req.dbName, req.tableName, req.partitions, req.catName)
        return tt.AlterPartitionsResponse()

    def rename_partition(self, db_name, tbl_name, part_vals, new_part):
        cat, db = split_db(db_name)
        self.cat.partitions.rename(db, tbl_name, list(part_vals or []), cv.partition_in(new_part, cat, db, tbl_name), cat)

    def drop_partition(self, db_name, tbl_name, part_vals, deleteData):
        cat, db = split_db(db_name)
        self.cat.partitions.drop(db, tbl_name, list(part_vals or []), delete_data=bool(deleteData), catalog=cat)
        return True

    def drop_partition_with_environment_context(self, db_name, tbl_name, part_vals, deleteData, environment_context):
        return self.drop_partition(db_name, tbl_name, part_vals, deleteData)

    def drop_partition_by_name(self, db_name, tbl_name, part_name, deleteData):
        cat, db = split_db(db_name)
        self.cat.partitions.drop_by_names(db, tbl_name, [part_name], delete_data=bool(deleteData),
                                          if_exists=False, catalog=cat)  # fmt: skip
        return True

    def drop_partition_by_name_with_environment_context(self, db_name, tbl_name, part_name, deleteData,
                                                        environment_context):  # fmt: skip
        return self.drop_partition_by_name(db_name, tbl_name, part_name, deleteData)

    def drop_partitions_req(self, req):
        cat, db = split_db(req.dbName, req.catName)
        names = req.parts.names if req.parts is not None else None
        if names is None:
            raise InvalidInput("drop_partitions_req: only dropping by partition names is supported, not by expressions")
        dropped = self.cat.partitions.drop_by_names(
            db, req.tblName, names, delete_data=bool(req.deleteData),  # unset keeps the data, as in HMS
            if_exists=req.ifExists is not False, catalog=cat,
        )  # fmt: skip
        return tt.DropPartitionsResult(partitions=cv.partitions_out(dropped) if req.needResult else None)

    # --- functions ----------------------------------------------------------------------------------------

    def create_function(self, func):
        cat, db = split_db(func.dbName, func.catName)
        fn = cv.function_in(func, cat)
        fn.db_name = db
        self.cat.functions.create(fn)

    def get_function(self, dbName, funcName):
        cat, db = split_db(dbName)
        return cv.function_out(self.cat.functions.get(db, funcName, cat))

    def get_functions(self, dbName, pattern):
        cat, db = split_db(dbName)
        return self.cat.functions.list(db, pattern, cat)

    def get_all_functions(self):
        functions = self.cat.functions.list_all()
        seen = set(self._visible(sorted({f.db_name for f in functions})))
        return tt.GetAllFunctionsResponse(functions=[cv.function_out(f) for f in functions if f.db_name in seen])

    def alter_function(self, dbName, funcName, newFunc):
        cat, db = split_db(dbName)
        self.cat.functions.alter(db, funcName, cv.function_in(newFunc, cat), cat)

    def drop_function(self, dbName, funcName):
        cat, db = split_db(dbName)
        self.cat.functions.drop(db, funcName, cat)

    # --- statistics ---------------------------------------------------------------------------------------

    def _update_stats(self, stats: tt.ColumnStatistics, engine: str | None = None) -> bool:
        d = stats.statsDesc
        cat, db = split_db(d.dbName, d.catName)
        objs = [cv.column_stats_in(o) for o in stats.statsObj or []]
        for o in objs:
            o.last_analyzed = d.lastAnalyzed or 0
        eng = engine or stats.engine or "hive"
        if d.isTblLevel:
            self.cat.statistics.update_table(db, d.tableName, objs, eng, cat)
        else:
            self.cat.statistics.update_partition(db, d.tableName, d.partName, objs, eng, cat)
        return True

    def update_table_column_statistics(self, stats_obj):
        return self._update_stats(stats_obj)

    def update_partition_column_statistics(self, stats_obj):
        return self._update_stats(stats_obj)

    def update_table_column_statistics_req(self, req):
        for s in req.colStats or []:
            self._update_stats(s, req.engine)
        return tt.SetPartitionsStatsResponse(result=True)

    def update_partition_column_statistics_req(self, req):
        return self.update_table_column_statistics_req(req)

    def set_aggr_stats_for(self, request):
        for s in request.colStats or []:
            self._update_stats(s, request.engine)
        return True

    def get_table_column_statistics(self, db_name, tbl_name, col_name):
        cat, db = split_db(db_name)
        stats = self.cat.statistics.get_table(db, tbl_name, [col_name], catalog=cat)
        if not stats:
            raise NotFound(f"no statistics for column {col_name} of table {db}.{tbl_name}")
        return _stats_result(stats, db, tbl_name)

    def get_table_statistics_req(self, request):
        cat, db = split_db(request.dbName, request.catName)
        stats = self.cat.statistics.get_table(db, request.tblName, list(request.colNames or []),
                                              request.engine or "hive", cat)  # fmt: skip
        return tt.TableStatsResult(tableStats=[cv.column_stats_out(s) for s in stats])

    def get_partition_column_statistics(self, db_name, tbl_name, part_name, col_name):
        cat, db = split_db(db_name)
        found = self.cat.statistics.get_partitions(db, tbl_name, [part_name], [col_name], catalog=cat)
        if not found:
            raise NotFound(f"no statistics for column {col_name} of partition {part_name} of {db}.{tbl_name}")
        return _stats_result(next(iter(found.values())), db, tbl_name, part_name)

    def get_partitions_statistics_req(self, request):
        cat, db = split_db(request.dbName, request.catName)
        found = self.cat.statistics.get_partitions(db, request.tblName, list(request.partNames or []),
                                                   list(request.colNames or []), request.engine or "hive", cat)  # fmt: skip
        return tt.PartitionsStatsResult(
            partStats={name: [cv.column_stats_out(s) for s in stats] for name, stats in found.items()}
        )

    def delete_table_column_statistics(self, db_name, tbl_name, col_name, engine=None):
        cat, db = split_db(db_name)
        if not self.cat.statistics.delete_table(db, tbl_name, col_name or None, engine or "hive", cat) and col_name:
            raise NotFound(f"no statistics for column {col_name} of table {db}.{tbl_name}")
        return True

    def delete_partition_column_statistics(self, db_name, tbl_name, part_name, col_name, engine=None):
        cat, db = split_db(db_name)
        if not self.cat.statistics.delete_partition(db, tbl_name, part_name, col_name or None, engine or "hive", cat) \
                and col_name:  # fmt: skip
            raise NotFound(f"no statistics for column {col_name} of partition {part_name} of {db}.{tbl_name}")
        return True

    # --- locks and transactions --------------------------------------------------------------------------

    def lock(self, rqst):
        comps = [
            t.LockComponent(
                lock_type=tt.LockType._VALUES_TO_NAMES.get(c.type, str(c.type)),
                level=tt.LockLevel._VALUES_TO_NAMES.get(c.level, str(c.level)),
                db_name=split_db(c.dbname)[1],
                table_name=c.tablename,
                partition_name=c.partitionname,
                operation=tt.DataOperationType._VALUES_TO_NAMES.get(c.operationType) if c.operationType else None,
            )
            for c in rqst.component or []
        ]
        cat = self.cat.for_user(rqst.user) if rqst.user else self.cat
        lock_id, state = cat.locks.lock(comps, txn_id=rqst.txnid or 0, hostname=rqst.hostname or "",
                                        agent_info=rqst.agentInfo)  # fmt: skip
        return tt.LockResponse(lockid=lock_id, state=tt.LockState._NAMES_TO_VALUES[state])

    def check_lock(self, rqst):
        state = self.cat.locks.check(rqst.lockid)
        return tt.LockResponse(lockid=rqst.lockid, state=tt.LockState._NAMES_TO_VALUES[state])

    def unlock(self, rqst):
        self.cat.locks.unlock(rqst.lockid)

    def heartbeat(self, ids):
        self.cat.locks.heartbeat(ids.lockid or 0, ids.txnid or 0)

    def show_locks(self, rqst):
        elements = []
        for lk in self.cat.locks.show(rqst.dbname if rqst else None, rqst.tablename if rqst else None):
            for c in lk.components:
                elements.append(
                    tt.ShowLocksResponseElement(
                        lockid=lk.id, dbname=c.db_name, tablename=c.table_name, partname=c.partition_name,
                        state=tt.LockState._NAMES_TO_VALUES[lk.state], type=tt.LockType._NAMES_TO_VALUES[c.lock_type],
                        txnid=lk.txn_id, lastheartbeat=lk.last_heartbeat, acquiredat=lk.acquired_at,
                        user=lk.user, hostname=lk.hostname, agentInfo=lk.agent_info, catname=t.DEFAULT_CATALOG,
                    )
                )  # fmt: skip
        return tt.ShowLocksResponse(locks=elements)

    def open_txns(self, rqst):
        cat = self.cat.for_user(rqst.user) if rqst.user else self.cat
        return tt.OpenTxnsResponse(txn_ids=cat.locks.open_transactions(rqst.num_txns, rqst.hostname or ""))

    def commit_txn(self, rqst):
        self.cat.locks.end_transaction(rqst.txnid, commit=True)

    def abort_txn(self, rqst):
        self.cat.locks.end_transaction(rqst.txnid, commit=False)

    def abort_txns(self, rqst):
        for txn in rqst.txn_ids or []:
            self.cat.locks.end_transaction(txn, commit=False)

    def get_open_txns(self):
        high, open_ids = self.cat.locks.open_transaction_ids()
        return tt.GetOpenTxnsResponse(txn_high_water_mark=high, open_txns=open_ids, abortedBits=b"")

    def allocate_table_write_ids(self, rqst):
        _, db = split_db(rqst.dbName)
        pairs = self.cat.locks.allocate_write_ids(db, rqst.tableName, list(rqst.txnIds or []))
        return tt.AllocateTableWriteIdsResponse(txnToWriteIds=[tt.TxnToWriteId(txnId=t_, writeId=w) for t_, w in pairs])

    def get_valid_write_ids(self, rqst):
        out = []
        for full in rqst.fullTableNames or []:
            db, _, table = full.partition(".")
            if not table:
                raise InvalidInput(f"table name {full!r} is not of the form database.table")
            high, invalid, aborted = self.cat.locks.valid_write_ids(db, table)
            bits = sum(1 << i for i, a in enumerate(aborted) if a)  # java.util.BitSet.toByteArray order
            out.append(tt.TableValidWriteIds(
                fullTableName=full, writeIdHighWaterMark=high, invalidWriteIds=invalid,
                minOpenWriteId=min((w for w, a in zip(invalid, aborted, strict=True) if not a), default=None),
                abortedBits=bits.to_bytes((bits.bit_length() + 7) // 8, "little")))  # fmt: skip
        return tt.GetValidWriteIdsResponse(tblValidWriteIds=out)

    def get_delegation_token(self, token_owner, renewer_kerberos_principal_name):
        raise InvalidInput("delegation tokens are for Kerberos (SASL) connections, which Mortar does not use")

    # --- roles and privileges: no grants are kept yet; answer as an HMS with none does ------------------

    def get_role_names(self):
        return ["public", "admin"]

    def list_roles(self, principal_name, principal_type):
        return []

    def list_privileges(self, principal_name, principal_type, hiveObject):
        return []

    def get_privilege_set(self, hiveObject, user_name, group_names):
        return tt.PrincipalPrivilegeSet(userPrivileges={}, groupPrivileges={}, rolePrivileges={})

    # --- indexes (Hive 2 clients ask; Mortar keeps none) -------------------------------------------------

    def get_indexes(self, db_name, tbl_name, max_indexes):
        cat, db = split_db(db_name)
        self.cat.tables.get(db, tbl_name, cat)
        return []

    def get_index_names(self, db_name, tbl_name, max_indexes):
        return self.get_indexes(db_name, tbl_name, max_indexes)

    def get_index_by_name(self, db_name, tbl_name, index_name):
        raise NotFound(f"index {index_name} on table {db_name}.{tbl_name} does not exist")

    # --- job runs' helper calls (mortar_job: runner/jobs/context.py) ------------------------------------
    # A job's driver holds a per-run credential (set_ugi group "mortar-run.<hex>"), never the storage URL.
    # What the `mortar_job` helpers need beyond plain HMS calls goes through
    # get_config_value("mortar.run.<call>", "<JSON argument>"), answered as JSON. Each call acts only for
    # the run the credential is bound to: its own run record, the connections its job lists, its job's
    # bookmarks, its workflow run's properties. Anyone else (users, an unbound or revoked credential) is
    # refused, audited, with ConfigValSecurityException.

    def _run_call(self, call: str, argument):
        import json

        ident = self.identity
        handler = _RUN_CALLS.get(call)
        if handler is None:
            raise InvalidInput(f"{RUN_CALL_PREFIX}{call} is not a job run call (calls: {', '.join(_RUN_CALLS)})")
        try:
            if ident.kind != "run" or ident.run_id is None or ident.role == "none":
                self._root.access.deny(ident, "read", f"{ident.name} may not call {RUN_CALL_PREFIX}{call}: only "
                                       "a running job run's credential may", obj=call)  # fmt: skip
            run = self._root.jobs.get_run(ident.run_id)
            if run.ended_at is not None:
                self._root.access.deny(ident, "read", f"{ident.name} has ended ({run.state})", obj=call)
            try:
                arg = json.loads(argument) if argument else {}
            except ValueError:
                raise InvalidInput(f"the argument of {RUN_CALL_PREFIX}{call} is not JSON") from None
            if not isinstance(arg, dict):
                raise InvalidInput(f"the argument of {RUN_CALL_PREFIX}{call} is not a JSON object")
            return json.dumps(handler(self, run, arg))
        except Forbidden as e:
            raise tt.ConfigValSecurityException(message=str(e)) from e

    def _rc_run(self, run, arg):
        return {"run_id": run.id, "job": run.job, "workflow_run_id": run.workflow_run_id,
                "connections": self._root.jobs.get(run.job).connections}  # fmt: skip

    def _rc_connection(self, run, arg):
        name = arg.get("name")
        listed = [c.lower() for c in self._root.jobs.get(run.job).connections]
        if not isinstance(name, str) or name.lower() not in listed:
            self._root.access.deny(
                self.identity, "read", f"job {run.job} does not list connection {name} (it lists: "
                f"{', '.join(listed) or 'none'}); add it with: mortar job update {run.job} --connection {name}",
                obj=str(name))  # fmt: skip
        return dict(self.cat.connections.get(name, secrets=True).properties)

    def _rc_bookmark(self, run, arg):
        return self.cat.jobs.bookmark(run.job, _text(arg, "table"))

    def _rc_record_bookmark(self, run, arg):
        entries = arg.get("entries")
        if not isinstance(entries, list):
            raise InvalidInput("record_bookmark needs a list of entries")
        self.cat.jobs.record_bookmark(run.id, _text(arg, "table"), entries)
        return None

    def _rc_reset_bookmark(self, run, arg):
        self.cat.jobs.reset_bookmark(run.job)
        return None

    def _rc_run_properties(self, run, arg):
        return {} if run.workflow_run_id is None else self.cat.workflows.run_properties(run.workflow_run_id)

    def _rc_put_run_properties(self, run, arg):
        if run.workflow_run_id is None:
            raise InvalidInput(f"run {run.id} of job {run.job} is not part of a workflow run")
        props = arg.get("properties")
        if not isinstance(props, dict):
            raise InvalidInput("put_run_properties needs an object of properties")
        return self.cat.workflows.put_run_properties(run.workflow_run_id, props)


RUN_CALL_PREFIX = "mortar.run."
_RUN_CALLS = {name.removeprefix("_rc_"): fn for name, fn in vars(Handler).items() if name.startswith("_rc_")}


def _text(arg: dict, key: str) -> str:
    value = arg.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"argument {key} must be a non-empty string")
    return value


def _max(max_parts) -> int:
    """HMS `max_parts`: negative (or missing, from clients that send it with the wrong type) means all."""
    return -1 if max_parts is None or max_parts < 0 else max_parts


WIRE_METHODS = tuple(name.removesuffix("_wire") for name in vars(Handler) if name.endswith("_wire"))

map_errors(Handler)
