"""Findings 5 and 6 of the security issue, against a real web server (waitress in a thread) over SQLite and
PostgreSQL: failed logins are throttled per user and per address (shared by every server on the storage),
sessions end server-side (logout, password/role/grant change, deletion, `mortar user logout`), and the
console runs under a Content-Security-Policy in Chromium without a single violation."""

from __future__ import annotations

import http.client
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from metastore.catalog import CatalogService
from metastore.catalog.users import SESSION_IDLE_MS
from metastore.config import Settings
from metastore.storage.models import AuditRow, LoginFailureRow, WebSessionRow
from tests.conftest import BACKENDS, database_url
from tests.web_fixtures import PASSWORD

MAX_FAILURES = 10  # the default of login_max_failures


class Server:
    """`create_app` served by waitress in a thread on a free port of 127.0.0.1."""

    def __init__(self, service: CatalogService, settings: Settings):
        from waitress import create_server

        from metastore.web import create_app

        self.app = create_app(service, settings, send_task=lambda name, args: None)
        self.server = create_server(self.app, host="127.0.0.1", port=0, threads=8, ident="mortar")
        self.port = self.server.effective_port
        self.closing = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:  # its sockets closed under select() by close()
            if not self.closing:
                raise

    def close(self) -> None:
        self.closing = True
        self.server.close()
        self.thread.join(10)


@dataclass
class Reply:
    status: int
    headers: dict
    body: str
    cookie: str | None  # the mortar_session cookie it set, if any


@dataclass
class Browser:
    """An HTTP client with one cookie, from a chosen source address (127.0.0.x)."""

    port: int
    source: str = "127.0.0.1"
    cookie: str | None = None
    extra: dict = field(default_factory=dict)

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0))
        try:
            h = {**self.extra, **(headers or {})}
            if self.cookie:
                h["Cookie"] = f"mortar_session={self.cookie}"
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            text = r.read().decode("utf-8", "replace")
            set_cookie = None
            for name, value in r.getheaders():
                if name.lower() == "set-cookie" and value.startswith("mortar_session="):
                    set_cookie = value.split(";", 1)[0].removeprefix("mortar_session=")
            if set_cookie is not None:
                self.cookie = set_cookie or None
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, text, set_cookie)
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def form(self, path: str, data: dict) -> Reply:
        from urllib.parse import urlencode

        return self.request("POST", path, urlencode(data),
                            {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip

    def csrf(self, path: str = "/auth/login") -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).body)
        assert m, f"{path} has no CSRF token"
        return m.group(1)

    def login(self, user: str, password: str = PASSWORD) -> Reply:
        return self.form("/auth/login", {"username": user, "password": password, "csrf_token": self.csrf()})


@dataclass
class Site:
    backend: str
    url: str
    service: CatalogService
    settings: Settings
    server: Server
    tmp: Path

    def browser(self, source: str = "127.0.0.1") -> Browser:
        return Browser(self.server.port, source)

    def sessions(self, user: str) -> list:
        with self.service.ctx.engine.connect() as conn:
            uid = self.service.users.get(user).id
            return conn.execute(select(WebSessionRow).where(WebSessionRow.user_id == uid)).all()

    def failures(self) -> dict[str, tuple[int, int | None]]:
        with self.service.ctx.engine.connect() as conn:
            rows = conn.execute(select(LoginFailureRow)).all()
        return {r.key: (r.failures, r.locked_until) for r in rows}


def _open(url: str, tmp: Path) -> CatalogService:
    return CatalogService.open(url, str(tmp / "warehouse"))


@pytest.fixture(params=BACKENDS)
def site(request, tmp_path, pg_databases, monkeypatch):
    monkeypatch.setenv("MORTAR_SECRET_KEY", "d51sfpRSeMnBixnJg7Q3jZO2ohIKzcQqW3azGVXNIWc=")
    url = database_url(request.param, tmp_path, pg_databases)
    settings = Settings(
        data_dir=str(tmp_path / "data"), database_url=url, warehouse=str(tmp_path / "warehouse")
    )
    service = _open(url, tmp_path)
    for role in ("admin", "editor", "viewer"):
        service.users.create(role, PASSWORD, role)
    server = Server(service, settings)
    yield Site(request.param, url, service, settings, server, tmp_path)
    server.close()
    service.ctx.engine.dispose()


# --- finding 5: brute force ---------------------------------------------------------------------------


def test_wrong_passwords_lock_the_user_out_even_for_the_right_one(site):
    """Before: 200 wrong passwords, then the right one was accepted. Now: login_max_failures (10) wrong
    attempts are answered 401, the 11th attempt is refused with 429 and Retry-After = login_lockout_s
    (300 s), and so is the right password until the lock-out ends."""
    b = site.browser()
    statuses = [b.login("editor", f"guess {i}").status for i in range(MAX_FAILURES + 5)]
    allowed = statuses.count(401)
    assert allowed == MAX_FAILURES and statuses[MAX_FAILURES:] == [429] * 5, statuses
    r = b.login("editor", PASSWORD)
    assert r.status == 429 and "Too many failed logins" in r.body and r.cookie is None
    assert 290 <= int(r.headers["retry-after"]) <= 300
    assert b.get("/api/v1/me").status == 401
    with site.service.ctx.engine.connect() as conn:
        audited = conn.execute(
            select(AuditRow.object_name).where(AuditRow.action == "LOGIN_LOCKOUT")
        ).scalars()
        assert sorted(audited) == ["addr:127.0.0.1", "user:editor"]
    # another address is refused too: the user's own count locks it
    other = site.browser("127.0.0.2")
    assert other.login("editor", PASSWORD).status == 429
    # and other users from elsewhere are not affected
    assert site.browser("127.0.0.3").login("viewer").status == 302
    # when the lock-out is over (moved into the past in storage, not waited for) the right password works
    # and clears the user's count
    with site.service.ctx.engine.begin() as conn:
        conn.execute(update(LoginFailureRow).values(locked_until=1))
    assert b.login("editor").status == 302
    assert b.get("/api/v1/me").status == 200
    assert "user:editor" not in site.failures()


def test_one_address_trying_many_users_is_locked_out(site):
    """Password spraying: one wrong password for each of many names from one address; after 10 the
    address is refused, even for a real user with the right password."""
    b = site.browser("127.0.0.4")
    statuses = [b.login(f"someone{i}", "password1").status for i in range(MAX_FAILURES + 2)]
    assert statuses == [401] * MAX_FAILURES + [429] * 2
    assert b.login("viewer").status == 429
    assert site.browser("127.0.0.5").login("viewer").status == 302
    assert site.failures()["addr:127.0.0.4"][0] == MAX_FAILURES


def test_parallel_guesses_get_no_more_attempts(site):
    """40 wrong passwords sent 8 at a time: exactly 10 are checked (401), 30 are refused (429)."""
    b = site.browser()

    def attempt(i: int) -> int:
        return Browser(b.port, "127.0.0.6").login("admin", f"parallel guess {i}").status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(40)))
    assert statuses.count(401) == MAX_FAILURES and statuses.count(429) == 40 - MAX_FAILURES, statuses


def test_the_lockout_holds_across_web_servers_on_the_same_storage(site):
    """Two servers (each with its own engine) on one storage: failures on one lock the user on the other."""
    second_service = _open(site.url, site.tmp)
    second = Server(second_service, site.settings)
    try:
        a, b = site.browser(), Browser(second.port, "127.0.0.7")
        for i in range(MAX_FAILURES):
            assert (a if i % 2 else b).login("viewer", f"guess {i}").status == 401
        assert b.login("viewer").status == 429
        assert a.login("viewer").status == 429
    finally:
        second.close()
        second_service.ctx.engine.dispose()


def test_a_success_gives_the_address_its_attempt_back(site):
    """A user who mistypes a few times then logs in neither locks their address nor keeps a count."""
    b = site.browser("127.0.0.8")
    for _ in range(3):
        assert b.login("editor", "typo typo").status == 401
    assert b.login("editor").status == 302
    left = site.failures()
    assert "user:editor" not in left and left["addr:127.0.0.8"][0] == 3


def test_unknown_api_tokens_are_throttled_per_address(site):
    """10 unknown Bearer tokens from one address are 401, then 429 with Retry-After; a real token from the
    same address still works (it is never slowed down)."""
    real = site.service.users.create_token("viewer", "t")[1]
    b = site.browser("127.0.0.9")
    statuses = [b.get("/api/v1/me", headers={"Authorization": f"Bearer mortar_guess{i}"}).status
                for i in range(MAX_FAILURES + 3)]  # fmt: skip
    assert statuses == [401] * MAX_FAILURES + [429] * 3
    r = b.get("/api/v1/me", headers={"Authorization": "Bearer mortar_another_guess"})
    assert r.status == 429 and int(r.headers["retry-after"]) > 0
    assert "too many unknown API tokens" in r.body
    assert b.get("/api/v1/me", headers={"Authorization": f"Bearer {real}"}).status == 200
    # and the console login of that address is not affected by its bad tokens
    assert b.login("viewer").status == 302


# --- finding 6: sessions end server-side ---------------------------------------------------------------


def test_a_cookie_saved_before_logout_is_dead_after_it(site):
    """Before: a cookie saved before logout still answered /api/v1/me. Now: 401."""
    b = site.browser()
    assert b.login("viewer").status == 302
    saved = b.cookie
    assert b.get("/api/v1/me").status == 200 and len(site.sessions("viewer")) == 1
    token = b.csrf("/")
    assert b.form("/auth/logout", {"csrf_token": token}).status == 302
    replay = Browser(b.port, cookie=saved)
    assert replay.get("/api/v1/me").status == 401
    assert replay.get("/databases").status == 302  # to the login page
    assert site.sessions("viewer") == []


def test_the_cookie_carries_a_random_id_of_which_only_the_hash_is_stored(site):
    import base64
    import hashlib
    import json
    import zlib

    b = site.browser()
    b.login("viewer")
    payload = b.cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = json.loads(zlib.decompress(raw) if b.cookie.startswith(".") else raw)
    assert "uid" not in data and len(data["sid"]) >= 40
    [row] = site.sessions("viewer")
    assert row.id_hash == hashlib.sha256(data["sid"].encode()).hexdigest() and row.address == "127.0.0.1"


def test_changes_to_the_user_end_their_sessions(site):
    users = site.service.users

    def logged_in(user: str) -> Browser:
        b = site.browser()
        assert b.login(user).status == 302 and b.get("/api/v1/me").status == 200
        return b

    # an update that changes nothing keeps the session
    b = logged_in("editor")
    users.update("editor", role="editor", databases=None)
    assert b.get("/api/v1/me").status == 200
    # role, databases, password: each ends every session of the user (and only theirs)
    other = logged_in("viewer")
    for change in ({"role": "viewer"}, {"databases": ["sales"]}, {"password": "a new password"}):
        users.update("editor", **change)
        assert b.get("/api/v1/me").status == 401, change
        assert other.get("/api/v1/me").status == 200
        if "password" not in change:
            b = logged_in("editor")
    b = site.browser()
    assert b.login("editor", "a new password").status == 302
    users.delete("editor")
    assert b.get("/api/v1/me").status == 401 and other.get("/api/v1/me").status == 200
    assert site.sessions("viewer") and b.login("editor", "a new password").status == 401


def test_mortar_user_logout_ends_every_session_of_the_user(site):
    from mortar.web_cli import user

    browsers = [site.browser() for _ in range(3)]
    for b in browsers:
        assert b.login("viewer").status == 302
    keeps = site.browser()
    keeps.login("editor")
    env = {"MORTAR_DATABASE_URL": site.url, "MORTAR_DATA_DIR": str(site.tmp / "data"),
           "MORTAR_WAREHOUSE": str(site.tmp / "warehouse")}  # fmt: skip
    r = CliRunner().invoke(user, ["logout", "viewer"], env=env)
    assert r.exit_code == 0, r.output
    assert "3 sessions ended" in r.output
    assert [b.get("/api/v1/me").status for b in browsers] == [401, 401, 401]
    assert keeps.get("/api/v1/me").status == 200
    # `mortar user set` ends them too
    browsers[0].login("viewer")
    r = CliRunner().invoke(user, ["set", "viewer", "--role", "editor"], env=env)
    assert r.exit_code == 0, r.output
    assert browsers[0].get("/api/v1/me").status == 401
    assert CliRunner().invoke(user, ["logout", "nobody"], env=env).exit_code != 0


def test_sessions_unused_for_a_week_have_ended(site):
    b = site.browser()
    b.login("viewer")
    with site.service.ctx.engine.begin() as conn:
        conn.execute(update(WebSessionRow).values(last_seen_at=WebSessionRow.last_seen_at - 2 * 60_000))
    before = site.sessions("viewer")[0].last_seen_at
    assert b.get("/api/v1/me").status == 200
    seen = site.sessions("viewer")[0].last_seen_at
    assert seen > before  # touched: it was more than a minute old
    assert b.get("/api/v1/me").status == 200 and site.sessions("viewer")[0].last_seen_at == seen
    with site.service.ctx.engine.begin() as conn:
        conn.execute(update(WebSessionRow).values(last_seen_at=WebSessionRow.last_seen_at - SESSION_IDLE_MS))
    assert b.get("/api/v1/me").status == 401


# --- Content-Security-Policy ----------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(site):
    b = site.browser()
    for path in ("/auth/login", "/api/v1/me", "/health", "/static/console.js"):
        r = b.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"




@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_the_console_runs_under_its_csp_in_chromium(site):
    """Every console page in headless Chromium: no CSP violation; the schedule preview (formerly an inline
    script) and the delete confirmations (formerly onsubmit handlers) work."""
    from tests.test_web_e2e import ARGS, CHROMIUM, _need_browser

    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    svc = site.service
    token = svc.users.create_token("admin", "t")[1]
    made = site.browser().request("POST", "/api/v1/crawlers", '{"name": "c1", "targets": ["/data/in"], "database": "raw"}',
                                  {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    assert made.status == 201, made.body
    base = f"http://127.0.0.1:{site.server.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            violations: list[str] = []
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => "
                "console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
            )
            page.goto(f"{base}/auth/login")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for path in ("/", "/databases", "/crawlers", "/crawlers/new", "/jobs", "/triggers", "/triggers/new",
                         "/workflows", "/connections", "/classifiers", "/users", "/tokens", "/crawlers/c1"):  # fmt: skip
                r = page.goto(base + path)
                assert r.status == 200, path
            # the delete confirmation: dismissed, nothing happens; accepted, the crawler goes
            asked: list[str] = []

            def answer(dialog, accept: bool):
                asked.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()

            page.once("dialog", lambda d: answer(d, False))
            page.click("form[data-confirm] button.danger")
            page.wait_for_timeout(300)
            assert asked == ["Delete crawler c1? Its tables stay."] and page.url == f"{base}/crawlers/c1"
            page.once("dialog", lambda d: answer(d, True))
            page.click("form[data-confirm] button.danger")
            page.wait_for_url(f"{base}/crawlers")
            assert [c.name for c in svc.crawlers.list()] == []
            # the schedule preview asks the API as the user types
            page.goto(f"{base}/crawlers/new")
            page.fill("#schedule", "30 6 * * *")
            expect(page.locator("#schedule-preview")).to_contain_text("Next: ")
            page.fill("#schedule", "")
            expect(page.locator("#schedule-preview")).to_have_text("only when started")
            assert violations == []
            # and the policy is enforced: an injected inline script does not run
            page.evaluate(
                "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                " document.body.appendChild(s); }"
            )
            page.wait_for_timeout(200)
            assert page.evaluate("() => window.injected") is None
            assert any("script-src" in v for v in violations)
        finally:
            browser.close()
