"""Languages of the pages: zh_CN by default, English by ``?lang=en`` (kept in a ``lang`` cookie).

Message ids are English; the Chinese lives in ``registry/translations/zh_CN/LC_MESSAGES/messages.po``,
compiled to ``.mo`` when the app starts (whenever the ``.mo`` is missing or older), so
that no build step stands between a checkout and a running registry.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request
from flask_babel import Babel, gettext, lazy_gettext

#: Catalogues (``.po``) as committed.
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LANGS = ("zh", "en")
LOCALES = {"zh": "zh_CN", "en": "en"}
COOKIE = "lang"
#: Each language named in itself, for the switch.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
#: Times are shown as China Standard Time (no daylight saving).
CST = timezone(timedelta(hours=8))

babel = Babel()


def _wanted(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower().replace("-", "_")
    if value.startswith("en"):
        return "en"
    if value.startswith("zh"):
        return "zh"
    return None


def page_lang() -> str:
    """Return the page language: ``?lang=`` first, then the ``lang`` cookie, else Chinese."""
    try:
        return _wanted(request.args.get("lang")) or _wanted(request.cookies.get(COOKIE)) or "zh"
    except RuntimeError:
        return "zh"


def _locale() -> str:
    return LOCALES[page_lang()]


def compile_catalogues(source: Path = TRANSLATIONS, fallback: Path | None = None) -> Path:
    """Compile every ``.po`` under *source* whose ``.mo`` is missing or stale; return the folder to load.

    The ``.mo`` goes into the folder named as Babel names the locale (``zh_CN`` is
    ``zh_Hans_CN`` to Babel, and that is where Flask-Babel looks), beside the ``.po``'s
    folder; where the package is read-only, under *fallback* (the instance folder).
    Written to a temporary file and renamed, so workers starting together never read
    half a catalogue.
    """
    target = source
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        name = str(Locale.parse(po.parent.parent.name))
        relative = Path(name) / "LC_MESSAGES" / po.with_suffix(".mo").name
        mo = source / relative
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        if not os.access(source, os.W_OK) and fallback is not None:
            target = fallback
            mo = fallback / relative
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalogue = read_po(f, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalogue)
            os.chmod(tmp, 0o644)
            os.replace(tmp, mo)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return target


def local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an RFC 3339 string or a datetime as China Standard Time."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(CST).strftime(fmt)


def when(value) -> str:
    """Format a moment as ``HH:MM`` when it is today (China Standard Time), else ``YYYY-MM-DD HH:MM``."""
    if not value:
        return ""
    day = local_time(value, "%Y-%m-%d")
    return local_time(value, "%H:%M") if day == datetime.now(CST).strftime("%Y-%m-%d") else local_time(value)


def lang_url(code: str) -> str:
    """Return this page's URL with ``?lang=`` set to *code* (other query arguments kept)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return request.path + "?" + urlencode([*args, ("lang", code)])


def init_app(app: Flask) -> None:
    """Compile the catalogues, install Flask-Babel and keep a ``?lang=`` choice in a cookie."""
    folder = compile_catalogues(TRANSLATIONS, Path(app.instance_path) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(folder)
    babel.init_app(app, default_locale="zh_CN", locale_selector=_locale, default_timezone="Asia/Shanghai")
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["when"] = when
    app.jinja_env.globals.update(page_lang=page_lang, lang_url=lang_url, LANGUAGE_NAMES=LANGUAGE_NAMES)

    @app.after_request
    def _remember_language(response):
        chosen = _wanted(request.args.get("lang"))
        if chosen and not request.path.startswith("/api/") and request.cookies.get(COOKIE) != chosen:
            response.set_cookie(
                COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True,
                secure=app.config.get("SESSION_COOKIE_SECURE", False),
            )
        return response


__all__ = ["babel", "compile_catalogues", "gettext", "lazy_gettext", "local_time", "page_lang"]
