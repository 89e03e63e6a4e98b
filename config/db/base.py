"""Django's PostgreSQL backend whose pool refuses at once, instead of waiting, while the server is known to be down.

Why: with Django's pool (OPTIONS["pool"]) a request that finds no idle connection waits up to DB_POOL_TIMEOUT for one.
When PostgreSQL is down none will come, so every request held a thread for the whole timeout before its 503
database_unavailable. Here each connection attempt of the pool is watched (its connection_class): once one fails as
a server that is down fails (refused or timed out: no SQLSTATE; or shutting down, starting up: class 57P), a request
that finds no idle connection gets an OperationalError at once (the same 503). A pool that is merely busy, with the
server up, still waits as before: only failed connection attempts make it refuse, and only while the last one is
recent. The pool gives up a reconnection after its reconnect_timeout (DB_POOL_RETRY_SECONDS) and, while the server
is down, reconnect_failed starts the next one, so the first connection that succeeds, about that long after
PostgreSQL is back, ends the refusals without a restart.
"""

import time

import psycopg
from django.db import DEFAULT_DB_ALIAS
from django.db.backends.postgresql import base


class DatabaseUnreachable(psycopg.OperationalError):
    """Not waiting for a pooled connection: the last attempt to connect found the server down."""


class ServerReachability:
    """One process's view of one database server: when an attempt to connect last failed as if it were down."""

    def __init__(self) -> None:
        self.down_at: float | None = None

    def connect_ended(self, error: psycopg.OperationalError | None) -> None:
        down = error is not None and (error.sqlstate is None or error.sqlstate.startswith("57P"))
        self.down_at = time.monotonic() if down else None

    def is_down(self, within: float) -> bool:
        down_at = self.down_at
        return down_at is not None and time.monotonic() - down_at < within

    def reconnect_failed(self, pool) -> None:
        """The pool stopped retrying (after reconnect_timeout): while the server is down, start again."""
        if self.down_at is not None and not pool.closed:
            pool.check()  # with no idle connection, it grows the pool: a new attempt to connect


class WatchedConnection(psycopg.Connection):
    reachability: ServerReachability

    @classmethod
    def connect(cls, *args, **kwargs):
        try:
            conn = super().connect(*args, **kwargs)
        except psycopg.OperationalError as error:
            cls.reachability.connect_ended(error)
            raise
        cls.reachability.connect_ended(None)
        return conn


_reachability: dict[str, ServerReachability] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, settings_dict, alias=DEFAULT_DB_ALIAS):
        super().__init__(settings_dict, alias)
        self.reachability = _reachability.setdefault(alias, ServerReachability())
        pool_options = settings_dict["OPTIONS"].get("pool")
        if isinstance(pool_options, dict) and "connection_class" not in pool_options:  # passed on to ConnectionPool
            pool_options["connection_class"] = type("WatchedConnection", (WatchedConnection,),
                                                    {"reachability": self.reachability})  # fmt: skip
            pool_options["reconnect_failed"] = self.reachability.reconnect_failed

    def get_new_connection(self, conn_params):
        pool = self.pool
        if pool and self.reachability.down_at is not None:
            # The pool's retries leave at most reconnect_timeout + connect_timeout between two failures: an older
            # one is stale (nothing is retrying), and the request goes to the pool as usual.
            recent = pool.reconnect_timeout + float(self.settings_dict["OPTIONS"].get("connect_timeout") or 0) + 1
            if self.reachability.is_down(within=recent) and not pool.get_stats()["pool_available"]:
                raise DatabaseUnreachable("the last attempt to connect to PostgreSQL failed; not waiting for the pool")
        return super().get_new_connection(conn_params)
