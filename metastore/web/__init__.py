"""Mortar's web layer: the JSON API (`/api/v1`), the console (server-rendered pages) and login.

`create_app(service, settings)` builds the Flask application; `mortar web` serves it with waitress.
Work is handed to the workers by Celery task *name* (`runner.crawl`): nothing here imports `runner`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, g, jsonify, request
from sqlalchemy import text

from metastore.catalog import CatalogService
from metastore.config import Settings

log = logging.getLogger(__name__)

# Scripts, styles, images and fetches from this site only: no inline script, style attribute or event
# handler runs (the console's JavaScript is in static/), no plug-ins, no framing, forms post here only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip


@dataclass
class WebState:
    service: CatalogService
    settings: Settings
    send_task: Callable[[str, list], None]
    extra: dict = field(default_factory=dict)


def celery_sender(settings: Settings) -> Callable[[str, list], None]:
    """Send a task by name to the workers' broker (the Celery client is made on first use)."""
    client = None

    def send(name: str, args: list) -> None:
        nonlocal client
        if client is None:
            import celery

            if settings.broker_url.startswith("sqla+sqlite:///"):
                Path(settings.broker_url.removeprefix("sqla+sqlite:///")).parent.mkdir(
                    parents=True, exist_ok=True
                )
            client = celery.Celery("mortar-web", broker=settings.broker_url)
            client.conf.broker_connection_retry_on_startup = True
        client.send_task(name, args=args)
        log.info("sent task %s%s", name, tuple(args))

    return send


def create_app(service: CatalogService, settings: Settings | None = None, *,
               send_task: Callable[[str, list], None] | None = None, secure_cookies: bool = False,
               trust_proxy: bool = False) -> Flask:  # fmt: skip
    """The web application over `service`. `send_task(name, args)` queues work for the workers; by default
    it sends Celery tasks to `settings.broker_url`. `secure_cookies`: the session cookie is Secure always
    (it is anyway on HTTPS requests); `trust_proxy`: believe one reverse proxy's X-Forwarded-Proto, -For,
    -Host (werkzeug's ProxyFix), so that HTTPS ended at the proxy counts as HTTPS."""
    # api_* and console_* add their routes to api.bp and console.bp
    from metastore.web import (  # noqa: F401
        api,
        api_flows,
        api_governance,
        api_jobs,
        api_profiles,
        console,
        console_flows,
        console_governance,
        console_jobs,
        console_profiles,
        security,
    )

    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=service.users.secret("session"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="mortar_session",
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SESSION_COOKIE_SECURE=secure_cookies,
    )
    app.session_interface = security.SessionInterface()
    sender = send_task or celery_sender(settings)
    from metastore.glue.http import mount as mount_glue

    mount_glue(app, service, settings, {"send_task": sender})  # POST with X-Amz-Target: the Glue API
    if trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.json.sort_keys = False
    app.extensions["mortar"] = WebState(service, settings, sender)
    app.before_request(security.load_user)
    app.register_blueprint(api.bp)
    from metastore.web.api_docs import bp as api_docs

    app.register_blueprint(api_docs)
    app.register_blueprint(console.bp)
    app.register_blueprint(security.bp)
    app.jinja_env.globals["csrf_token"] = security.csrf_token
    console.register_filters(app)

    @app.get("/health")
    def health():
        """Open to all: is the web server up and its storage reachable?"""
        try:
            with service.ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as e:  # noqa: BLE001 - any storage failure is "unhealthy"
            return jsonify({"status": "unhealthy", "storage": str(e).splitlines()[0]}), 503
        return jsonify({"status": "ok"})

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if (
            request.path.startswith(api.PREFIX)
            or request.endpoint in ("auth.login",)
            or g.get("user") is not None
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(security.WebError)
    def web_error(e: security.WebError):
        if request.path.startswith(api.PREFIX):
            response = api.error_response(e.status, e.kind, e.message)
        else:
            response = app.make_response(console.error_page(e.status, e.kind, e.message))
        response.headers.update(e.headers)
        return response

    return app
