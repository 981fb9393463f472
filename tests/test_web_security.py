"""Users, roles, API tokens, session login, CSRF and per-database grants, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from metastore.storage.models import WebTokenRow, WebUserRow
from tests.conftest import BACKENDS
from tests.web_fixtures import PASSWORD, csrf_of, login, web_for

API = "/api/v1"


@pytest.fixture(params=BACKENDS)
def web(request, tmp_path, pg_databases):
    """The app over SQLite and over PostgreSQL, with an admin, an editor and a viewer."""
    yield from web_for(request.param, tmp_path, pg_databases)


def test_roles(web):
    # viewer reads, cannot change
    assert web.get(f"{API}/databases", who="viewer").status_code == 200
    r = web.post(f"{API}/databases", {"name": "v"}, who="viewer")
    assert r.status_code == 403
    assert r.get_json()["error"] == {"type": "Forbidden",
                                     "message": "user viewer has the viewer role: changing objects needs editor or admin"}  # fmt: skip
    assert (
        web.post(
            f"{API}/crawlers", {"name": "c", "targets": ["/x"], "database": "d"}, who="viewer"
        ).status_code
        == 403
    )
    assert web.delete(f"{API}/databases/default", who="viewer").status_code == 403
    # editor changes objects, cannot manage users
    assert web.post(f"{API}/databases", {"name": "e"}, who="editor").status_code == 201
    assert web.get(f"{API}/users", who="editor").status_code == 403
    assert web.post(f"{API}/users", {"name": "x", "password": "12345678"}, who="editor").status_code == 403
    # admin manages users
    r = web.post(f"{API}/users", {"name": "ana", "password": "anas password", "role": "editor"})
    assert r.status_code == 201 and r.get_json()["role"] == "editor"
    assert [u["name"] for u in web.get(f"{API}/users").get_json()["items"]] == [
        "admin",
        "ana",
        "editor",
        "viewer",
    ]
    assert web.put(f"{API}/users/ana", {"role": "viewer"}).get_json()["role"] == "viewer"
    assert web.post(f"{API}/users", {"name": "short", "password": "1234"}).status_code == 400
    assert web.post(f"{API}/users", {"name": "ana", "password": "12345678"}).status_code == 409
    assert web.delete(f"{API}/users/ana").status_code == 204
    assert web.get(f"{API}/users/ana").status_code == 404
    # the last admin keeps the role; nobody deletes themselves
    r = web.put(f"{API}/users/admin", {"role": "viewer"})
    assert r.status_code == 409 and "last admin" in r.get_json()["error"]["message"]
    assert web.delete(f"{API}/users/admin").status_code == 409


def test_passwords_and_tokens_are_stored_hashed(web):
    with web.service.ctx.engine.connect() as conn:
        hashes = conn.execute(select(WebUserRow.password_hash)).scalars().all()
        token_hashes = conn.execute(select(WebTokenRow.token_hash)).scalars().all()
    assert hashes and all(PASSWORD not in h and h.startswith(("scrypt:", "pbkdf2:")) for h in hashes)
    assert all(t not in token_hashes and len(h) == 64 for t in web.tokens.values() for h in token_hashes)


def test_tokens_are_created_listed_and_revoked(web):
    r = web.post(f"{API}/tokens", {"name": "ci"}, who="viewer")
    assert r.status_code == 201
    secret, tid = r.get_json()["token"], r.get_json()["id"]
    assert secret.startswith("mortar_") and r.get_json()["prefix"] == secret[: len(r.get_json()["prefix"])]
    c = web.client()
    h = {"Authorization": f"Bearer {secret}"}
    assert c.get(f"{API}/me", headers=h).get_json()["name"] == "viewer"
    listed = web.get(f"{API}/tokens", who="viewer").get_json()["items"]
    assert [t["name"] for t in listed] == ["tests", "ci"] and all("token" not in t for t in listed)
    assert web.get(f"{API}/tokens").get_json()["total"] == 1  # the admin's own only
    assert web.delete(f"{API}/tokens/{tid}").status_code == 404  # not the admin's token
    assert web.delete(f"{API}/tokens/{tid}", who="viewer").status_code == 204
    assert c.get(f"{API}/me", headers=h).status_code == 401


def test_session_login_and_csrf(web):
    c = web.client()
    assert c.get("/databases").status_code == 302  # to the login page
    r = login(c, "editor", "wrong password")
    assert r.status_code == 401 and "Wrong user name or password" in r.get_data(as_text=True)
    # the login form needs its CSRF token
    r = c.post("/auth/login", data={"username": "editor", "password": PASSWORD})
    assert r.status_code == 403
    r = login(c, "editor")
    assert r.status_code == 302 and r.location == "/"
    page = c.get("/")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("mortar_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = c.get("/crawlers/new")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    form = {"name": "c1", "targets": "/data/in", "database": "raw"}
    assert c.post("/crawlers/new", data=form).status_code == 403  # no token
    assert c.post("/crawlers/new", data={**form, "csrf_token": "forged"}).status_code == 403
    assert web.service.crawlers.list() == []
    r = c.post("/crawlers/new", data={**form, "csrf_token": token})
    assert r.status_code == 302 and [x.name for x in web.service.crawlers.list()] == ["c1"]
    # the API with the session cookie: reads freely, changes only with the X-CSRF-Token header
    assert c.get(f"{API}/crawlers").status_code == 200
    assert c.post(f"{API}/databases", json={"name": "s1"}).status_code == 403
    assert c.post(f"{API}/databases", json={"name": "s1"}, headers={"X-CSRF-Token": token}).status_code == 201
    # logging out ends the session
    c.post("/auth/logout", data={"csrf_token": token})
    assert c.get(f"{API}/crawlers").status_code == 401


def test_login_redirects_only_within_the_site(web):
    c = web.client()
    token = csrf_of(c.get("/auth/login").get_data(as_text=True))
    form = {"username": "viewer", "password": PASSWORD, "csrf_token": token}
    assert c.post("/auth/login", data={**form, "next": "https://evil.example/"}).location == "/"
    c = web.client()
    token = csrf_of(c.get("/auth/login?next=/crawlers").get_data(as_text=True))
    r = c.post("/auth/login", data={**form, "csrf_token": token, "next": "/crawlers"})
    assert r.location == "/crawlers"


def test_changing_a_password_ends_sessions(web):
    c = web.client()
    login(c, "viewer")
    assert c.get("/databases").status_code == 200
    web.service.users.update("viewer", password="a new password")
    assert c.get("/databases").status_code == 302
    assert login(c, "viewer", "a new password").status_code == 302


def test_roles_in_the_console(web):
    c = web.client()
    login(c, "viewer")
    page = c.get("/crawlers").get_data(as_text=True)
    assert "Define a crawler" not in page
    assert c.get("/crawlers/new").status_code == 403
    assert c.get("/users").status_code == 403
    login(c, "admin")
    assert c.get("/users").status_code == 200


def test_database_grants(web):
    svc = web.service
    for name in ("sales", "hr", "finance"):
        web.post(f"{API}/databases", {"name": name})
    web.post(
        f"{API}/databases/hr/tables", {"name": "salaries", "columns": [{"name": "amount", "type": "int"}]}
    )
    web.post(f"{API}/crawlers", {"name": "sales_in", "targets": ["/data/in/sales"], "database": "sales"})
    web.post(f"{API}/crawlers", {"name": "hr_in", "targets": ["/data/in/hr"], "database": "hr"})
    svc.users.create("sam", PASSWORD, "editor", databases=["sales", "finance"])
    token = svc.users.create_token("sam", "t")[1]
    web.tokens["sam"] = token

    names = [d["name"] for d in web.get(f"{API}/databases", who="sam").get_json()["items"]]
    assert names == ["finance", "sales"]
    assert web.get(f"{API}/databases?q=a", who="sam").get_json()["total"] == 2
    r = web.get(f"{API}/databases/hr/tables/salaries", who="sam")
    assert (
        r.status_code == 403 and r.get_json()["error"]["message"] == "user sam has no access to database hr"
    )
    assert web.get(f"{API}/databases/hr/tables", who="sam").status_code == 403
    assert web.get(f"{API}/tables?q=salar", who="sam").get_json()["total"] == 0
    assert web.get(f"{API}/tables?q=salar").get_json()["total"] == 1
    assert web.post(f"{API}/databases/hr/tables", {"name": "t"}, who="sam").status_code == 403
    assert web.delete(f"{API}/databases/hr?cascade=true", who="sam").status_code == 403
    assert web.post(f"{API}/databases", {"name": "marketing"}, who="sam").status_code == 403
    assert (
        web.post(f"{API}/databases/sales/tables", {"name": "t", "columns": []}, who="sam").status_code == 201
    )
    # crawlers follow their database
    assert [c["name"] for c in web.get(f"{API}/crawlers", who="sam").get_json()["items"]] == ["sales_in"]
    assert web.get(f"{API}/crawlers/hr_in", who="sam").status_code == 403
    assert web.post(f"{API}/crawlers/hr_in/run", who="sam").status_code == 403
    assert (
        web.post(f"{API}/crawlers", {"name": "x", "targets": ["/x"], "database": "hr"}, who="sam").status_code
        == 403
    )
    # and the console hides and forbids the same
    c = web.client()
    login(c, "sam")
    page = c.get("/databases").get_data(as_text=True)
    assert "sales" in page and "finance" in page and ">hr<" not in page
    assert c.get("/databases/hr").status_code == 403
    assert c.get("/databases/hr/tables/salaries").status_code == 403
    assert "hr_in" not in c.get("/crawlers").get_data(as_text=True)
    assert "salaries" not in c.get("/search?q=sal").get_data(as_text=True)
    assert c.get("/crawlers/hr_in").status_code == 403
    front = c.get("/").get_data(as_text=True)
    assert "<b>2</b></a>databases" in front and "<b>1</b>tables" in front and "<b>1</b></a>crawlers" in front
    # lifting the restriction
    svc.users.update("sam", databases=None)
    assert web.get(f"{API}/databases/hr/tables/salaries", who="sam").status_code == 200


def _session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("mortar_session="))


def test_session_cookie_is_secure_on_https_or_when_asked(web):
    from metastore.web import create_app

    # plain HTTP: not Secure (a browser would not send it back over http otherwise)
    assert "Secure" not in _session_cookie(login(web.client(), "viewer"))
    # HTTPS: Secure
    c = web.app.test_client()
    token = csrf_of(c.get("/auth/login", base_url="https://mortar.example").get_data(as_text=True))
    r = c.post("/auth/login", base_url="https://mortar.example",
               data={"username": "viewer", "password": PASSWORD, "csrf_token": token})  # fmt: skip
    assert "Secure" in _session_cookie(r)
    # behind a proxy that ended TLS: only with the proxy trusted
    forwarded = {"X-Forwarded-Proto": "https"}
    for trust, secure in ((False, False), (True, True)):
        app = create_app(web.service, web.settings, trust_proxy=trust)
        c = app.test_client()
        token = csrf_of(c.get("/auth/login", headers=forwarded).get_data(as_text=True))
        r = c.post("/auth/login", headers=forwarded,
                   data={"username": "viewer", "password": PASSWORD, "csrf_token": token})  # fmt: skip
        assert ("Secure" in _session_cookie(r)) is secure
    # --secure-cookies: always
    c = create_app(web.service, web.settings, secure_cookies=True).test_client()
    assert "Secure" in _session_cookie(login(c, "viewer"))


def test_jobs_triggers_workflows_connections_are_read_by_all_and_changed_by_editors(web):
    svc = web.service
    svc.users.create("sam", PASSWORD, "viewer", databases=["sales"])
    web.tokens["sam"] = svc.users.create_token("sam", "t")[1]
    made = {
        "/jobs": {"name": "j1", "script": "print(1)\n", "type": "pythonshell"},
        "/workflows": {"name": "w1"},
        "/connections": {"name": "c1", "type": "NETWORK", "properties": {"HOST": "db"}},
        "/triggers": {"name": "t1", "type": "ON_DEMAND", "actions": [{"job": "j1"}]},
    }
    for path, body in made.items():
        assert web.post(f"{API}{path}", body, who="viewer").status_code == 403
        assert web.post(f"{API}{path}", body, who="editor").status_code == 201
        for who in (
            "viewer",
            "sam",
        ):  # not database objects: a user restricted to some databases reads them too
            assert web.get(f"{API}{path}/{body['name']}", who=who).status_code == 200
            assert web.get(f"{API}{path}", who=who).get_json()["total"] == 1
    assert web.post(f"{API}/jobs/j1/runs", who="viewer").status_code == 403
    assert web.post(f"{API}/triggers/t1/start", who="sam").status_code == 403
    assert web.post(f"{API}/workflows/w1/runs", who="viewer").status_code == 403
    assert web.put(f"{API}/connections/c1", {"type": "NETWORK"}, who="viewer").status_code == 403
    assert web.delete(f"{API}/workflows/w1", who="viewer").status_code == 403
    # the console: pages for all, forms and buttons for editors
    c = web.client()
    login(c, "viewer")
    for page in ("/jobs", "/jobs/j1", "/triggers/t1", "/workflows/w1", "/connections/c1"):
        assert c.get(page).status_code == 200
    assert "Define a job" not in c.get("/jobs").get_data(as_text=True)
    assert 'id="run"' not in c.get("/jobs/j1").get_data(as_text=True)
    for page in ("/jobs/new", "/jobs/j1/edit", "/triggers/new", "/workflows/new", "/connections/c1/edit"):
        assert c.get(page).status_code == 403
    token = csrf_of(c.get("/jobs").get_data(as_text=True))
    assert c.post("/jobs/j1/run", data={"csrf_token": token}).status_code == 403
    assert svc.jobs.runs("j1") == []
