"""Every refusal as RFC 9457 problem+json with a stable code, in one place."""

from __future__ import annotations

import json as json_module
import logging

from flask import Response, json, request
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier

log = logging.getLogger(__name__)

GENERIC = {
    400: ("bad_request", "请求格式错误", "Bad request"),
    401: ("unauthorised", "未登录或令牌无效", "Missing or invalid credentials"),
    403: ("forbidden", "无权执行此操作", "Forbidden"),
    404: ("not_found", "未找到", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
    409: ("conflict", "与当前状态冲突", "Conflict"),
    413: ("payload_too_large", "请求体过大", "Payload too large"),
    415: ("unsupported_media_type", "请求体必须是 JSON", "Request body must be JSON"),
    422: ("invalid_input", "输入有误", "Invalid input"),
    429: ("too_many_requests", "请求过于频繁", "Too many requests"),
    500: ("internal_error", "服务器内部错误", "Internal server error"),
    503: ("unavailable", "暂时无法完成，请稍后重试", "Unavailable for now: try again later"),
}


def lang() -> str:
    """Return "en" when the client prefers English, else "zh" (the default)."""
    try:
        pref = request.cookies.get("lang")
        if pref in ("zh", "en"):
            return pref
        best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh")
    except RuntimeError:
        return "zh"
    return "en" if best == "en" else "zh"


def problem(status: int, code: str, title: str, detail: str | None = None, **extra) -> Response:
    body = {"type": f"about:blank#{code}", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
    return resp


def domain_problem(err: DomainError) -> Response:
    zh = lang() == "zh"
    title = GENERIC.get(err.status, GENERIC[409])[1 if zh else 2]
    extra = {}
    if err.problems:
        extra["problems"] = [p.as_dict("zh" if zh else "en") for p in err.problems]
    if err.errors:
        extra["errors"] = {f: [m[0] if zh else m[1] for m in msgs] for f, msgs in err.errors.items()}
    return problem(err.status, err.code, title, err.message("zh" if zh else "en"), **extra)


def identifier_problem(err: InvalidIdentifier) -> Response:
    zh = lang() == "zh"
    return problem(
        422, "invalid_input", GENERIC[422][1 if zh else 2], err.message("zh" if zh else "en"),
        errors={err.field: [err.message("zh" if zh else "en")]}, error_code=err.code,
    )


def _flatten(messages, prefix="") -> dict[str, list[str]]:
    """Turn webargs/marshmallow nested messages into ``{"field.sub": [msg, …]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict, list)) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                out.update(_flatten(value, name))
            else:
                out[name] = value if isinstance(value, list) else [str(value)]
    elif isinstance(messages, list):
        out[prefix or "_schema"] = [str(m) for m in messages]
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def http_problem(err: HTTPException) -> Response:
    status = err.code or 500
    code, zh_title, en_title = GENERIC.get(status, (f"http_{status}", err.name, err.name))
    zh = lang() == "zh"
    data = getattr(err, "data", None) or {}
    errors = None
    if "messages" in data:
        msgs = data["messages"]
        # webargs nests by location ({"json": {...}}, {"query": {...}}); callers care about fields
        if isinstance(msgs, dict) and set(msgs) <= {"json", "query", "form", "files", "headers", "view_args", "path"}:
            merged = {}
            for loc in msgs.values():
                merged.update(_flatten(loc))
            errors = merged
        else:
            errors = _flatten(msgs)
    detail = data.get("message") if isinstance(data.get("message"), str) else None
    return problem(status, data.get("code") or code, zh_title if zh else en_title, detail, errors=errors)


class JsonParser(FlaskParser):
    """webargs' parser, refusing every unreadable JSON body with a 400.

    webargs treats only ``json.JSONDecodeError`` as bad JSON, but Python's json
    also raises a plain ValueError (an integer of more than 4,300 digits), which
    would otherwise surface as a 500.
    """

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json_module.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
            return self._handle_invalid_json_error(json_module.JSONDecodeError(str(exc), "?", 0), req)


# Every flask-smorest blueprint reads its parser from this class attribute when its
# views are decorated; the factory imports this module before any view module.
Blueprint.ARGUMENTS_PARSER = JsonParser()


class ProblemApi(Api):
    """flask-smorest's Api answering every HTTP error with problem+json."""

    def handle_http_exception(self, error):
        return http_problem(error)


def register(app) -> None:
    """Install the handlers that turn every refusal into problem+json."""
    app.register_error_handler(DomainError, domain_problem)
    app.register_error_handler(InvalidIdentifier, identifier_problem)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if request.path.startswith("/api/") or err.code in (400, 404, 405, 413, 415):
            return http_problem(err)
        return err

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # A safety net, not a path: every refusal should be a DomainError. Log the
        # type and place only (a message may carry personal data).
        log.error("unexpected %s at %s %s", type(err).__name__, request.method, request.path, exc_info=err)
        zh = lang() == "zh"
        return problem(500, "internal_error", GENERIC[500][1 if zh else 2])
