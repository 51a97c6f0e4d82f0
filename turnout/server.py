"""Building and running the proxy: a lean mitmproxy master with turnout's chain.

mitmdump's ~30 default addons cost ~1.7x in throughput, so ``turnout proxy`` runs a
master with only what it needs: core, proxyserver, next_layer, tlsconfig and
dns_resolver, then turnout's chain. ``--web`` runs mitmweb's master over the same chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import signal
import threading
from pathlib import Path
from typing import Any

from mitmproxy import certs, exceptions, master, options
from mitmproxy.addons import core, dns_resolver, errorcheck, next_layer, proxyserver, tlsconfig
from mitmproxy.options import CONF_BASENAME

from turnout.addons._mitm import Contexts, Dispatch, ahead_of, log_to_stderr
from turnout.addons.chain import build_chain
from turnout.addons.drain import drain_then_stop
from turnout.core.errors import ConfigError
from turnout.core.runtime import Runtime
from turnout.settings import ServerSettings, bracket, check_bind, check_listen, free_port

__all__ = [
    "ProxyHandle",
    "ServerSettings",
    "check_bind",
    "check_listen",
    "lean_master",
    "run_proxy",
    "start_proxy_thread",
]


def lean_master(opts: options.Options) -> master.Master:
    """A master with only the mitmproxy addons a reverse-proxying router needs."""
    m = master.Master(opts)
    log_to_stderr(m)
    m.addons.add(
        core.Core(),
        proxyserver.Proxyserver(),
        next_layer.NextLayer(),
        tlsconfig.TlsConfig(),
        dns_resolver.DnsResolver(),
        errorcheck.ErrorCheck(),
    )
    return m


def build_master(settings: ServerSettings, runtime: Runtime) -> master.Master:
    Contexts.install()  # several proxies in one process each read their own options
    opts = options.Options()
    if settings.web:
        from mitmproxy.tools.web.master import WebMaster

        m: master.Master = WebMaster(opts, with_termlog=False)
        log_to_stderr(m)
    else:
        m = lean_master(opts)
        Dispatch.install(m)  # mitmweb's master has script sub-addons: it keeps mitmproxy's way
    chain = build_chain(runtime, web=settings.web)
    m.addons.add(chain)
    if settings.web:  # what mitmweb's view shows has been through the gate and the router
        ahead_of(m, chain, "view")
    confdir = Path(settings.option_values()["confdir"])
    private_dir(confdir)  # the CA's key: this user's only
    made_once(confdir, opts.key_size)
    try:
        opts.update(**settings.option_values())  # also the first configure of turnout's addons
    except exceptions.OptionsError as e:  # the library and the CLI raise turnout's own error
        raise (e.__cause__ if isinstance(e.__cause__, ConfigError) else ConfigError(str(e))) from None
    return m


def private_dir(path: Path) -> None:
    """``path`` made if missing, and readable by this user only (0700): mitmproxy keeps its
    CA's private key there, and with ``--intercept`` that key decrypts provider traffic."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not ours to change (a shared confdir): leave it
        path.chmod(0o700)


def made_once(confdir: Path, key_size: int) -> None:
    """The CA made by one process only: workers starting together on a fresh machine would
    each write it, and one would read another's half-written key ("MalformedFraming")."""
    with (confdir / ".ca.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held while it is written; then every reader sees it whole
        if not (confdir / f"{CONF_BASENAME}-ca.pem").exists():
            certs.CertStore.create_store(confdir, CONF_BASENAME, key_size)


async def run_proxy(
    settings: ServerSettings,
    runtime: Runtime | None = None,
    *,
    started: Any = None,
    handle_signals: bool = False,
) -> None:
    """Run until shut down. ``started(master)`` is called once the listener is up;
    with ``handle_signals`` SIGINT and SIGTERM stop listening, let the requests in flight
    finish (``turnout_grace``, see ``addons/drain.py``), then shut down."""
    check_bind(settings.host, settings.local_key)
    if not settings.reuse_port:  # a worker's port is held by its supervisor, for the workers
        check_listen(settings.host, settings.port)
        if settings.intercept_port:
            check_listen(settings.host, settings.intercept_port, option="--intercept-port")
    if settings.web:
        check_listen("127.0.0.1", settings.web_port, option="--web-port")
    if settings.intercept_port == 0:  # mitmproxy takes one port 0 per address: choose it here
        settings = dataclasses.replace(settings, intercept_port=free_port(settings.host))
    runtime = runtime or Runtime()
    m = build_master(settings, runtime)
    m.addons.add(_OnStart(m, started))
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(drain_then_stop(m, runtime)))
    try:
        await m.run()
    finally:
        await _close_listeners(m)
        await _close_connections()


async def _close_listeners(m: master.Master) -> None:
    """mitmproxy leaves its listening sockets open when the master stops (they close when
    collected): close them now, so the port is free the moment ``run_proxy`` returns."""
    proxyserver = m.addons.get("proxyserver")
    for instance in list(proxyserver.servers) if proxyserver is not None else []:
        if instance.is_running:
            with contextlib.suppress(Exception):  # already failing or stopped: nothing left to free
                await instance.stop()


async def _close_connections() -> None:
    """Cancel the connection tasks left after shutdown, quietly.

    CPython 3.12.1's stream callback calls ``task.exception()`` on a cancelled task and
    reports the CancelledError as an unhandled error; nothing is wrong, so stay quiet.
    """
    loop = asyncio.get_running_loop()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not isinstance(context.get("exception"), asyncio.CancelledError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _OnStart:
    """What happens once the proxy is up; then this addon leaves the master.

    It freezes the heap: stream translation allocates a few dicts per chunk, which
    triggers collections, and a full collection walks every object mitmproxy and its
    imports made at start (~10^5), several µs per chunk on long streams; frozen objects
    are never scanned. Then it calls ``started(master)``. It does not stay: mitmproxy
    offers every event of every request to every addon (~4 µs each, see ``chain.py``).
    """

    def __init__(self, m: master.Master, started: Any) -> None:
        self.master, self.started = m, started

    def running(self) -> None:
        gc.collect()
        gc.freeze()
        ps = self.master.addons.get("proxyserver")
        addrs = ps.listen_addrs() if ps else []
        if addrs and self.master.addons.get("view") is not None:
            # mitmweb's footer shows these options as the proxy's address (else "*:8080");
            # the listener itself comes from the mode, so setting them moves nothing.
            host, port = addrs[0][:2]
            self.master.options.update(listen_host=host, listen_port=port)
        if self.started is not None:
            self.started(self.master)
        self.master.addons.remove(self)  # safe mid-event: mitmproxy iterates a snapshot of its chain


class ProxyHandle:
    """A proxy running in a background thread; ``stop()`` shuts it down and joins."""

    def __init__(self, settings: ServerSettings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self._ready = threading.Event()
        self._master: master.Master | None = None
        self._error: BaseException | None = None
        self.port = 0
        self.intercept_port = 0  # the HTTPS proxy's port, with ``intercept_port`` set
        self._thread = threading.Thread(target=self._run, name="turnout-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{bracket(self.settings.host)}:{self.port}"

    @property
    def proxy_url(self) -> str:
        """``HTTPS_PROXY`` for the interception listener."""
        return f"http://{bracket(self.settings.host)}:{self.intercept_port}"

    def _on_started(self, m: master.Master) -> None:
        ps = m.addons.get("proxyserver")
        addrs = ps.listen_addrs() if ps else []
        self.port = addrs[0][1] if addrs else 0
        self.intercept_port = (
            addrs[1][1] if self.settings.intercept_port is not None and len(addrs) > 1 else 0
        )
        self._master = m
        self._ready.set()

    def _run(self) -> None:
        try:
            asyncio.run(run_proxy(self.settings, self.runtime, started=self._on_started))
        except BaseException as e:  # reported to the starting thread
            self._error = e
        finally:
            self._ready.set()

    def start(self, timeout: float = 30.0) -> ProxyHandle:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"turnout did not start within {timeout} s")
        if isinstance(self._error, SystemExit):  # mitmproxy's startup check gave up; it logged why
            raise ConfigError(
                f"turnout could not start on {self.settings.host}:{self.settings.port} (see the log)"
            )
        if self._error is not None:
            raise self._error
        if not self.port:
            raise ConfigError(
                f"turnout could not listen on {self.settings.host}:{self.settings.port} (see the log)"
            )
        return self

    def set_options(self, **values: Any) -> None:
        """Set mitmproxy options on the running proxy, in its own thread (e.g.
        ``ssl_verify_upstream_trusted_ca``); waits until they are in effect."""
        m = self._master
        if m is None:
            raise RuntimeError("the proxy is not running")

        async def update() -> None:  # a task started from this thread: it runs as one of m's
            Contexts.enter(m)
            m.options.update(**values)

        asyncio.run_coroutine_threadsafe(update(), m.event_loop).result(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down and wait; the analytics store is drained first. Safe to call twice."""
        if self._master is not None and self._thread.is_alive():
            self._master.shutdown()
        self._master = None
        self._thread.join(timeout)

    def __enter__(self) -> ProxyHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy_thread(settings: ServerSettings, runtime: Runtime | None = None) -> ProxyHandle:
    return ProxyHandle(settings, runtime or Runtime()).start()
