"""``turnout proxy --web``: a real mitmweb over turnout's chain, checked through its HTTP API.

Every flow shows with its route decision as the comment (in the flow list's columns), and
what mitmweb shows, exports, dumps or streams to its page holds no key: the backend's
credential is masked in the flow while the upstream gets the real one, a replay from
mitmweb still reaches the backend with the real key, and the client's own credential
(``TURNOUT_API_KEY`` here) is gone before mitmweb first sees the flow.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from tornado.websocket import websocket_connect

from tests.e2e.conftest import COMPAT_KEY, OPENAI_KEY, write_config
from tests.e2e.test_mitmdump_script import free_port
from tests.fakes.upstream import FakeUpstream, Recorded

CLIENT_KEY = "turnout-local-SECRET-5678"
SECRETS = (COMPAT_KEY, OPENAI_KEY, CLIENT_KEY)
XSRF = {"X-XSRFToken": "c0ffee"}  # mitmweb's double-submit check: the same value as its cookie


@dataclass
class Web:
    url: str  # the proxy
    ui: str  # mitmweb's API
    token: str
    upstream: FakeUpstream
    client: httpx.Client  # logged in to mitmweb (auth and XSRF cookies)
    updates: list[str] = field(default_factory=list)  # what mitmweb's page was sent

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.client.post(self.ui + path, json=body, headers=XSRF)

    def flows(self) -> list[dict[str, Any]]:
        return self.client.get(self.ui + "/flows").json()  # type: ignore[no-any-return]

    def flow_to(self, path_end: str) -> dict[str, Any]:
        return next(f for f in reversed(self.flows()) if f["request"]["path"].endswith(path_end))


def _listen(ui: str, token: str, into: list[str], ready: threading.Event, stop: threading.Event) -> None:
    """mitmweb's page's own feed (a WebSocket): every flow update it pushes, kept as text."""

    async def main() -> None:
        ws = await websocket_connect(f"{ui.replace('http', 'ws')}/updates?token={token}")
        ready.set()
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.read_message(), 0.2)
            except TimeoutError:
                continue
            if message is None:
                return
            into.append(message if isinstance(message, str) else message.decode())
        ws.close()

    asyncio.run(main())


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    tmp = tmp_path_factory.mktemp("web")
    with FakeUpstream() as up:
        config = write_config(tmp / "config.yaml", up.url)
        web_port = free_port()
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "xdg"),
            "XDG_DATA_HOME": str(tmp / "data"),
            "TURNOUT_API_KEY": CLIENT_KEY,
        }
        command = [
            "proxy",
            "-p",
            "0",
            "-c",
            str(config),
            "--no-discover",
            "--web",
            "--web-port",
            f"{web_port}",
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "turnout", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        stop, ready = threading.Event(), threading.Event()
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            url = re.search(r"listening on (http://\S+?);", line).group(1)  # type: ignore[union-attr]
            ui_url = re.search(r"mitmweb UI on (\S+)", line).group(1)  # type: ignore[union-attr]
            token = ui_url.split("token=")[1]
            ui = f"http://127.0.0.1:{web_port}"
            with httpx.Client(timeout=10) as client:
                client.get(ui_url).raise_for_status()  # logs in: the auth cookie
                client.cookies.set("_mitmproxy_xsrf", XSRF["X-XSRFToken"], domain="127.0.0.1")
                rig = Web(url, ui, token, up, client)
                listener = threading.Thread(target=_listen, args=(ui, token, rig.updates, ready, stop))
                listener.start()
                assert ready.wait(10)
                try:
                    yield rig
                finally:
                    stop.set()
                    listener.join(10)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
    for secret in SECRETS:
        assert secret not in err  # nor in the proxy's own log


def _chat(web: Web, model: str = "fast") -> httpx.Response:
    return httpx.post(
        web.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=10,
    )


def _replay(web: Web, flow_id: str) -> Recorded:
    """Replay a flow from mitmweb; what the upstream then received."""
    before = len(web.upstream.requests)
    assert web.post(f"/flows/{flow_id}/replay").status_code == 200
    deadline = time.monotonic() + 10
    while len(web.upstream.requests) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return web.upstream.requests[before]


def _no_secret(text: str | bytes, where: str) -> None:
    raw = text.encode() if isinstance(text, str) else text
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{where} shows a key in full"


def test_each_flow_shows_its_route_in_the_flow_list(web: Web) -> None:
    assert _chat(web).status_code == 200
    flow = web.flow_to("/chat/completions")
    assert flow["comment"] == "fast → compat as local-model-a (alias fast, prefix compat:)"
    assert flow["request"]["host"] == "127.0.0.1" and flow["request"]["port"] == web.upstream.port
    options = web.client.get(web.ui + "/options").json()
    assert "comment" in options["web_columns"]["value"]  # the route, in the flow list
    port = int(web.url.rsplit(":", 1)[1])
    assert (options["listen_host"]["value"], options["listen_port"]["value"]) == ("127.0.0.1", port)


def test_mitmweb_shows_the_clients_request_beside_the_translated_one(web: Web) -> None:
    r = httpx.post(
        web.url + "/v1/messages",
        json={
            "model": "compat:local-model-a",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    flow = web.flow_to("/chat/completions")
    view = web.client.get(f"{web.ui}/flows/{flow['id']}/request/content/turnout.json").json()
    text = view["text"]
    assert "# The client sent POST /v1/messages, asking for model 'compat:local-model-a'" in text
    assert '"max_tokens": 20' in text  # the client's Anthropic body
    assert "# The body sent upstream:" in text and '"model": "local-model-a"' in text
    auto = web.client.get(f"{web.ui}/flows/{flow['id']}/request/content/auto.json").json()
    assert auto["view_name"].lower() == "turnout"  # the Request tab's default for it


def test_a_flow_turnout_answers_shows_turnouts_address(web: Web) -> None:
    r = httpx.get(web.url + "/v1/models", headers={"x-api-key": CLIENT_KEY}, timeout=10)
    assert r.status_code == 200
    flow = web.flow_to("/v1/models")
    assert flow["request"]["port"] == int(web.url.rsplit(":", 1)[1])


def test_mitmweb_shows_and_exports_only_the_masked_key(web: Web) -> None:
    before = len(web.upstream.requests)
    assert _chat(web).status_code == 200
    assert web.upstream.requests[before].headers["authorization"] == f"Bearer {COMPAT_KEY}"  # the real one
    flow = web.flow_to("/chat/completions")
    headers = dict(flow["request"]["headers"])
    assert headers["authorization"] == f"Bearer {COMPAT_KEY[:3]}…{COMPAT_KEY[-4:]}"
    assert headers["x-title"] != "turnout-tests"  # configured headers may be secrets too: masked
    _no_secret(json.dumps(web.flows(), ensure_ascii=False), "/flows")
    for export in ("curl", "httpie", "raw_request", "raw"):
        result = web.post("/commands/export", {"arguments": [export, f"@{flow['id']}"]}).json()
        assert "value" in result, result
        _no_secret(result["value"], f"the {export} export")
        assert COMPAT_KEY[-4:] in result["value"]  # the masked form is there
    _no_secret(web.client.get(web.ui + "/flows/dump").content, "a saved flows file")
    deadline = time.monotonic() + 5
    while not any(flow["id"] in u for u in web.updates) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(flow["id"] in u for u in web.updates)
    _no_secret("\n".join(web.updates), "mitmweb's live updates")


def test_a_replay_from_mitmweb_reaches_the_backend_with_the_real_key(web: Web) -> None:
    assert _chat(web).status_code == 200
    flow = web.flow_to("/chat/completions")
    replayed = _replay(web, flow["id"])
    assert replayed.headers["authorization"] == f"Bearer {COMPAT_KEY}"
    assert replayed.headers["x-title"] == "turnout-tests"
    assert json.loads(replayed.body)["model"] == "local-model-a"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        shown = next(f for f in web.flows() if f["id"] == flow["id"])
        if shown.get("response"):
            break
        time.sleep(0.05)
    assert shown["response"]["status_code"] == 200 and shown["is_replay"] == "request"
    _no_secret(json.dumps(web.flows(), ensure_ascii=False), "/flows after a replay")


def test_an_edited_replay_goes_out_as_edited_with_the_key(web: Web) -> None:
    assert _chat(web).status_code == 200
    flow = web.flow_to("/chat/completions")
    body = {"model": "local-model-a", "messages": [{"role": "user", "content": "edited in mitmweb"}]}
    edit = web.client.put(
        f"{web.ui}/flows/{flow['id']}",
        json={"request": {"content": json.dumps(body)}},
        headers=XSRF,
    )
    assert edit.status_code == 200, edit.text
    replayed = _replay(web, flow["id"])
    assert json.loads(replayed.body)["messages"][0]["content"] == "edited in mitmweb"
    assert replayed.headers["authorization"] == f"Bearer {COMPAT_KEY}"
