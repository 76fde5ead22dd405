"""GET /api/v1/ping: liveness for load balancers, and the no-op the HTTP benchmark compares appends with."""

from __future__ import annotations


def test_ping_answers_without_a_token_or_the_database(client, app):
    app.extensions["registry"].db.dispose()
    r = client.get("/api/v1/ping")
    assert r.status_code == 200 and r.get_json() == {"ok": True}
    assert client.post("/api/v1/ping").status_code == 405
