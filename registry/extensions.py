"""Extensions created unbound here and bound to an app by the factory (the database is per app)."""

from flask_smorest import Api

from registry.api.errors import ProblemApi

api: Api = ProblemApi()
