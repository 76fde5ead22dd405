"""Logging in to the pages: session cookie, CSRF tokens on every form, and who may open which page."""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from registry.api.context import registry
from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.domain.roles import Actor
from registry.services.auth import actor_for_user, authenticate
from registry.store.models import Organisation, User
from registry.web.i18n import lazy_gettext as _l
from registry.web.i18n import page_lang

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class WebUser:
    """Who is logged in: the actor the services see, and names to show."""

    actor: Actor
    username: str
    org_name: str

    @property
    def org_kind(self) -> str:
        return self.actor.org_kind


def web_blueprint(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    """Return a page blueprint: CSRF checked on every unsafe request, refusals as pages."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix, template_folder="templates")
    bp.before_request(_check_csrf)
    bp.register_error_handler(HTTPException, _error_page)
    bp.register_error_handler(DomainError, _domain_error_page)
    bp.register_error_handler(InvalidIdentifier, _identifier_error_page)
    return bp


# --- session ----------------------------------------------------------------------------


def current_user() -> WebUser | None:
    """Return the logged-in user of this request (checked against the database), or None."""
    if "web_user" in g:
        return g.web_user
    g.web_user = None
    user_id = session.get("user_id")
    if user_id:
        with registry().reading() as uow:
            user = uow.session.get(User, user_id)
            if user is not None and user.active:
                try:
                    actor = actor_for_user(uow, user)
                except DomainError:
                    actor = None
                if actor is not None:
                    org = uow.session.get(Organisation, actor.org_id)
                    g.web_user = WebUser(actor, user.username, org.name)
        if g.web_user is None:
            session.clear()
    return g.web_user


def current_actor() -> Actor:
    """Return the actor of the logged-in user (views behind ``login_required`` only)."""
    user = current_user()
    if user is None:
        abort(401)
    return user.actor


def login_required(kinds: Iterable[str] = ()):
    """Send anonymous visitors to /login; answer 403 to organisation kinds not in *kinds* (empty: any)."""
    allowed = tuple(kinds)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                target = request.full_path if request.query_string else request.path
                return redirect(url_for("web_auth.login", next=target))
            if allowed and user.org_kind not in allowed:
                abort(403)
            return fn(*args, **kwargs)

        #: Read by the access tests: which organisation kinds may open the page.
        wrapper.allowed_kinds = allowed
        wrapper.login_required = True
        return wrapper

    return decorate


# --- CSRF -------------------------------------------------------------------------------


def csrf_token() -> str:
    """Return the session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _check_csrf():
    if request.method not in UNSAFE:
        return None
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="csrf")
    return None


# --- error pages ------------------------------------------------------------------------

ERROR_TITLES = {
    400: _l("The form has expired or is incomplete"),
    401: _l("Please log in"),
    403: _l("Your organisation may not use this page"),
    404: _l("Not found"),
    405: _l("Not allowed"),
    413: _l("The upload is too large"),
}


def _error_page(err: HTTPException):
    status = err.code or 500
    hint = None
    if status == 400 and err.description == "csrf":
        hint = _l("Reload the page and submit the form again.")
    return render_template("error.html", status=status, title=ERROR_TITLES.get(status, err.name), hint=hint), status


def _domain_error_page(err: DomainError):
    return render_template("error.html", status=err.status, title=err.message(page_lang()),
                           problems=problems_of(err)), err.status


def _identifier_error_page(err: InvalidIdentifier):
    return render_template("error.html", status=422, title=err.message(page_lang())), 422


def problems_of(err: DomainError | InvalidIdentifier) -> list[str]:
    """Return every reason of a refusal as lines in the page's language (rules, then fields)."""
    lang = page_lang()
    if isinstance(err, InvalidIdentifier):
        return [err.message(lang)]
    lines = [p.message_zh if lang == "zh" else p.message_en for p in err.problems]
    for field, messages in err.errors.items():
        for zh, en in messages:
            line = zh if lang == "zh" else en
            if line not in lines:
                lines.append(line)
    if not lines:
        lines.append(err.message(lang))
    return lines


def field_errors(err: DomainError | InvalidIdentifier) -> dict[str, list[str]]:
    """Return the refusal's field-level messages in the page's language, by field name."""
    lang = page_lang()
    if isinstance(err, InvalidIdentifier):
        return {err.field.replace(".", "_"): [err.message(lang)]}
    # "buyer.id_number" is the form's "buyer_id_number"
    return {f.replace(".", "_"): [zh if lang == "zh" else en for zh, en in msgs] for f, msgs in err.errors.items()}


# --- views ------------------------------------------------------------------------------

bp = web_blueprint("web_auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a username and password; go on to the page asked for, or home."""
    error = None
    status = 200
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        try:
            with registry().reading() as uow:
                user = authenticate(uow, username, password)
                user_id = user.id
        except DomainError as err:
            error, status = err.message(page_lang()), 401
        else:
            # A fresh session: nothing from before the login (and no old CSRF token) survives it.
            session.clear()
            session.permanent = True
            session["user_id"] = user_id
            csrf_token()
            return redirect(_safe_next(request.args.get("next")) or url_for("pages.home"))
    elif current_user() is not None:
        return redirect(_safe_next(request.args.get("next")) or url_for("pages.home"))
    return render_template("login.html", error=error, username=request.form.get("username", "")), status


@bp.post("/logout")
def logout():
    """Log out and forget the session."""
    session.clear()
    return redirect(url_for("web_auth.login"))


def init_app(app: Flask) -> None:
    """Give templates the logged-in user and a CSRF token; sessions last a working day."""
    if app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31):  # Flask's default: a working day instead
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD

    from registry.web.navigation import tasks_for
    from registry.web.words import js_strings

    @app.context_processor
    def _user():
        if request.path.startswith("/api/"):
            return {}
        user = current_user()
        out = {"web_user": user, "js_strings": js_strings}
        if user is not None:
            out["nav_tasks"] = tasks_for(user.org_kind)
        return out
