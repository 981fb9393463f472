"""What the web tests share: the app over real storage (SQLite and PostgreSQL) with a real embedded Celery
broker, users of each role with API tokens, and helpers to read what landed on the broker."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from metastore.catalog import CatalogService
from metastore.config import Settings
from tests.conftest import database_url

PASSWORD = "correct horse battery"


@dataclass
class Web:
    backend: str
    service: CatalogService
    settings: Settings
    app: object
    tokens: dict  # role name -> bearer token
    tmp: Path

    def client(self):
        return self.app.test_client()

    def headers(self, who: str = "admin") -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, url: str, who: str = "admin", **kw):
        return self.client().get(url, headers=self.headers(who), **kw)

    def post(self, url: str, body=None, who: str = "admin", **kw):
        return self.client().post(url, json=body, headers=self.headers(who), **kw)

    def put(self, url: str, body=None, who: str = "admin", **kw):
        return self.client().put(url, json=body, headers=self.headers(who), **kw)

    def delete(self, url: str, who: str = "admin", **kw):
        return self.client().delete(url, headers=self.headers(who), **kw)

    def queued_tasks(self) -> list[tuple[str, list]]:
        """(task name, args) of the messages waiting on the embedded broker (kombu's SQLAlchemy transport)."""
        path = self.settings.broker_url.removeprefix("sqla+sqlite:///")
        if not Path(path).exists():
            return []
        with sqlite3.connect(path) as conn:
            try:
                payloads = [row[0] for row in conn.execute("SELECT payload FROM kombu_message")]
            except sqlite3.OperationalError:
                return []
        out = []
        for p in payloads:
            msg = json.loads(p)
            args = msg["body"]
            import base64

            body = (
                json.loads(base64.b64decode(args))
                if msg.get("properties", {}).get("body_encoding") == "base64"
                else args
            )
            out.append((msg["headers"]["task"], body[0]))
        return out


def make_web(backend: str, tmp: Path, pg_databases) -> Web:
    from metastore.web import create_app

    settings = Settings(data_dir=str(tmp / "data"), database_url=database_url(backend, tmp, pg_databases),
                        warehouse=str(tmp / "warehouse"))  # fmt: skip
    service = CatalogService.open(settings.database_url, settings.warehouse)
    tokens = {}
    for role in ("admin", "editor", "viewer"):
        service.users.create(role, PASSWORD, role)
        tokens[role] = service.users.create_token(role, "tests")[1]
    app = create_app(service, settings)
    app.config["TESTING"] = True
    return Web(backend, service, settings, app, tokens, tmp)


def web_for(backend: str, tmp: Path, pg_databases):
    """The body of each test module's `web` fixture (parametrised over BACKENDS)."""
    w = make_web(backend, tmp, pg_databases)
    yield w
    w.service.ctx.engine.dispose()


@contextmanager
def serving(web: Web) -> Iterator[str]:
    """`web`'s application on a real HTTP port (werkzeug, threaded), for browsers: yields its base URL;
    the server stops and the catalog's connections close on exit."""
    from werkzeug.serving import make_server

    web.app.config["TESTING"] = False
    server = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        web.service.ctx.engine.dispose()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF token"
    return m.group(1)


def login(client, user: str, password: str = PASSWORD):
    """Log `client` in through the login form; returns the response."""
    token = csrf_of(client.get("/auth/login").get_data(as_text=True))
    return client.post("/auth/login", data={"username": user, "password": password, "csrf_token": token})
