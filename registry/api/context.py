"""Request context: the registry runtime and the authenticated actor."""

from __future__ import annotations

import functools

from flask import current_app, g, request

from registry.domain.roles import Actor, require_kind
from registry.runtime import Registry
from registry.services.auth import actor_for_token, unauthorised


def registry() -> Registry:
    return current_app.extensions["registry"]


def current_actor() -> Actor:
    """Return the actor of the request's bearer token, or refuse (401)."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorised()
    with registry().reading() as uow:
        g.actor = actor_for_token(uow, token.strip())
    return g.actor


def requires(*kinds: str):
    """Authenticate, and with *kinds* refuse other organisation kinds, before the body is read.

    Put it above ``@blp.arguments`` so a role that may not act gets 403 whatever
    it sent: nothing about validity leaks to it.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if kinds:
                require_kind(actor, *kinds)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
