"""Which failed attempts to connect make requests stop waiting for the pool (config/db/base.py): a server that is
down, never one that is up but busy or misconfigured."""

import psycopg
import pytest
from psycopg import errors

from config.db.base import ServerReachability


@pytest.mark.parametrize(
    ("error", "down"),
    [
        (psycopg.OperationalError("connection refused"), True),  # no SQLSTATE: refused, no route, DNS
        (errors.ConnectionTimeout("connection timeout expired"), True),
        (errors.CannotConnectNow("the database system is starting up"), True),
        (errors.AdminShutdown("terminating connection due to administrator command"), True),
        (errors.TooManyConnections("sorry, too many clients already"), False),  # up and busy: wait for the pool
        (errors.InvalidPassword("password authentication failed"), False),
    ],
)
def test_only_a_server_that_is_down_makes_requests_stop_waiting(error, down):
    # given a server that answered before
    reachability = ServerReachability()

    # when an attempt to connect fails this way
    reachability.connect_ended(error)

    # then requests stop waiting for the pool only if it looks down
    assert reachability.is_down(within=60) is down


def test_a_connection_that_succeeds_ends_the_refusals_and_an_old_failure_counts_for_nothing():
    reachability = ServerReachability()
    reachability.connect_ended(psycopg.OperationalError("connection refused"))
    assert reachability.is_down(within=60)
    assert not reachability.is_down(within=0)  # nothing retried since: the request goes to the pool as usual

    reachability.connect_ended(None)

    assert not reachability.is_down(within=60)
