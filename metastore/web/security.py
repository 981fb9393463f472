"""Who is asking and what they may do: API tokens (Bearer), session login, CSRF, roles and database grants.

- Every request resolves `g.user` from `Authorization: Bearer <token>` or from the session cookie. The
  cookie (signed) carries a random session id; the session is live while its row is in storage
  (`Users.user_by_session`), so logout, a change of the user's password, role or databases, deleting the
  user and `mortar user logout NAME` end it on every web server at once.
- Throttling: failed logins are counted per user name and per client address in storage (shared by all
  web servers); after `login_max_failures` within `login_lockout_s` further attempts are refused, even
  with the right password, with 429 and Retry-After until the lock-out ends. Unknown API tokens are
  counted per address the same way (known tokens are never slowed down).
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
import logging
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
log = logging.getLogger(__name__)


class WebError(Exception):
    """An error the web layer answers with `status` (JSON for the API, a page for the console)."""

    def __init__(self, status: int, kind: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.headers = headers or {}


def unauthorized(
    message: str = "log in, or send an API token as 'Authorization: Bearer <token>'",
) -> WebError:
    return WebError(401, "Unauthorized", message)


def forbidden(message: str) -> WebError:
    return WebError(403, "Forbidden", message)


def retry_after(wait_ms: int) -> str:
    """Retry-After in whole seconds, rounded up (never 0 while locked)."""
    return str(max(1, -(-int(wait_ms) // 1000)))


def too_many(message: str, wait_ms: int) -> WebError:
    return WebError(429, "TooManyRequests", message, {"Retry-After": retry_after(wait_ms)})


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
            if g.user is None:
                _count_bad_token()
            return
    sid = session.get("sid")
    if sid is not None:
        user = users.user_by_session(sid)
        if user is not None:
            g.user, g.auth = user, "session"
        else:
            session.clear()
    elif "uid" in session:  # a cookie from before server-side sessions: it names no session
        session.clear()


def _throttle() -> tuple[int, int]:
    settings = state().settings
    return int(settings.login_max_failures), int(float(settings.login_lockout_s) * 1000)


def _count_bad_token() -> None:
    """An unknown Bearer token counts as a failed attempt of its address; past the limit: 429."""
    limit, lockout_ms = _throttle()
    wait = state().service.users.begin_attempt([f"token:{request.remote_addr or '-'}"], limit, lockout_ms)
    if wait:
        log.warning("unknown API tokens from %s: refused for %.0f s", request.remote_addr, wait / 1000)
        raise too_many(
            f"too many unknown API tokens from this address: try again in {retry_after(wait)} s", wait
        )


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
    """The databases the user may see, or None for all (as access.py's identity of the user says)."""
    databases = current_identity().databases
    return None if databases is None else sorted(databases)


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
    error, status, headers = None, 200, {}
    if request.method == "POST":
        users = state().service.users
        name, address = request.form.get("username", ""), request.remote_addr
        keys = users.login_keys(name, address)
        limit, lockout_ms = _throttle()
        wait = users.begin_attempt(keys, limit, lockout_ms)
        if wait:
            log.warning("login of %r from %s refused: locked out for %.0f s", name[:64], address, wait / 1000)
            error = (f"Too many failed logins for this user or from this address: try again in "
                     f"{retry_after(wait)} s.")  # fmt: skip
            status, headers = 429, {"Retry-After": retry_after(wait)}
        else:
            user = users.authenticate(name, request.form.get("password", ""))
            if user is not None:
                users.attempt_succeeded(keys, limit)
                session.clear()
                session["sid"] = users.create_session(user.id, address)
                csrf_token()
                return redirect(_safe_next(request.form.get("next")))
            error, status = "Wrong user name or password.", 401
    page = render_template("login.html", error=error, next=request.values.get("next", ""))
    return page, status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    state().service.users.end_session(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"))
