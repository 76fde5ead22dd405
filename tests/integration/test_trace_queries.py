"""A trace reads the set's chains by index: no full scan of a log or item table, and no more reads in a bigger log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from tests.conftest import ENGINE, auth
from tests.trace_city import build_city

pytestmark = pytest.mark.db

#: Tables that grow with the log: a trace may only SEARCH them (by primary key or index).
BIG = ("log_entries", "log_nodes", "chain_links", "items", "checkpoints", "persons", "reveals", "recall_remedies")


class Statements:
    def __init__(self, engine):
        self.engine = engine
        self.seen: list[tuple[str, object]] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.record)

    def record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.seen.append((statement, parameters))


def traced(client, registry, token, q):
    with Statements(registry.db.engine) as s:
        r = client.get("/api/v1/trace", query_string={"q": q}, headers=auth(token))
    assert r.status_code == 200, r.get_json()
    return s.seen


def test_a_trace_does_not_read_more_in_a_bigger_log(client, registry, make_org, make_catalogue):
    city = build_city(client, make_org, make_catalogue)
    before = traced(client, registry, city.regulator[1], city.plate)
    build_city(client, make_org, make_catalogue)  # another city: twice the log, other items
    city.bmaker.commission("battery", n=200)
    after = traced(client, registry, city.regulator[1], city.plate)
    assert len(after) == len(before)


@pytest.mark.skipif(ENGINE != "sqlite", reason="query plans are checked on SQLite")
def test_no_statement_of_a_trace_scans_a_table_that_grows_with_the_log(client, registry, make_org, make_catalogue):
    city = build_city(client, make_org, make_catalogue)
    statements = []
    for q in (city.plate, city.burnt["code"], city.removed["identifier"]):
        statements += traced(client, registry, city.investigator[1], q)
    scans = []
    with registry.db.engine.connect() as conn:
        for sql, params in statements:
            # the plan names a table by its alias where it has one (``SCAN cl``)
            tables = {alias or table: table for table, alias in re.findall(
                r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(?!ON\b|WHERE\b|JOIN\b|LEFT\b|ORDER\b|LIMIT\b)(\w+))?", sql, re.I)}
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            for row in plan:
                m = re.match(r"SCAN (\w+)", row[-1])
                if m and tables.get(m.group(1), m.group(1)) in BIG:
                    scans.append((row[-1], sql[:200]))
    assert scans == []
