"""TURNOUT_API_KEY through the real ``turnout proxy`` command: every route but /health needs it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.proxy_process import cli_env, proxy_process
from tests.fakes.upstream import FakeUpstream

LOCAL_KEY = "turnout-local-key-9090"
UPSTREAM_KEY = "sk-upstream-secret-4242"

ROUTES = [
    ("GET", "/status"),
    ("GET", "/accounts"),
    ("GET", "/analytics"),
    ("GET", "/metrics"),
    ("GET", "/v1/models"),
    ("GET", "/nowhere"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/messages/count_tokens"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", "/v1/responses"),
]


def _config(path: Path, upstream: FakeUpstream) -> Path:
    path.write_text(f"""
backends:
  up: {{kind: openai, base_url: "{upstream.url}/v1", key: {UPSTREAM_KEY}}}
  anth: {{kind: anthropic, base_url: "{upstream.url}", key: {UPSTREAM_KEY}}}
autodetect: {{environment: false, local: false}}
""")
    return path


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_proxy_command_enforces_turnout_api_key(
    tmp_path: Path, upstream: FakeUpstream, host: str
) -> None:
    env = cli_env(tmp_path, TURNOUT_API_KEY=LOCAL_KEY)
    config = _config(tmp_path / "c.yaml", upstream)
    with proxy_process("--host", host, "-c", str(config), env=env) as proxy:
        assert httpx.get(proxy.url + "/health").status_code == 200
        body = {"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        before = len(upstream.requests)
        for method, path in ROUTES:
            for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
                r = httpx.request(method, proxy.url + path, json=body, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
                assert "TURNOUT_API_KEY" in r.text
        assert len(upstream.requests) == before  # nothing unauthenticated was forwarded
        for headers in ({"x-api-key": LOCAL_KEY}, {"authorization": f"Bearer {LOCAL_KEY}"}):
            r = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=headers)
            assert r.status_code == 200, r.text
            assert upstream.last().headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
        assert httpx.get(proxy.url + "/status", headers={"x-api-key": LOCAL_KEY}).status_code == 200


def test_a_model_without_a_route_is_explained_in_the_log(tmp_path: Path, upstream: FakeUpstream) -> None:
    """Claude Code shows only "There's an issue with the selected model": the proxy says why,
    once per model without --verbose, and on the request's line with it."""
    config = tmp_path / "c.yaml"
    config.write_text(
        f'backends: {{up: {{kind: openai, base_url: "{upstream.url}/v1", key: k}}}}\n'
        "autodetect: {environment: false, local: false}\n"
    )
    ask = {"model": "claude-opus-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    for verbose in ((), ("-v",)):
        with proxy_process("-c", str(config), *verbose, env=cli_env(tmp_path)) as proxy:
            assert httpx.head(proxy.url + "/api/hello").status_code == 200  # Claude Code's check
            for _ in range(3):
                assert httpx.post(proxy.url + "/v1/messages", json=ask).status_code == 404
            _, err = proxy.stop()
        hint = "No anthropic backend is configured: set ANTHROPIC_API_KEY"
        warnings = [line for line in err.splitlines() if "No backend serves model 'claude-opus-5-5'" in line]
        assert len([w for w in warnings if "→" not in w]) == 1 and hint in warnings[0], err
        if verbose:
            lines = [line for line in err.splitlines() if "POST claude-opus-5-5 → no route" in line]
            assert len(lines) == 3 and hint in lines[0] and "→ 404" in lines[0], err
        assert "/api/hello" not in err


def test_startup_errors_are_one_line_with_the_fix(tmp_path: Path) -> None:
    import socket

    from tests.cli.proxy_process import run_cli

    env = cli_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = [
            (["-p", port], f"port {port} on 127.0.0.1 is in use (another turnout?)", "--port"),
            (["-p", "0", "--web", "--web-port", port], f"port {port} on 127.0.0.1 is in use", "--web-port"),
            (["-p", "99999"], "--port 99999 is not a port number", "0 for a free one"),
        ]
        for args, problem, fix in cases:
            result = run_cli("proxy", "--no-discover", *args, env=env)
            assert result.returncode == 1, result
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and problem in lines[0] and fix in lines[0], result.stderr
            assert "mitmproxy" not in result.stderr and "127.0.0.1:9" not in result.stderr
