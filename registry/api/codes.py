"""Public code checks (no token): is this code genuine, and what is it?"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.context import registry
from registry.api.errors import lang
from registry.services import codes
from schemas.items import CodeAnswer, CodeQuery

blp = Blueprint("codes", __name__, url_prefix="/api/v1", description="Public code checks: no login, no personal data")


@blp.route("/codes/<string:token>")
class CodeByToken(MethodView):
    @blp.response(200, CodeAnswer)
    def get(self, token):
        """Check a code by its token (the payload's last path segment): genuine, kind, model, maker, state, flags."""
        with registry().reading() as uow:
            return codes.check(uow, token, lang(), token_only=True)


@blp.route("/codes")
class CodeByPayload(MethodView):
    @blp.arguments(CodeQuery, location="query")
    @blp.response(200, CodeAnswer)
    def get(self, q):
        """Check a scanned payload (or a bare token, or a typed identifier)."""
        with registry().reading() as uow:
            return codes.check(uow, q["q"], lang())
