"""Models a backend lists are routable by their bare names, shown in ``/v1/models`` with the
backend they go to, and found within seconds when a server starts or pulls one later.

A real proxy with discovery on (its loopback probes find nothing on the test machine's
usual ports, or only what the machine runs; the config turns local autodetection off),
a backend added without ``models:``, and the official SDKs listing models.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lists(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ProxyHandle, FakeUpstream, int]]:
    every = getattr(request, "param", None)  # seconds between re-reads; None: the defaults
    later = _free_port()  # a server that starts after the proxy
    with FakeUpstream(models=("local-model-a", "local-model-b")) as up, FakeUpstream(list_status=401) as no:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
backends:
  lan:
    kind: openai-compat
    base_url: {up.url}/v1
  later:
    kind: openai-compat
    base_url: http://127.0.0.1:{later}/v1
  refused:
    kind: openai
    base_url: {no.url}/v1
    key: sk-refused-list-key-0000
autodetect: {{environment: false, local: false}}
analytics: {{path: {tmp_path / "analytics.sqlite3"}}}
""")
        settings = ServerSettings(
            port=0,
            config=str(config),
            confdir=str(tmp_path / "certs"),
            api_key="",
            extra={"turnout_probe_interval": every, "turnout_list_interval": every} if every else {},
        )
        proxy = start_proxy_thread(settings)
        try:
            yield proxy, up, later
        finally:
            proxy.stop()


def _chat(proxy: ProxyHandle, model: str) -> httpx.Response:
    return httpx.post(
        proxy.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        timeout=20,
    )


def _listed(proxy: ProxyHandle, model: str) -> bool:
    ids = [m["id"] for m in httpx.get(proxy.url + "/v1/models").json()["data"]]
    return model in ids


def _until(check: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_a_listed_model_routes_by_its_bare_name_and_shows_where_it_goes(
    lists: tuple[ProxyHandle, FakeUpstream, int],
) -> None:
    proxy, _, _ = lists
    _until(lambda: _listed(proxy, "local-model-b"))  # read in the background at start
    r = _chat(proxy, "local-model-b")
    assert r.status_code == 200 and r.headers["x-turnout-backend"] == "lan"
    oai = openai.OpenAI(base_url=proxy.url + "/v1", api_key="x").models.list()
    assert {(m.id, m.owned_by) for m in oai} >= {("local-model-a", "lan"), ("local-model-b", "lan")}
    ant = anthropic.Anthropic(base_url=proxy.url, api_key="x").models.list()
    assert "local-model-b (lan)" in [m.display_name for m in ant]


def test_a_model_pulled_later_and_a_server_started_later_route_within_seconds(
    lists: tuple[ProxyHandle, FakeUpstream, int],
) -> None:
    proxy, up, later = lists
    _until(lambda: _listed(proxy, "local-model-a"))
    up.models = (*up.models, "pulled-later")
    started = time.monotonic()
    r = _chat(proxy, "pulled-later")  # a miss: the lists are read again, then it routes
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 4.5
    with FakeUpstream(models=("started-later",), port=later):
        time.sleep(3.1)  # past the rate limit of the look above
        r = _chat(proxy, "started-later")
        assert r.status_code == 200 and r.headers["x-turnout-backend"] == "later"


def test_misses_are_rate_limited(lists: tuple[ProxyHandle, FakeUpstream, int]) -> None:
    proxy, up, _ = lists
    _until(lambda: _listed(proxy, "local-model-a"))
    time.sleep(3.1)
    reads = lambda: sum(1 for q in up.requests if q.path.endswith("/models"))  # noqa: E731
    before = reads()
    first = _chat(proxy, "nobody-has-this")
    assert first.status_code == 404 and "local-model-a" in first.json()["error"]["message"]
    after_one = reads()
    assert after_one > before  # the miss read the lists again
    for _ in range(3):
        assert _chat(proxy, "nobody-has-this-either").status_code == 404
    assert reads() == after_one  # ...but not on every miss


@pytest.mark.parametrize("lists", [1.0], indirect=True)
def test_a_refused_list_is_said_once(
    caplog: pytest.LogCaptureFixture, lists: tuple[ProxyHandle, FakeUpstream, int]
) -> None:
    proxy, _, _ = lists
    time.sleep(3.5)  # every list is read each second meanwhile
    assert _chat(proxy, "local-model-a").status_code == 200
    records = caplog.get_records("setup") + caplog.records
    for backend, why in (("refused", "HTTP 401"), ("later", "did not answer")):
        said = [r.getMessage() for r in records if r.getMessage().startswith(f"{backend}:")]
        assert len(said) == 1 and why in said[0], said  # read every second, said once
    assert not any("sk-refused-list-key" in r.getMessage() for r in records)
