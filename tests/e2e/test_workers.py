"""``turnout proxy --workers N`` for real: a supervisor, worker processes on one port, the
board between them, and the SQLite store they all write; and two instances sharing key
state through a real redis-server. Upstreams are fakes in this process; the ``Via``
header they receive names the worker that sent each request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.cli.proxy_process import ProxyProcess, cli_env, proxy_process, run_cli
from tests.fakes.redis_server import redis_server
from tests.fakes.upstream import FakeUpstream, KeyProgram

CONFIG = """\
backends:
  pooled:
    kind: openai-compat
    base_url: {up}/v1
    models: [pool-model]
    keys:
      - {{alias: a, key: key-a}}
      - {{alias: b, key: key-b}}
  governed:
    kind: openai-compat
    base_url: {up}/v1
    key: key-gov
    models: [gov-model-slow]
    max_concurrent: 2
pool: {{queue_timeout: 20, attempts: 3}}
analytics: {{path: {db}}}
autodetect: {{environment: false, local: false}}
{extra}"""


def write_config(tmp_path: Path, up: FakeUpstream, extra: str = "") -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(up=up.url, db=tmp_path / "analytics.sqlite3", extra=extra))
    return config


def chat(url: str, model: str = "pool-model", timeout: float = 30, **extra: object) -> httpx.Response:
    """One request on a connection of its own (so the kernel may hand it to any worker)."""
    with httpx.Client(timeout=timeout) as client:
        return client.post(url + "/v1/chat/completions", json={"model": model, "messages": [], **extra})


def get(url: str, path: str) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.get(url + path)


def workers_of(proxy: ProxyProcess) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(proxy.process.pid), "-f", "turnout.workers"], capture_output=True, text=True
    )
    return [int(p) for p in found.stdout.split()]


def hops(up: FakeUpstream, since: int = 0) -> set[str]:
    return {r.headers.get("via", "") for r in up.requests[since:] if r.method == "POST"}


def most_at_once(upstream: FakeUpstream) -> list[int]:
    """From now on, ``[n]``: the most requests the upstream has answered at once."""
    active, most, lock = [0], [0], threading.Lock()
    original = upstream._respond

    async def counted(rec, writer):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return await original(rec, writer)
        finally:
            with lock:
                active[0] -= 1

    upstream._respond = counted  # type: ignore[method-assign]
    return most


def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


@pytest.fixture
def workers(tmp_path: Path, upstream: FakeUpstream) -> Iterator[ProxyProcess]:
    config = write_config(tmp_path, upstream)
    env = cli_env(tmp_path)
    with proxy_process("--workers", "2", "-c", str(config), env=env) as proxy:
        assert "(2 workers)" in proxy.banner
        yield proxy


def test_a_429_on_one_worker_cools_the_key_on_every_worker(
    workers: ProxyProcess, upstream: FakeUpstream
) -> None:
    upstream.programs["key-a"] = KeyProgram(status=429, retry_after="60")
    upstream.programs["key-b"] = KeyProgram(remaining=900)
    answers = [chat(workers.url) for _ in range(40)]
    assert all(r.status_code == 200 for r in answers)
    sent = [r.headers["authorization"] for r in upstream.requests if r.method == "POST"]
    assert sent.count("Bearer key-a") == 1  # the first 429 cooled it for both workers
    assert len(hops(upstream)) == 2  # both workers served
    for _ in range(6):  # every worker's /accounts says so
        row = {r["alias"]: r for r in get(workers.url, "/accounts").json()["keys"]}["a"]
        assert row["status"] == "cooling" and row["cooling_for_s"] > 50


def test_the_governor_holds_across_workers_and_counts_are_exact(
    workers: ProxyProcess, upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.slow_seconds = 1.0  # 4 waves of 2: a second in which 6 wait
    most = most_at_once(upstream)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(chat, workers.url, "gov-model-slow") for _ in range(8)]

        def queued_everywhere() -> bool:  # 2 in flight, 6 waiting, whichever worker is asked
            return all(get(workers.url, "/accounts").json()["waiting"] == 6 for _ in range(4))

        eventually(queued_everywhere, within=3)
        answers = [f.result() for f in futures]
    assert [r.status_code for r in answers] == [200] * 8
    assert most[0] == 2  # max_concurrent: 2 for the backend, not 2 per worker
    assert len(hops(upstream)) == 2

    with ThreadPoolExecutor(16) as pool:  # and a burst of quick ones, counted exactly
        quick = list(pool.map(lambda _: chat(workers.url).status_code, range(200)))
    assert quick == [200] * 200

    def counted_everywhere() -> bool:
        return all(
            get(workers.url, "/analytics").json()["last_hour"]["totals"]["requests"] == 208
            and get(workers.url, "/analytics").json()["all_time"]["totals"]["requests"] == 208
            and get(workers.url, "/status").json()["requests"] == 208
            for _ in range(6)
        )

    eventually(counted_everywhere)
    status = run_cli("status", "--url", workers.url, env=cli_env(tmp_path))
    assert status.returncode == 0 and "208 requests, 2 workers" in status.stdout
    metrics = get(workers.url, "/metrics").text
    assert 'turnout_requests_total{backend="pooled"' in metrics


def test_a_killed_worker_is_replaced_and_only_its_requests_fail(
    workers: ProxyProcess, upstream: FakeUpstream
) -> None:
    """Kill a worker while both governor slots are held, until the victim held one: its
    requests are dropped (a dead process answers nothing), the other's finish, the worker
    is replaced, and the slot it held is free again."""
    upstream.slow_seconds = 1.0
    for _ in range(6):
        pids = workers_of(workers)
        assert len(pids) == 2
        before = len(upstream.requests)
        with ThreadPoolExecutor(2) as pool:
            slow = [pool.submit(chat, workers.url, "gov-model-slow") for _ in range(2)]
            eventually(lambda: len(upstream.requests) - before == 2)  # noqa: B023  # both in flight
            victim = pids[0]
            os.kill(victim, signal.SIGKILL)
            results: list[int | str] = []
            for future in slow:
                try:
                    results.append(future.result().status_code)
                except httpx.HTTPError:
                    results.append("dropped")
        assert all(r in (200, "dropped") for r in results)
        senders = [r.headers["via"] for r in upstream.requests[before:]]
        assert results.count(200) == len(senders) - results.count("dropped")
        eventually(lambda: len(workers_of(workers)) == 2 and victim not in workers_of(workers))  # noqa: B023
        eventually(lambda: get(workers.url, "/status").json()["workers"] == 2)
        if "dropped" in results:
            break
    assert "dropped" in results, "the killed worker never held a request (6 tries)"
    assert get(workers.url, "/accounts").json()["governors"]["governed"]["in_flight"] == 0
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:  # the dead worker's slot is free: two still go at once
        again = list(pool.map(lambda _: chat(workers.url, "gov-model-slow").status_code, range(2)))
    assert again == [200, 200] and time.monotonic() - started < 1.9
    assert all(chat(workers.url).status_code == 200 for _ in range(10))


def test_sigterm_drains_every_worker(workers: ProxyProcess, upstream: FakeUpstream) -> None:
    upstream.stream_parts, upstream.chunk_pause, upstream.odd_splits = 40, 0.03, False
    streams: list[bytes] = []

    def stream() -> None:
        with httpx.Client(timeout=30) as client:
            body = {"model": "pool-model", "messages": [], "stream": True}
            with client.stream("POST", workers.url + "/v1/chat/completions", json=body) as r:
                streams.append(b"".join(r.iter_bytes()))

    threads = [threading.Thread(target=stream) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    workers.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=30)
    assert workers.process.wait(timeout=30) == 0
    assert len(streams) == 4 and all(s.rstrip().endswith(b"data: [DONE]") for s in streams)
    with pytest.raises(httpx.ConnectError):
        get(workers.url, "/health")


def test_a_config_change_reaches_every_worker(
    tmp_path: Path, workers: ProxyProcess, upstream: FakeUpstream
) -> None:
    assert chat(workers.url, "new-model").status_code == 404
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("models: [pool-model]", "models: [pool-model, new-model]"))

    def routed_everywhere() -> bool:
        return all(chat(workers.url, "new-model").status_code == 200 for _ in range(8))

    eventually(routed_everywhere, within=15)


def test_workers_auto_and_wrong_counts(tmp_path: Path, upstream: FakeUpstream) -> None:
    env = cli_env(tmp_path)
    config = write_config(tmp_path, upstream)
    for bad, said in (("0", "give 1 to"), ("many", "a number of processes, or auto")):
        result = run_cli("proxy", "-p", "0", "--workers", bad, "-c", str(config), env=env)
        assert result.returncode == 1 and said in result.stderr and "Traceback" not in result.stderr
    result = run_cli("proxy", "-p", "0", "--workers", "2", "--web", "-c", str(config), env=env)
    assert result.returncode == 1 and "--web runs one process" in result.stderr
    with proxy_process("-c", str(config), env=env) as proxy:  # auto: one per core
        count = len(os.sched_getaffinity(0))
        assert (f"({count} workers)" in proxy.banner) if count > 1 else ("workers" not in proxy.banner)


def test_two_instances_share_cooldowns_and_the_governor_through_redis(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    with redis_server() as url:
        extra = f"state: {{redis: {json.dumps(url)}, prefix: e2e}}\n"
        first_dir, second_dir = tmp_path / "one", tmp_path / "two"
        first_dir.mkdir()
        second_dir.mkdir()
        one = write_config(first_dir, upstream, extra)
        two = write_config(second_dir, upstream, extra)
        with (
            proxy_process("--workers", "1", "-c", str(one), env=cli_env(first_dir)) as a,
            proxy_process("--workers", "1", "-c", str(two), env=cli_env(second_dir)) as b,
        ):
            upstream.programs["key-a"] = KeyProgram(status=429, retry_after="60")
            upstream.programs["key-b"] = KeyProgram(remaining=900)
            assert chat(a.url).status_code == 200  # key-a's 429, then key-b
            eventually(
                lambda: (
                    {r["alias"]: r for r in get(b.url, "/accounts").json()["keys"]}["a"]["status"]
                    == "cooling"
                )
            )
            before = len(upstream.requests)
            assert all(chat(b.url).status_code == 200 for _ in range(10))
            assert {r.headers["authorization"] for r in upstream.requests[before:]} == {"Bearer key-b"}

            upstream.slow_seconds = 0.4
            most = most_at_once(upstream)
            with ThreadPoolExecutor(8) as pool:
                codes = list(
                    pool.map(lambda i: chat((a, b)[i % 2].url, "gov-model-slow").status_code, range(8))
                )
            assert codes == [200] * 8 and most[0] == 2


def test_a_bad_config_is_said_once_before_any_worker_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("backends:\n  x: {kind: nope}\n")
    result = run_cli(
        "proxy", "-p", "0", "--workers", "2", "--no-discover", "-c", str(bad), env=cli_env(tmp_path)
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "backends.x.kind: must be one of" in lines[0]


def test_workers_drain_and_leave_when_the_supervisor_is_killed(
    workers: ProxyProcess, upstream: FakeUpstream
) -> None:
    pids = workers_of(workers)
    assert len(pids) == 2 and chat(workers.url).status_code == 200
    workers.process.kill()  # SIGKILL: no chance to pass anything on
    workers.process.wait(timeout=10)

    def gone() -> bool:  # exited (a zombie waiting for whoever adopted it counts as gone)
        def state(pid: int) -> str:
            try:
                return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                return "gone"

        return all(state(pid) in ("gone", "Z") for pid in pids)

    eventually(gone, within=15)
    with pytest.raises(httpx.ConnectError):
        get(workers.url, "/health")


def test_a_restarted_proxy_counts_the_last_hour_once_on_every_worker(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    config = write_config(tmp_path, upstream)
    env = cli_env(tmp_path)

    def hour(url: str) -> set[int]:
        return {get(url, "/analytics").json()["last_hour"]["totals"]["requests"] for _ in range(6)}

    with proxy_process("--workers", "2", "-c", str(config), env=env) as first:
        assert all(chat(first.url).status_code == 200 for _ in range(30))
        eventually(lambda: hour(first.url) == {30})
    with proxy_process("--workers", "2", "-c", str(config), env=env) as second:
        eventually(lambda: hour(second.url) == {30})  # seeded from the store: once, on each worker
        assert all(chat(second.url).status_code == 200 for _ in range(10))
        eventually(lambda: hour(second.url) == {40})
        # all time is a report over the store, reused for 5 s (its generated_at says when it was made)
        eventually(
            lambda: get(second.url, "/analytics").json()["all_time"]["totals"]["requests"] == 40, within=15
        )


def test_a_conversation_continues_whichever_worker_takes_each_turn(
    workers: ProxyProcess, upstream: FakeUpstream
) -> None:
    """Responses' previous_response_id on a Chat backend: turnout keeps each answer, and
    with workers writes it at once, so the next turn (another connection, maybe another
    worker) finds it."""
    import json

    import openai

    fresh = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))  # a connection per turn
    client = openai.OpenAI(base_url=workers.url + "/v1", api_key="x", max_retries=0, http_client=fresh)
    said: list[str] = []
    previous = None
    while len(said) < 6 or len(hops(upstream)) < 2:  # until both workers took turns (at most 20)
        assert len(said) < 20, "every turn went to one worker"
        said.append(f"turn {len(said)} says {len(said) * 7}")
        answer = client.responses.create(model="pool-model", input=said[-1], previous_response_id=previous)
        assert answer.status == "completed"
        previous = answer.id
        sent = json.dumps(upstream.last().json())
        assert all(earlier in sent for earlier in said)
    fresh.close()


def test_workers_starting_together_make_one_ca(tmp_path: Path) -> None:
    """On a fresh machine every worker would write the CA at once, and one would read
    another's half-written key: one makes it, under a lock, while the others wait."""
    import fcntl

    from turnout.server import made_once

    confdir = tmp_path / "certs"
    confdir.mkdir()
    script = (
        "import sys; from pathlib import Path; from turnout.server import made_once; "
        "made_once(Path(sys.argv[1]), 2048)"
    )
    with (confdir / ".ca.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a worker writing the CA would hold it
        waiting = subprocess.Popen([sys.executable, "-c", script, str(confdir)])
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(2)  # it waits for the writer (cut the lock: it writes its own CA now)
        assert not (confdir / "mitmproxy-ca.pem").exists()
    assert waiting.wait(60) == 0 and (confdir / "mitmproxy-ca.pem").exists()
    key = (confdir / "mitmproxy-ca.pem").read_bytes()
    made_once(confdir, 2048)  # there already: left as it is
    assert (confdir / "mitmproxy-ca.pem").read_bytes() == key
