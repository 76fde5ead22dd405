"""Extensions created unbound here and bound to an app by the factory."""

from flask_smorest import Api

from registry.api.errors import ProblemApi
from registry.store.db import Database

db = Database()
api: Api = ProblemApi()
