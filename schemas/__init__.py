"""marshmallow schemas: the HTTP contract of API.md, one module per area."""

from marshmallow import RAISE, Schema


class StrictSchema(Schema):
    """Refuse unknown fields, so a typo is an error and not a silent default."""

    class Meta:
        unknown = RAISE
