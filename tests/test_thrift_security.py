"""Who may do what on the Thrift port, tried as an attacker would against running servers.

Finding 2 of the security issue: an anonymous client from another host dropped a database, and after
`set_ugi("radmin", ...)` the audit log named "radmin". Now: anonymous callers get what the `anonymous`
setting gives (default `local-write`: this machine writes, other hosts only read), set_ugi names are believed
only from `trusted_ugi_hosts`, a Mortar user's role and database grants apply to every method exactly as
on the web, a job driver's credential acts as its run, and every denial is audited with who and from where.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ttypes

from metastore.catalog import CatalogService
from tests.conftest import BACKENDS, database_url, start_metastore, stop_metastore, unique
from tests.hms_objects import table


def _outside_address() -> str | None:
    """An address of this machine that is not loopback: connecting to it looks like another host."""
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        addr = line.split()[3].split("/")[0]
        if not addr.startswith("127."):
            return addr
    return None


OUTSIDE = _outside_address()


def _start(backend, tmp, url, **env):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return start_metastore(backend, tmp, url, "--host", "0.0.0.0")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory, pg_databases):
    """A metastore on 0.0.0.0 with the default anonymous policy; 127.0.0.1's set_ugi names are trusted."""
    tmp = tmp_path_factory.mktemp(f"sec-{request.param}")
    url = database_url(request.param, tmp, pg_databases)
    ms = _start(request.param, tmp, url, MORTAR_TRUSTED_UGI_HOSTS="127.0.0.1")
    catalog = CatalogService.open(url, str(ms.warehouse))
    yield ms, catalog
    stop_metastore(ms)


def _client(ms, host="127.0.0.1"):
    c = hmsclient.HMSClient(host=host, port=ms.port)
    c.open()
    return c


def _generated_client(ms):
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.transport import TSocket, TTransport

    from metastore.hms.gen.hive import ThriftHiveMetastore

    trans = TTransport.TBufferedTransport(TSocket.TSocket("127.0.0.1", ms.port))
    trans.open()
    return ThriftHiveMetastore.Client(TBinaryProtocol(trans))


def _denials(catalog, after: int):
    return [r for r in catalog.audit.records(after_id=after) if r.action == "DENIED"]


@pytest.mark.skipif(OUTSIDE is None, reason="this machine has no address but loopback")
def test_an_anonymous_caller_from_another_host_reads_but_cannot_drop(server):
    ms, catalog = server
    db = unique("victim")
    local = _client(ms)
    local.create_database(ttypes.Database(name=db, locationUri=str(ms.warehouse / f"{db}.db")))
    local.create_table(table(db, "t"))
    mark = catalog.audit.last_event_id()
    remote = _client(ms, OUTSIDE)
    try:
        assert db in remote.get_all_databases()  # reads: allowed
        assert remote.get_table(db, "t").tableName == "t"
        remote.set_ugi("radmin", ["admins"])  # not a trusted host: proves nothing
        with pytest.raises(ttypes.MetaException, match="anonymous caller from .* may not change the catalog"):
            remote.drop_database(db, True, True)
        with pytest.raises(ttypes.MetaException, match="may not change"):
            remote.drop_table(db, "t", True)
        with pytest.raises(ttypes.MetaException, match="may not change"):
            remote.create_database(ttypes.Database(name=unique("evil")))
    finally:
        remote.close()
    assert local.get_table(db, "t").tableName == "t"  # nothing lost
    denied = _denials(catalog, mark)
    assert [(r.user, r.db_name, r.details["peer"], r.details["action"]) for r in denied[:2]] == [
        ("anonymous", db, OUTSIDE, "write"), ("anonymous", db, OUTSIDE, "write")
    ]  # fmt: skip
    assert not [r for r in catalog.audit.records(after_id=mark) if r.user == "radmin"]
    local.close()


def test_set_ugi_from_an_untrusted_host_is_not_believed(tmp_path, pg_databases):
    """Without trusted_ugi_hosts, even this machine's set_ugi name is only a claim: the audit names the
    anonymous caller, and a restricted user's name gives no more (nor fewer) rights than anonymous."""
    url = database_url("sqlite", tmp_path, pg_databases)
    ms = _start("sqlite", tmp_path, url)
    catalog = CatalogService.open(url, str(ms.warehouse))
    try:
        c = _client(ms)
        c.set_ugi("radmin", [])
        db = unique("d")
        c.create_database(ttypes.Database(name=db, locationUri=str(tmp_path / f"{db}.db")))
        assert [r.user for r in catalog.audit.records(db=db)] == ["anonymous"]
        c.close()
    finally:
        stop_metastore(ms)


def test_anonymous_none_refuses_even_reads(tmp_path, pg_databases):
    url = database_url("sqlite", tmp_path, pg_databases)
    ms = _start("sqlite", tmp_path, url, MORTAR_ANONYMOUS="none")
    catalog = CatalogService.open(url, str(ms.warehouse))
    try:
        c = _client(ms)
        with pytest.raises(ttypes.MetaException, match="may not read the catalog"):
            c.get_all_databases()
        with pytest.raises(ttypes.MetaException, match="may not read"):
            c.get_table("default", "x")
        assert c.getStatus() == 2  # fb303 status stays open (load balancers' health checks)
        c.close()
        assert _denials(catalog, 0)[0].details["peer"] == "127.0.0.1"
    finally:
        stop_metastore(ms)


def test_users_roles_and_grants_apply_on_thrift_as_on_the_web(server):
    ms, catalog = server
    hr, sales = unique("hr"), unique("sales")
    admin = _client(ms)
    for db in (hr, sales):
        admin.create_database(ttypes.Database(name=db, locationUri=str(ms.warehouse / f"{db}.db")))
        admin.create_table(table(db, "t"))
    viewer, editor = unique("viewer"), unique("editor")
    catalog.users.create(viewer, "correct horse battery", "viewer", [hr])
    catalog.users.create(editor, "correct horse battery", "editor", [hr])
    mark = catalog.audit.last_event_id()

    v = _client(ms)
    v.set_ugi(viewer, [])  # a trusted host: believed
    assert hr in v.get_all_databases() and sales not in v.get_all_databases()
    assert v.get_databases(f"{sales[:4]}*") == []
    assert v.get_table(hr, "t").tableName == "t"
    with pytest.raises(ttypes.MetaException, match=f"has no access to database {sales}"):
        v.get_table(sales, "t")
    with pytest.raises(ttypes.MetaException, match="viewer role: changing objects needs editor or admin"):
        v.drop_table(hr, "t", True)
    assert {m.dbName for m in v.get_table_meta("*", "*", None)} <= {hr}

    e = _client(ms)
    e.set_ugi(editor, [])
    e.create_table(table(hr, "made_by_editor"))
    with pytest.raises(ttypes.MetaException, match=f"no access to database {sales}"):
        e.create_table(table(sales, "nope"))
    with pytest.raises(ttypes.MetaException, match=f"no access to database {sales}"):
        e.add_partitions([ttypes.Partition(dbName=sales, tableName="t", values=["1"])])
    g = _generated_client(ms)  # hmsclient predates catalogs
    g.set_ugi(editor, [])
    from metastore.hms.gen.hive import ttypes as gt

    with pytest.raises(gt.MetaException, match="admin role"):  # catalogs: admins only
        g.create_catalog(gt.CreateCatalogRequest(catalog=gt.Catalog(name=unique("c"), locationUri="/tmp")))
    g._iprot.trans.close()

    # a change of grants is seen by open connections (within handler.IDENTITY_TTL_S)
    catalog.users.update(viewer, databases=[hr, sales])
    import time

    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            assert v.get_table(sales, "t").tableName == "t"
            break
        except ttypes.MetaException:
            time.sleep(0.5)
    else:
        pytest.fail("the new grant was not applied to the open connection")
    records = catalog.audit.records(after_id=mark)
    assert ("CREATE_TABLE", editor, hr) in [(r.action, r.user, r.db_name) for r in records]
    assert {(r.user, r.db_name) for r in _denials(catalog, mark)} >= {(viewer, sales), (viewer, hr), (editor, sales)}
    for c in (admin, v, e):
        c.close()


def test_a_job_driver_credential_acts_as_its_run_only_while_it_runs(server):
    ms, catalog = server
    db = unique("jobs")
    admin = _client(ms)
    admin.create_database(ttypes.Database(name=db, locationUri=str(ms.warehouse / f"{db}.db")))
    token = catalog.access.new_run_credential()
    d = _client(ms)
    assert d.set_ugi("spark", ["users", token]) == ["users"]  # the credential is not echoed back
    assert db in d.get_all_databases()  # before its run: reads only
    with pytest.raises(ttypes.MetaException, match="credential is not valid now"):
        d.create_table(table(db, "early"))
    catalog.access.bind_run_credential(token, 4242)
    d.create_table(table(db, "written_by_run"))
    assert [r.user for r in catalog.audit.records(db=db, obj="written_by_run")] == ["run:4242"]
    catalog.access.revoke_run_credentials(run_id=4242)
    import time

    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            d.get_all_databases()
            time.sleep(0.5)
        except ttypes.MetaException as e:
            assert "credential is not valid now" in e.message
            break
    else:
        pytest.fail("a revoked credential still reads")
    forged = _client(ms)
    forged.set_ugi("spark", ["mortar-run." + "0" * 64])
    with pytest.raises(ttypes.MetaException):
        forged.get_all_databases()
    for c in (admin, d, forged):
        c.close()


def test_a_principal_of_another_realm_is_not_the_local_user_of_that_name():
    """Through a cross-realm trust, alice@OTHER.REALM authenticates, but she is not Mortar's user alice."""
    from metastore.config import Settings
    from metastore.hms.handler import principal_user

    s = Settings(kerberos_principal="hive/_HOST@EXAMPLE.COM")
    assert principal_user("alice@EXAMPLE.COM", s) == "alice"
    assert principal_user("alice/etl.example.com@EXAMPLE.COM", s) == "alice"
    assert principal_user("alice@OTHER.REALM", s) == "alice@OTHER.REALM"  # matches no user name
