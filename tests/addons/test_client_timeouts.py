"""Which client connections are let go, and when (a fake clock; e2e/test_slow_clients.py has sockets)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from mitmproxy.test import tflow

from tests.addons.helpers import runtime
from turnout.addons import client_timeouts
from turnout.addons.client_timeouts import ClientTimeouts
from turnout.core.models import Config, Limits


@dataclass
class Clock:
    now: float = 1000.0
    closed: list[str] = field(default_factory=list)
    unsent: dict[str, int] = field(default_factory=dict)
    activity: dict[str, float] = field(default_factory=dict)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(client_timeouts.time, "monotonic", lambda: c.now)
    monkeypatch.setattr(client_timeouts._mitm, "close_client", lambda conn: c.closed.append(conn.id) or True)
    monkeypatch.setattr(client_timeouts._mitm, "unsent_bytes", lambda conn: c.unsent.get(conn.id, 0))
    monkeypatch.setattr(client_timeouts._mitm, "last_activity", lambda conn: c.activity.get(conn.id))
    return c


def addon(timeout: float = 60, max_clients: int = 1000) -> ClientTimeouts:
    rt = runtime()
    rt.install(Config(rt.config.backends, limits=Limits(client_timeout=timeout, max_clients=max_clients)))
    return ClientTimeouts(rt)


def sweep(a: ClientTimeouts, clock: Clock) -> None:
    a.sweep(clock.now, clock.now)


def test_an_idle_connection_is_closed_after_the_timeout_and_a_busy_one_is_not(clock: Clock) -> None:
    a = addon(timeout=60)
    idle, busy = tflow.tflow(), tflow.tflow()
    for f in (idle, busy):
        a.client_connected(f.client_conn)
    a.requestheaders(busy)
    a.request(busy)  # waiting for its backend: the backend's timeouts govern, not this
    clock.now += 59
    sweep(a, clock)
    assert clock.closed == []
    clock.now += 2
    sweep(a, clock)
    assert clock.closed == [idle.client_conn.id]
    a.response(busy)  # answered: idle from now on
    clock.now += 59
    sweep(a, clock)
    assert clock.closed == [idle.client_conn.id]
    clock.now += 2
    sweep(a, clock)
    assert clock.closed == [idle.client_conn.id, busy.client_conn.id]


def test_a_request_that_never_finishes_arriving_is_cut_off(clock: Clock) -> None:
    a = addon(timeout=10)
    f = tflow.tflow()
    a.client_connected(f.client_conn)
    clock.now += 8
    a.requestheaders(f)  # headers took 8 s: the body has the 2 s left, not 10 more
    clock.now += 3
    sweep(a, clock)
    assert clock.closed == [f.client_conn.id]


def test_a_client_that_stops_reading_its_response_is_dropped(clock: Clock) -> None:
    a = addon(timeout=30)
    f = tflow.tflow()
    a.client_connected(f.client_conn)
    a.requestheaders(f)
    a.request(f)
    clock.activity[f.client_conn.id] = clock.now
    clock.now += 31
    sweep(a, clock)
    assert clock.closed == []  # nothing waits to be sent: it is the backend that is quiet
    clock.unsent[f.client_conn.id] = 65536
    sweep(a, clock)
    assert clock.closed == [f.client_conn.id]


def test_at_the_limit_the_idlest_connection_makes_room_and_busy_ones_are_kept(clock: Clock) -> None:
    a = addon(max_clients=2)
    first, second, third, fourth = (tflow.tflow() for _ in range(4))
    a.client_connected(first.client_conn)
    clock.now += 1
    a.client_connected(second.client_conn)
    clock.now += 1
    a.client_connected(third.client_conn)
    assert clock.closed == [first.client_conn.id] and third.client_conn.error is None
    for f in (second, third):
        a.requestheaders(f)
    a.client_connected(fourth.client_conn)  # everyone is busy: the newcomer is refused
    assert fourth.client_conn.error and "max_clients" in fourth.client_conn.error
    assert len(a.clients) == 2
    a.client_disconnected(second.client_conn)
    assert len(a.clients) == 1


def test_flows_of_unknown_connections_are_ignored(clock: Clock) -> None:
    a = addon()
    f = tflow.tflow()  # connected before the addon ran (a reload): nothing to track
    for hook in (a.requestheaders, a.request, a.response, a.error):
        hook(f)
    sweep(a, clock)
    assert clock.closed == []
