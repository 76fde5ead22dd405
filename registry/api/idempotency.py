"""Idempotency-Key on writes: a retry with the same key and body gets the first answer, writes nothing."""

from __future__ import annotations

import functools
import hashlib

from flask import Response, g, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from registry.api.context import current_actor, registry
from registry.api.errors import domain_problem, http_problem, problem
from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.store.log import utc_now
from registry.store.models import IdempotentRequest
from registry.store.uow import UnitOfWork

HEADER = "Idempotency-Key"


def _request_hash() -> str:
    h = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        h.update(part.encode() + b"\n")
    h.update(request.get_data(cache=True))
    return h.hexdigest()


def writing() -> UnitOfWork:
    """Return a writing unit of work that, under an Idempotency-Key, reserves the key in the same transaction."""
    uow = registry().writing()
    pending = g.get("idempotency")
    if pending is not None:
        user_id, key, req_hash = pending

        def reserve(session):
            session.add(IdempotentRequest(user_id=user_id, key=key, request_hash=req_hash, status=0,
                                          response=b"", created_at=utc_now()))
            g.idempotency_reserved = True

        uow.before_commit.append(reserve)
    return uow


def grouped(work):
    """Run ``work(uow)`` in this process's group commit (registry.store.group), reserving an
    Idempotency-Key in the same savepoint; return its value once the group has committed."""
    pending = g.get("idempotency")

    def job(uow: UnitOfWork):
        value = work(uow)
        if pending is not None:
            user_id, key, req_hash = pending
            uow.session.add(IdempotentRequest(user_id=user_id, key=key, request_hash=req_hash, status=0,
                                              response=b"", created_at=utc_now()))
        return value

    value = registry().group.run(job)
    if pending is not None:
        g.idempotency_reserved = True
    return value


def _replay(row: IdempotentRequest) -> Response:
    if row.status == 0:
        return problem(409, "idempotent_request_in_doubt", "请求已提交但应答未保存",
                       "the first request committed but its answer was not kept; look the event up before retrying")
    resp = Response(bytes(row.response), status=row.status,
                    mimetype="application/problem+json" if row.status >= 400 else "application/json")
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def idempotent(view):
    """Replay the first answer to a write retried with the same Idempotency-Key and body."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200 or not key.isprintable():
            return problem(400, "idempotency_key_invalid", "Idempotency-Key 无效", "Idempotency-Key must be 1-200 printable characters")
        actor = current_actor()
        req_hash = _request_hash()
        with registry().reading() as uow:
            row = uow.session.get(IdempotentRequest, (actor.user_id, key))
        if row is not None:
            if row.request_hash != req_hash:
                return problem(422, "idempotency_key_reused", "同一 Idempotency-Key 用于不同请求",
                               "this Idempotency-Key was used for a different request")
            return _replay(row)
        g.idempotency = (actor.user_id, key, req_hash)
        try:
            resp = view(*args, **kwargs)
            if not isinstance(resp, Response):
                from flask import make_response

                resp = make_response(resp)
        except DomainError as err:
            resp = domain_problem(err)
        except InvalidIdentifier as err:
            from registry.api.errors import identifier_problem

            resp = identifier_problem(err)
        except HTTPException as err:
            resp = http_problem(err)
        except IntegrityError:
            # A concurrent request with the same key committed first: replay its answer.
            with registry().reading() as uow:
                row = uow.session.get(IdempotentRequest, (actor.user_id, key))
            if row is None:
                raise
            return _replay(row)
        if resp.status_code < 500:
            _remember(actor.user_id, key, req_hash, resp)
        return resp

    return wrapper


def _remember(user_id: str, key: str, req_hash: str, resp: Response) -> None:
    with registry().writing() as uow:
        row = uow.session.get(IdempotentRequest, (user_id, key))
        if row is None:
            uow.session.add(IdempotentRequest(user_id=user_id, key=key, request_hash=req_hash, status=resp.status_code,
                                              response=resp.get_data(), created_at=utc_now()))
        else:
            row.status = resp.status_code
            row.response = resp.get_data()
        uow.session.commit()
