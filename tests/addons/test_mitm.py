"""``_mitm.Relaying``: upstream chunks that arrived together relayed as one piece, TLS records
drained without the failing read after each, messages built without the debug type check;
``_mitm.Dispatch``: hooks called as mitmproxy calls them, without walking the chain;
``_mitm.Contexts``: each master reads its own ``ctx``; ``_mitm._Swaps``: masters that stop in
any order leave each other's replacements in place."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
from typing import Any

import h11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from h11._receivebuffer import ReceiveBuffer
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.proxy import commands
from mitmproxy.proxy.layers import tls
from mitmproxy.proxy.layers.http import _http1
from OpenSSL import SSL

from turnout.addons._mitm import Contexts, Dispatch, Relaying


def chunked(chunks: list[bytes], trailers: bool) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return body + (b"0\r\nx-checksum: abc\r\n\r\n" if trailers else b"0\r\n\r\n")


def installed_reader() -> Any:
    """The chunked reader mitmproxy's HTTP/1 layer makes while ``Relaying`` is installed."""
    relaying = Relaying()
    relaying.install()
    try:
        return _http1.ChunkedReader()
    finally:
        relaying.uninstall()


def read(pieces: list[bytes]) -> tuple[list[bytes], int]:
    """What mitmproxy's HTTP/1 layer gets from the installed reader, ``pieces`` arriving one
    read at a time (its ``read_body`` calls the reader until it returns None or the end)."""
    reader = installed_reader()
    buf, data, ends = ReceiveBuffer(), [], 0
    for piece in pieces:
        buf += piece
        while ends == 0:
            event = reader(buf)
            if event is None:
                break
            if isinstance(event, h11.Data):
                data.append(bytes(event.data))
            else:
                assert isinstance(event, h11.EndOfMessage) and not event.headers
                ends += 1
    return data, ends


@settings(max_examples=300)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=40), max_size=12),
    trailers=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
)
def test_any_split_of_a_chunked_body_gives_it_back_whole_and_ends_once(
    chunks: list[bytes], trailers: bool, cuts: list[int]
) -> None:
    wire = chunked(chunks, trailers)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    data, ends = read([wire[a:b] for a, b in itertools.pairwise(points)])
    assert b"".join(data) == b"".join(chunks) and ends == 1


@given(chunks=st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=12), trailers=st.booleans())
def test_chunks_that_arrived_together_go_on_as_one_piece(chunks: list[bytes], trailers: bool) -> None:
    data, ends = read([chunked(chunks, trailers)])
    assert data == [b"".join(chunks)] and ends == 1


def test_a_chunk_still_arriving_is_given_as_it_comes() -> None:
    """Never a wait for more: half a chunk read is half a chunk relayed."""
    data, ends = read([b"a\r\nhello", b"world\r\n5\r\nagain\r\n", b"0\r\n\r\n"])
    assert data == [b"hello", b"worldagain"] and ends == 1


def outcome(reader: Any, pieces: list[bytes]) -> tuple[bytes, str]:
    """The data a reader gives for ``pieces`` arriving one read at a time, and how it ended:
    "end", "error: <h11's message>" or "waiting"."""
    buf, data = ReceiveBuffer(), []
    for piece in pieces:
        buf += piece
        while True:
            try:
                event = reader(buf)
            except h11.ProtocolError as e:
                return b"".join(data), f"error: {e}"
            if event is None:
                break
            if isinstance(event, h11.EndOfMessage):
                return b"".join(data), "end"
            data.append(bytes(event.data))
    return b"".join(data), "waiting"


CHUNK_PARTS = st.one_of(
    st.binary(min_size=1, max_size=30).map(lambda b: b"%x\r\n%s\r\n" % (len(b), b)),
    st.binary(min_size=1, max_size=30).map(lambda b: b"%X;name=value\r\n%s\r\n" % (len(b), b)),
    st.binary(min_size=1, max_size=30).map(lambda b: b"%x \t\r\n%s\r\n" % (len(b), b)),  # OWS
    st.binary(min_size=1, max_size=30).map(lambda b: b"%x\r\n%s\n" % (len(b), b)),  # a bad footer
    st.binary(min_size=1, max_size=30).map(lambda b: b"%x\r\n%s" % (len(b) + 3, b)),  # runs on
    st.binary(min_size=1, max_size=30).map(lambda b: b"%x\n%s\r\n" % (len(b), b)),  # LF only
    st.sampled_from([b"0\r\n\r\n", b"0\r\nx-a: 1\r\n\r\n", b"00000000000000000000001\r\na\r\n"]),
    st.sampled_from([b"-1\r\n", b"+5\r\nhello\r\n", b"0x5\r\nhello\r\n", b"\r\n", b"g\r\n"]),
    st.binary(max_size=8),
)


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(CHUNK_PARTS, max_size=8), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_whatever_the_bytes_the_data_and_the_ending_are_h11s(parts: list[bytes], cuts: list[int]) -> None:
    """Differential: malformed headers, footers, sizes, extensions and garbage, split
    anywhere, give the same data and the same end or error as h11's own reader (which
    would keep trailers: there are none that differ here)."""
    wire = b"".join(parts)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    pieces = [wire[a:b] for a, b in itertools.pairwise(points)]
    assert outcome(installed_reader(), pieces) == outcome(h11._readers.ChunkedReader(), pieces)


def test_a_malformed_chunk_after_good_ones_fails_after_they_are_given() -> None:
    reader = installed_reader()
    buf = ReceiveBuffer()
    buf += b"2\r\nab\r\n2\r\ncd\r\nzz\r\n"
    event = reader(buf)
    assert isinstance(event, h11.Data) and bytes(event.data) == b"abcd"
    with pytest.raises(h11.ProtocolError, match="illegal chunk header"):
        reader(buf)


# -- TLS ------------------------------------------------------------------------------------


def connected_pair() -> tuple[SSL.Connection, SSL.Connection]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "turnout.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2040, 1, 1))
        .sign(key, hashes.SHA256())
    )
    server_context = SSL.Context(SSL.TLS_METHOD)
    server_context.use_certificate(cert)
    server_context.use_privatekey(key)
    server, client = SSL.Connection(server_context), SSL.Connection(SSL.Context(SSL.TLS_METHOD))
    server.set_accept_state()
    client.set_connect_state()
    for _ in range(10):
        for end in (client, server):
            with contextlib.suppress(SSL.WantReadError):
                end.do_handshake()
        for a, b in ((client, server), (server, client)):
            with contextlib.suppress(SSL.WantReadError):
                b.bio_write(a.bio_read(65535))
    return server, client


class Reads:
    """An ``SSL.Connection`` that counts the reads of its memory BIO."""

    def __init__(self, connection: SSL.Connection) -> None:
        self.connection, self.reads = connection, 0

    def bio_read(self, size: int) -> bytes:
        self.reads += 1
        return self.connection.bio_read(size)


def sent(server: SSL.Connection, dtls: bool = False) -> tuple[list[bytes], int]:
    relaying = Relaying()
    relaying.install()
    try:
        layer: Any = type("Layer", (), {"is_dtls": dtls})()
        layer.tls, layer.conn = Reads(server), object()
        out = list(tls.TLSLayer.tls_interact(layer))
    finally:
        relaying.uninstall()
    assert all(isinstance(c, commands.SendData) and c.connection is layer.conn for c in out)
    return [c.data for c in out], layer.tls.reads


def decrypted(client: SSL.Connection, records: list[bytes]) -> bytes:
    client.bio_write(b"".join(records))
    out = b""
    while True:
        try:
            out += client.recv(65536)
        except SSL.WantReadError:
            return out


def test_a_small_record_is_read_once() -> None:
    server, client = connected_pair()
    server.sendall(b"data: {}\n\n")
    records, reads = sent(server)
    assert reads == 1 and decrypted(client, records) == b"data: {}\n\n"


def test_more_than_one_read_of_records_is_all_sent() -> None:
    server, client = connected_pair()
    payload = bytes(range(256)) * 1200  # 300 KB: several full reads
    server.sendall(payload)
    records, reads = sent(server)
    assert reads >= 5 and decrypted(client, records) == payload


def test_nothing_to_send_is_nothing_sent() -> None:
    server, _ = connected_pair()
    assert sent(server) == ([], 1)


def test_dtls_keeps_mitmproxys_loop() -> None:
    """A DTLS memory BIO gives one datagram a read, so a short read says nothing there."""
    server, client = connected_pair()
    server.sendall(b"x")
    records, reads = sent(server, dtls=True)
    assert reads == 2 and decrypted(client, records) == b"x"


def test_messages_are_built_unchecked_while_installed_and_checked_again_after() -> None:
    from mitmproxy import http

    relaying = Relaying()
    relaying.install()
    try:
        http.Response.make(200, b"{}")
        assert http.MessageData.__post_init__.__name__ == "_unchecked"  # type: ignore[attr-defined]
    finally:
        relaying.uninstall()
    with pytest.raises(TypeError, match="status_code"):  # mitmproxy's check is back
        http.Response(b"HTTP/1.1", "200", b"OK", http.Headers(), b"", None, 0.0, None)  # type: ignore[arg-type]


async def test_tasks_are_noted_without_looking_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """mitmproxy's note on a task it starts (when, for whom) is kept; its look-up of the
    pytest test in the environment is not made."""
    import os

    from mitmproxy.utils import asyncio_utils

    original = asyncio_utils.set_task_debug_info
    relaying = Relaying()
    relaying.install()
    try:
        looked: list[str] = []
        environ = type(os.environ)
        monkeypatch.setattr(environ, "get", lambda self, key, default=None: looked.append(key) or default)
        task = asyncio_utils.create_task(
            asyncio.sleep(0), name="handle_hook(request)", keep_ref=True, client=("::1", 5)
        )
        await task
        monkeypatch.undo()
        assert task.get_name() == "handle_hook(request)" and task.client == ("::1", 5)  # type: ignore[attr-defined]
        assert task.created > 0 and looked == []  # type: ignore[attr-defined]
    finally:
        relaying.uninstall()
    assert asyncio_utils.set_task_debug_info is original


def test_options_read_as_mitmproxy_reads_them_without_copying_what_cannot_change() -> None:
    from mitmproxy import options, optmanager

    opts = options.Options()
    opts.update(mode=["regular"], listen_port=5)
    names = sorted(opts.keys())
    before = {name: getattr(opts, name) for name in names}
    deepcopies: list[object] = []
    relaying = Relaying()
    relaying.install()
    try:
        import copy

        real = copy.deepcopy
        copy.deepcopy = lambda value, memo=None: deepcopies.append(value) or real(value, memo)  # type: ignore[assignment]
        try:
            assert {name: getattr(opts, name) for name in names} == before
            assert opts.listen_port == 5 and opts.ssl_insecure is False and opts.mode == ["regular"]
            opts.mode.append("changed")  # a list is still a copy
        finally:
            copy.deepcopy = real
        assert opts.mode == ["regular"]
        assert all(isinstance(value, list | dict | tuple | set) for value in deepcopies)
    finally:
        relaying.uninstall()
    assert optmanager._Option.current.__name__ == "current"


def test_the_swap_stays_while_any_master_that_made_it_runs() -> None:
    """Masters that overlap (tests, a reload) share the process's classes: the first to
    start swaps them, the last to stop swaps them back."""
    original = _http1.ChunkedReader
    first, second = Relaying(), Relaying()
    first.install()
    swapped = _http1.ChunkedReader
    second.install()
    assert _http1.ChunkedReader is swapped is not original
    first.uninstall()
    first.uninstall()  # twice is once
    assert _http1.ChunkedReader is swapped
    second.uninstall()
    assert _http1.ChunkedReader is original


# -- Dispatch ---------------------------------------------------------------------------------


class Recorder:
    """An addon that records its hooks into a shared list."""

    def __init__(
        self, name: str, calls: list[tuple[str, str]], hooks: tuple[str, ...], *, halt: str = ""
    ) -> None:
        self.name = name
        for hook in hooks:
            setattr(self, hook, self._handler(hook, calls, halt == hook))

    def _handler(self, hook: str, calls: list[tuple[str, str]], halt: bool) -> Any:
        from mitmproxy import exceptions

        def handler(*args: Any) -> None:
            calls.append((self.name, hook))
            if halt:
                raise exceptions.AddonHalt
            if hook == "error":
                raise ValueError(f"{self.name} broke")

        async def waiting(*args: Any) -> None:
            await asyncio.sleep(0)
            handler(*args)

        return waiting if hook == "response" else handler


def master_with(addons: list[Any], dispatch: bool) -> Any:
    from mitmproxy import master, options

    m = master.Master(options.Options())
    m.addons.add(*addons)
    if dispatch:
        Dispatch.install(m)
    return m


HOOKS = ("requestheaders", "request", "response", "error", "update")


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(st.tuples(st.sets(st.sampled_from(HOOKS)), st.sampled_from(["", *HOOKS])), max_size=6),
    order=st.lists(st.sampled_from(HOOKS), min_size=1, max_size=8),
)
async def test_hooks_run_as_mitmproxy_runs_them(plan: list[tuple[set[str], str]], order: list[str]) -> None:
    """The same handlers in the same order, an error reported and the rest run, AddonHalt
    ending the hook: whatever the chain and the hooks triggered."""
    from mitmproxy import hooks
    from mitmproxy.test import tflow

    flow = tflow.tflow(resp=True)
    seen: list[list[tuple[str, str]]] = []
    for dispatch in (False, True):
        calls: list[tuple[str, str]] = []
        addons = [Recorder(f"a{i}", calls, tuple(sorted(h)), halt=halt) for i, (h, halt) in enumerate(plan)]
        m = master_with(addons, dispatch)
        for name in order:
            event = hooks.UpdateHook([flow]) if name == "update" else hooks.all_hooks[name](flow)
            await m.addons.trigger_event(event)
        seen.append(calls)
    assert seen[0] == seen[1]


async def test_a_changed_chain_is_looked_at_again(caplog: pytest.LogCaptureFixture) -> None:
    from mitmproxy import hooks
    from mitmproxy.test import tflow

    calls: list[tuple[str, str]] = []
    first, second = Recorder("first", calls, ("request",)), Recorder("second", calls, ("request", "error"))
    m = master_with([first], dispatch=True)
    flow = tflow.tflow()
    await m.addons.trigger_event(hooks.all_hooks["request"](flow))
    m.addons.add(second)
    await m.addons.trigger_event(hooks.all_hooks["request"](flow))
    m.addons.chain.reverse()  # reordered in place, as ahead_of does
    await m.addons.trigger_event(hooks.all_hooks["request"](flow))
    one, both, reversed_ = (
        [("first", "request")],
        [("first", "request"), ("second", "request")],
        [
            ("second", "request"),
            ("first", "request"),
        ],
    )
    assert calls == [*one, *both, *reversed_]
    await m.addons.trigger_event(hooks.all_hooks["error"](flow))
    assert "Addon error: second broke" in caplog.text  # reported as mitmproxy reports it


async def test_options_errors_still_stop_a_start() -> None:
    from mitmproxy import exceptions, hooks

    class Bad:
        def running(self) -> None:
            raise exceptions.OptionsError("bad option")

    m = master_with([Bad()], dispatch=True)
    with pytest.raises(exceptions.OptionsError, match="bad option"):
        await m.addons.trigger_event(hooks.RunningHook())


async def test_a_chain_with_sub_addons_is_left_to_mitmproxy() -> None:
    from mitmproxy import hooks
    from mitmproxy.test import tflow

    calls: list[tuple[str, str]] = []

    class Parent:
        def __init__(self) -> None:
            self.addons = [Recorder("child", calls, ("request",))]

    m = master_with([Parent()], dispatch=True)
    await m.addons.trigger_event(hooks.all_hooks["request"](tflow.tflow()))
    m.addons.chain[0].addons.append(Recorder("late child", calls, ("request",)))  # a script reloaded
    await m.addons.trigger_event(hooks.all_hooks["request"](tflow.tflow()))
    assert calls == [("child", "request"), ("child", "request"), ("late child", "request")]


def test_each_master_reads_its_own_context_in_its_tasks_and_threads() -> None:
    """Two masters, each in a thread of its own as the library runs them: in a hook, a task
    and an ``asyncio.to_thread`` call, ``ctx`` is the reading master's; elsewhere it is the
    master made last, as mitmproxy has it."""
    import threading

    from mitmproxy import ctx, master, options

    Contexts.install()
    made: dict[str, Any] = {}
    seen: dict[str, list[Any]] = {}
    both_made, done = threading.Barrier(2), threading.Event()

    def run(name: str) -> None:
        async def main() -> None:
            made[name] = m = master.Master(options.Options(listen_port=len(name)))
            both_made.wait(5)  # the other master is made too: mitmproxy's ctx is the last one

            async def in_task() -> Any:
                return ctx.options

            seen[name] = [
                ctx.master,
                await asyncio.create_task(in_task()),
                await asyncio.to_thread(lambda: ctx.options),
            ]
            assert seen[name] == [m, m.options, m.options]
            await asyncio.to_thread(done.wait, 5)

        asyncio.run(main())

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "three")]
    for t in threads:
        t.start()
    try:
        while len(seen) < 2 and any(t.is_alive() for t in threads):
            threading.Event().wait(0.01)
        assert seen["one"][0] is made["one"] and seen["three"][0] is made["three"]
        assert ctx.master in (made["one"], made["three"])  # no master's context here: the last made
    finally:
        done.set()
        for t in threads:
            t.join(5)


async def test_a_task_started_from_another_thread_enters_its_master() -> None:
    from mitmproxy import ctx, master, options

    Contexts.install()
    first = master.Master(options.Options())

    async def elsewhere() -> Any:
        second = master.Master(options.Options())  # made in this task: ctx is the second here
        assert ctx.master is second
        Contexts.enter(first)
        return ctx.options

    assert await asyncio.create_task(elsewhere()) is first.options
    assert ctx.master is first  # the task's context was its own


class Owner:
    """Stands for a mitmproxy class whose method masters replace."""

    call: Any = None


def tagging(tag: str, mine: set[str]) -> Any:
    def make(original: Any) -> Any:
        return lambda flow: tag if flow in mine else original(flow)

    return make


@settings(max_examples=100, deadline=None)
@given(steps=st.permutations([0, 0, 1, 1, 2, 2, 3, 3]))
def test_replacements_of_masters_that_stop_in_any_order_stay_for_the_others(steps: list[int]) -> None:
    """Four masters start and stop interleaved (a master's first step starts it, its second
    stops it): each running one's replacement handles its own flows; when all have stopped,
    mitmproxy's own is back."""
    from turnout.addons._mitm import _Swaps

    original = Owner.call = lambda flow: "mitmproxy"  # type: ignore[method-assign,assignment]
    _Swaps._left.clear()
    swaps = [_Swaps() for _ in range(4)]
    flows: list[set[str]] = [set() for _ in range(4)]
    running: set[int] = set()
    for step in steps:
        if step in running:
            swaps[step].undo()
            flows[step].clear()  # a master's flows end with it
            running.remove(step)
        else:
            flows[step].add(f"flow{step}")
            swaps[step].swap(Owner, "call", tagging(f"m{step}", flows[step]))
            running.add(step)
        for i in range(4):
            assert Owner.call(f"flow{i}") == (f"m{i}" if i in running else "mitmproxy")
    assert Owner.call is original and not _Swaps._left


def test_json_error_pages_stay_while_any_master_runs_whichever_stops_first() -> None:
    from mitmproxy.proxy.layers import http as http_layers

    from turnout.addons._mitm import Replies

    originals = (_http1.make_error_response, http_layers.HttpStream.handle_protocol_error)
    first, second = Replies(), Replies()
    first.install()
    second.install()
    first.uninstall()  # out of order: the second still runs
    assert _http1.make_error_response(502, "boom").endswith(b'"message":"boom"}}')  # JSON, not HTML
    second.uninstall()
    assert (_http1.make_error_response, http_layers.HttpStream.handle_protocol_error) == originals
