"""``turnout proxy --workers N``: N lean masters accepting on one port, and their supervisor.

One mitmproxy master uses one core; the machine has more. The supervisor (the process
the user started) never serves a request. It reserves the port (a socket bound with
``SO_REUSEPORT`` and never listening, so the port stays theirs while a worker restarts),
makes the workers' board (``core/shm.py``), and starts each worker as
``python -m turnout.workers``, its settings written to the worker's stdin (so a key
given on the command line is never in a process environment). Each worker listens on
the port with ``SO_REUSEPORT``; the kernel spreads the connections over them.

- It prints one line once every worker listens.
- A worker that dies is started again at once (its governor slots freed first);
  one that keeps dying within seconds of its start stops the whole proxy, with a
  message, rather than looping.
- Ctrl-C or SIGTERM is passed to every worker, which drains its requests in flight
  (``--grace``); a second one makes them exit at once. The workers run in a session of
  their own, so a terminal's Ctrl-C reaches only the supervisor, which passes it on once.
- A worker whose supervisor is gone (killed) drains and exits: its stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from turnout.core.config import load_user_config
from turnout.core.errors import ConfigError
from turnout.core.shm import MAX_WORKERS, ShmBoard, create_board_file
from turnout.settings import ServerSettings, bracket, check_bind, check_listen, setup_logging

__all__ = ["MAX_AUTO", "Supervisor", "auto_workers", "exec_supervisor", "parse_workers"]

logger = logging.getLogger(__name__)

MAX_AUTO = 8  # workers "auto" starts at most: past that the upstreams, not the proxy, limit
READY_TIMEOUT = 60.0  # seconds a worker may take to start listening
RESTARTS = 5  # a worker dying this many times, each within FLAPPING s of its start, stops all
FLAPPING = 10.0


def auto_workers() -> int:
    """One worker per core this process may use, at most ``MAX_AUTO``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_AUTO))


def parse_workers(text: str) -> int:
    """``auto`` or a count from 1 to ``MAX_WORKERS - 1``."""
    if text.strip().lower() == "auto":
        return auto_workers()
    try:
        count = int(text)
    except ValueError:
        raise ConfigError(f"--workers {text!r}: give a number of processes, or auto") from None
    if not 1 <= count < MAX_WORKERS:
        raise ConfigError(f"--workers {count}: give 1 to {MAX_WORKERS - 1}, or auto")
    return count


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    said: bytes = b""  # its ready line, as far as it has come


class Supervisor:
    """Runs ``count`` workers with ``settings`` until stopped; ``run`` returns the exit code."""

    def __init__(
        self,
        settings: ServerSettings,
        count: int,
        *,
        verbose: bool = False,
        announce: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if settings.web:
            raise ConfigError("--web runs one process: leave out --workers, or give --workers 1")
        self.settings, self.count, self.verbose = settings, count, verbose
        self.announce = announce or (lambda where, facts: print(f"turnout listening on {where}", flush=True))
        self.workers: dict[int, _Worker] = {}
        self.stopping = 0  # signals received
        self._deaths: dict[int, list[float]] = {}
        self._reserved: list[socket.socket] = []
        self._board_dir: tempfile.TemporaryDirectory[str] | None = None
        self._board: ShmBoard | None = None
        self.port = settings.port
        self.intercept_port = settings.intercept_port

    # -- the run ------------------------------------------------------------------------

    def run(self) -> int:
        check_bind(self.settings.host, self.settings.local_key)
        # A config that cannot load is said once, here, not once per worker:
        load_user_config(self.settings.config, discover=False)
        self._reserve()
        self._make_board()
        previous = {sig: signal.signal(sig, self._signalled) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for index in range(self.count):
                self._start(index)
            facts = self._wait_ready()
            if facts is None:
                return 0 if self.stopping else 1  # asked to stop while starting: no failure
            if self.intercept_port is not None:
                facts["intercept"] = f"http://{bracket(self.settings.host)}:{self.intercept_port}"
            self.announce(f"http://{bracket(self.settings.host)}:{self.port}", facts)
            return self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all(at_once=True)
            self._cleanup()

    def _reserve(self) -> None:
        """Bind (never listen) the ports with SO_REUSEPORT: the workers' from now on."""
        self.port = self._hold(self.port, "--port")
        if self.intercept_port is not None:
            self.intercept_port = self._hold(self.intercept_port, "--intercept-port")

    def _hold(self, port: int, option: str) -> int:
        if port:
            check_listen(self.settings.host, port, option=option)
        addresses = socket.getaddrinfo(
            self.settings.host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address[0], port, *address[2:]))
            except OSError as e:
                sock.close()
                raise ConfigError(f"cannot listen on {self.settings.host}:{port}: {e.strerror}") from None
            port = sock.getsockname()[1]  # port 0: the first address picks it for all
            self._reserved.append(sock)
        return port

    def _make_board(self) -> None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self._board_dir = tempfile.TemporaryDirectory(prefix="turnout-", dir=base)
        path = Path(self._board_dir.name) / "board"
        create_board_file(path)
        self._board = ShmBoard(path)  # the supervisor's view: no worker row of its own

    def _start(self, index: int) -> None:
        assert self._board is not None
        spec = {
            "settings": dataclasses.asdict(
                dataclasses.replace(
                    self.settings, port=self.port, intercept_port=self.intercept_port, reuse_port=True
                )
            ),
            "index": index,
            "count": self.count,
            "board": str(self._board.path),
            "verbose": self.verbose,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "turnout.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(spec).encode() + b"\n")
        process.stdin.flush()  # stdin stays open: its end tells the worker we are gone
        self.workers[index] = _Worker(index, process)

    def _wait_ready(self) -> dict[str, Any] | None:
        """Every worker's ready line; None (after saying why) if one could not start."""
        facts: dict[str, Any] = {}
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as selector:
            for worker in self.workers.values():
                assert worker.process.stdout is not None
                selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
            while not all(w.ready for w in self.workers.values()):
                if self.stopping or time.monotonic() > deadline:
                    if not self.stopping:
                        logger.error("turnout's workers did not all start within %.0f s", READY_TIMEOUT)
                    return None
                for key, _ in selector.select(timeout=0.2):
                    worker = key.data
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        if not worker.ready:
                            return None  # it failed before listening; its error is on stderr
                        continue
                    worker.said += chunk
                    if b"\n" in worker.said:
                        worker.ready = True
                        selector.unregister(key.fileobj)
                        with contextlib.suppress(ValueError):
                            facts = facts or json.loads(worker.said.split(b"\n", 1)[0])
        return facts

    def _supervise(self) -> int:
        while True:
            if self.stopping:
                return self._drain()
            for worker in list(self.workers.values()):
                code = worker.process.poll()
                if code is None:
                    continue
                if not self._restart(worker, code):
                    return 1
            time.sleep(0.1)

    def _restart(self, worker: _Worker, code: int) -> bool:
        """Start a dead worker again; False when it keeps dying (the proxy stops)."""
        assert self._board is not None
        now = time.monotonic()
        self._board.forget_worker(worker.index)
        deaths = self._deaths.setdefault(worker.index, [])
        deaths.append(now - worker.started)
        flapping = [d for d in deaths[-RESTARTS:] if d < FLAPPING]
        how = f"signal {-code}" if code < 0 else f"code {code}"
        if len(flapping) >= RESTARTS:
            logger.error(
                "worker %d keeps dying (%s, %d times within %.0f s of starting): stopping turnout",
                worker.index,
                how,
                RESTARTS,
                FLAPPING,
            )
            return False
        logger.warning(
            "worker %d (pid %d) exited with %s: starting it again", worker.index, worker.process.pid, how
        )
        _close_pipes(worker.process)
        self._start(worker.index)
        return True

    def _signalled(self, signum: int, frame: Any) -> None:
        self.stopping += 1
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)  # the first drains, the second is at once

    def _drain(self) -> int:
        """Wait for the workers to finish their requests in flight (the grace, then some)."""
        deadline = time.monotonic() + self.settings.grace + 10
        for worker in self.workers.values():
            left = max(deadline - time.monotonic(), 0.1)
            try:
                worker.process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        return 0

    def _stop_all(self, *, at_once: bool) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGTERM)
                    if at_once:
                        worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers.values():
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            _close_pipes(worker.process)

    def _cleanup(self) -> None:
        for sock in self._reserved:
            sock.close()
        if self._board is not None:
            self._board.close()
        if self._board_dir is not None:
            self._board_dir.cleanup()


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


# -- a worker -------------------------------------------------------------------------------


def worker_main() -> int:
    """A worker: its settings from stdin, then a lean master on the shared port."""
    from turnout.addons.drain import drain_then_stop
    from turnout.core.runtime import Runtime
    from turnout.server import run_proxy

    spec = json.loads(sys.stdin.buffer.readline())
    settings = ServerSettings(**spec["settings"])
    setup_logging(bool(spec.get("verbose")))
    board = ShmBoard(Path(spec["board"]), int(spec["index"]))
    runtime = Runtime(board=board, workers=int(spec["count"]))
    ready = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed later goes to the log, never into the ready pipe

    stopping: list[asyncio.Future[None]] = []

    def started(master: Any) -> None:
        backends = [[b.name, b.source] for b in runtime.config.backends.values()]
        ready.write(json.dumps({"backends": backends}).encode() + b"\n")
        ready.close()
        loop = asyncio.get_running_loop()

        def orphaned() -> None:  # stdin closed: the supervisor is gone
            try:
                if os.read(0, 4096):
                    return
            except OSError:
                pass
            loop.remove_reader(0)
            stopping.append(asyncio.ensure_future(drain_then_stop(master, runtime)))

        loop.add_reader(0, orphaned)

    try:
        asyncio.run(run_proxy(settings, runtime, started=started, handle_signals=True))
    except ConfigError as e:
        logger.error("worker %d could not start: %s", spec["index"], e.message)
        return 1
    except OSError as e:
        logger.error("worker %d could not start: %s", spec["index"], e.strerror or e)
        return 1
    finally:
        board.close()
    return 0


def supervisor_main(fd: int) -> int:
    """The supervisor, exec'd by ``turnout proxy`` so that it holds none of the CLI's
    imports (typer, rich: ~35 MB); its orders come on the inherited pipe ``fd``."""
    with os.fdopen(fd, "rb") as orders:
        spec = json.loads(orders.read())
    settings = ServerSettings(**spec["settings"])
    count = int(spec["count"])
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] turnout: %(message)s", "%H:%M:%S"))
    logging.getLogger("turnout").addHandler(handler)
    logging.getLogger("turnout").propagate = False

    def announce(where: str, facts: dict[str, Any]) -> None:
        found = ", ".join(f"{b[0]} ({b[1]})" for b in facts.get("backends") or [] if len(b) == 2)
        found = found or "none — set ANTHROPIC_API_KEY / OPENAI_API_KEY or run `turnout backend add`"
        proxy = f"; HTTPS proxy (--intercept) on {facts['intercept']}" if facts.get("intercept") else ""
        print(f"turnout listening on {where} ({count} workers){proxy} — backends: {found}", flush=True)

    try:
        code = Supervisor(settings, count, verbose=bool(spec.get("verbose")), announce=announce).run()
    except ConfigError as e:
        print(f"Error: {e.message}", file=sys.stderr, flush=True)
        return 1
    if code:
        print("Error: turnout stopped: a worker could not start or kept failing (its error is above).",
              file=sys.stderr, flush=True)  # fmt: skip
        return code
    print("turnout stopped.", file=sys.stderr, flush=True)
    return 0


def exec_supervisor(settings: ServerSettings, count: int, *, verbose: bool) -> NoReturn:
    """Become the supervisor (``supervisor_main``): this process, its pid and its terminal."""
    spec = json.dumps({"settings": dataclasses.asdict(settings), "count": count, "verbose": verbose})
    read, write = os.pipe()
    os.write(write, spec.encode())  # a few hundred bytes: fits the pipe, never blocks
    os.close(write)
    os.set_inheritable(read, True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "turnout.workers", "--supervise", str(read)])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--supervise":
        sys.exit(supervisor_main(int(sys.argv[2])))
    sys.exit(worker_main())
