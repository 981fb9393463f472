"""Who is asking and what they may do: API tokens (Bearer), session login, CSRF, roles and database grants.

- Every request resolves `g.user` from `Authorization: Bearer <token>` or from the session cookie.
- The API answers 401 without a user, the console redirects to the login page; `/health` is open.
- CSRF: each session has a random token; every console form carries it (`csrf_token` field) and every
  POST to the console or the login form must send it back. API calls authenticated by the session cookie
  (the console's own JavaScript) send it in the `X-CSRF-Token` header when they change something; calls
  with a Bearer token carry no cookie and need none.
- Roles: viewer reads, editor changes catalog objects and starts runs, admin also manages users.
  A user restricted to some databases sees only those: lists hide the others, direct access is 403.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from metastore.catalog.access import Identity, user_identity
from metastore.catalog.users import User

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WebError(Exception):
    """An error the web layer answers with `status` (JSON for the API, a page for the console)."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def unauthorized(
    message: str = "log in, or send an API token as 'Authorization: Bearer <token>'",
) -> WebError:
    return WebError(401, "Unauthorized", message)


def forbidden(message: str) -> WebError:
    return WebError(403, "Forbidden", message)


def state():
    return current_app.extensions["mortar"]


def load_user() -> None:
    """Find the user of this request (before every request)."""
    g.user, g.auth = None, None
    users = state().service.users
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() == "bearer":
            g.user = users.user_by_token(secret.strip())
            g.auth = "token" if g.user else "bad-token"
            return
    uid = session.get("uid")
    if isinstance(uid, int):
        user = users.get_by_id(uid)
        if user is not None and session.get("pw") == _password_mark(user):
            g.user, g.auth = user, "session"
        else:
            session.clear()


def _password_mark(user: User) -> int:
    """Sessions end when the user's record changes (password, role, grants): they hold its update time."""
    return user.updated_at


MAX_ID = 2**63 - 1


def check_ids() -> None:
    """Numbers in the path (run ids, versions) beyond what storage holds name nothing: 404, not a crash."""
    from metastore.catalog.errors import NotFound

    for key, value in (request.view_args or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            raise NotFound(f"{key.removesuffix('_id').replace('_', ' ')} {value} does not exist")


def current_user() -> User:
    if g.get("user") is None:
        raise unauthorized()
    return g.user


def current_identity() -> Identity:
    return user_identity(current_user(), request.remote_addr or "")


def _require(action: str, db: str | None = None) -> User:
    """Ask the catalog's one authorization decision (access.py); a denial is audited and answered 403."""
    from metastore.catalog.errors import Forbidden

    user = current_user()
    try:
        state().service.access.check(current_identity(), action, db)
    except Forbidden as e:
        raise forbidden(str(e)) from None
    return user


def require_edit() -> User:
    return _require("write")


def require_admin() -> User:
    return _require("admin")


def require_db(db: str) -> User:
    return _require("read", db or "")


def visible_databases() -> list[str] | None:
    """The databases the user may see, or None for all."""
    user = current_user()
    return None if user.is_admin else user.databases


# --- session cookies ---------------------------------------------------------------------------------


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag when configured (SESSION_COOKIE_SECURE: `mortar
    web --secure-cookies`) or when the request came over HTTPS. Behind a reverse proxy that ends TLS, the
    request is seen as HTTPS only with the proxy's X-Forwarded-Proto trusted (`--trust-proxy`: ProxyFix)."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


# --- CSRF --------------------------------------------------------------------------------------------


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(sent: str | None) -> None:
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise forbidden("the form's CSRF token is missing or does not match this session: reload the page")


# --- login ---------------------------------------------------------------------------------------------

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.before_request
def _csrf_on_post():
    if request.method not in SAFE_METHODS:
        check_csrf(request.form.get("csrf_token"))


def _safe_next(target: str | None) -> str:
    """Only paths on this site: no open redirects."""
    if not target:
        return url_for("console.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("console.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = state().service.users.authenticate(
            request.form.get("username", ""), request.form.get("password", "")
        )
        if user is not None:
            session.clear()
            session["uid"] = user.id
            session["pw"] = _password_mark(user)
            csrf_token()
            return redirect(_safe_next(request.form.get("next")))
        error = "Wrong user name or password."
    status = 401 if error else 200
    return render_template("login.html", error=error, next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
