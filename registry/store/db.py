"""Engines and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from registry.config import normalise_database_url


def _sqlite_engine(url: str, **kw) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **kw)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event decide how each transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged event survives a power cut, not just a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take SQLite's write lock at BEGIN, so the rules they check cannot
        # change under them and appends get one order; readers begin deferred.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def driver_rows(conn: Connection, sql: str, params=()) -> list:
    """All rows of *sql* through the driver's own cursor on *conn* (same connection, same
    transaction). For row-heavy reads on hot paths (proof nodes, verify-log's chunks), where
    SQLAlchemy's result machinery per row costs about as much as the database's search. *sql*
    is in the driver's own parameter style. Listeners of ``before_cursor_execute`` still see the
    statement (the tests that check every statement of a trace or a proof, or any SQL log)."""
    cur = conn.connection.driver_connection.cursor()
    try:
        if conn.dispatch.before_cursor_execute:
            conn.dispatch.before_cursor_execute(conn, cur, sql, params, None, False)
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        cur.close()


class Database:
    """One engine per registry and the session factories bound to it (an unbound extension)."""

    def __init__(self, url: str | None = None):
        self.url: str | None = None
        self.engine: Engine | None = None
        self.read_sessions: sessionmaker[Session] | None = None
        self.write_sessions: sessionmaker[Session] | None = None
        self.statement_sessions: sessionmaker[Session] | None = None
        self.statement_engine: Engine | None = None
        if url:
            self.configure(url)

    @property
    def is_sqlite(self) -> bool:
        return bool(self.url and self.url.startswith("sqlite"))

    def configure(self, url: str) -> "Database":
        """Create the engine for *url* and the read and write session factories."""
        self.url = normalise_database_url(url)
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url)
            write_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            write_bind = self.engine
        self.read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(write_bind, expire_on_commit=False)
        # Reads that need no snapshot (each statement stands alone: proofs, entries, the
        # checkpoint: what they read never changes once written). On PostgreSQL these run in
        # autocommit, sparing the BEGIN and the ROLLBACK, each a round trip, on a pool of their
        # own without the pre-ping (another round trip): a connection that has gone is found by
        # the statement itself, and the caller runs it again (``statement_retry``). Its
        # connections never go to a writer, so none is handed over in autocommit. A SQLite
        # transaction costs no round trip, so there they are ordinary reads.
        if self.is_sqlite:
            self.statement_engine = self.engine
            self.statement_sessions = self.read_sessions
        else:
            self.statement_engine = create_engine(self.url, pool_size=5, max_overflow=20, pool_pre_ping=False,
                                                  pool_recycle=600, isolation_level="AUTOCOMMIT")
            self.statement_sessions = sessionmaker(self.statement_engine, expire_on_commit=False)
        return self

    @staticmethod
    def gone(error: BaseException) -> bool:
        """Whether *error* says the connection had gone (so a statement that only reads may run again)."""
        return isinstance(error, DBAPIError) and bool(error.connection_invalidated)

    def init_app(self, app) -> None:
        """Bind to the app's DATABASE_URL."""
        self.configure(app.config["DATABASE_URL"])
        app.extensions["registry_db"] = self

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        statement = getattr(self, "statement_engine", None)
        if statement is not None and statement is not self.engine:
            statement.dispose()
