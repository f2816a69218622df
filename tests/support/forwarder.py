"""A TCP forwarder on loopback in front of a real server (moto's), whose behaviour a test
switches while the app keeps its clients: the faults an AWS dependency shows, for real,
through botocore's own sockets.

Modes:
    pass    forward the bytes both ways
    refuse  stop listening: a connect is refused (ECONNREFUSED)
    reset   accept, then close at once with a reset: the connection drops before any answer
    hang    accept and read whatever comes, never answer

Switching mode ends every connection open so far, so a client's pooled keep-alive
connection meets the new mode on its next request, as it would meet a host that failed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

Mode = Literal["pass", "refuse", "reset", "hang"]
MODES: tuple[Mode, ...] = ("pass", "refuse", "reset", "hang")
HOST = "127.0.0.1"
CHUNK = 65536
ACCEPT_POLL_SECONDS = 0.1


class Forwarder:
    """``Forwarder(("127.0.0.1", moto_port)).start()`` returns its URL; ``mode = "hang"``."""

    def __init__(self, target: tuple[str, int], host: str = HOST, port: int = 0) -> None:
        self.target = target  # (host, port) of the server it forwards to
        self._host = host
        self._port = port
        self._mode: Mode = "pass"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self.accepted: Counter[str] = Counter()  # connections accepted, by the mode then

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {MODES}")
        with self._lock:
            previous, self._mode = self._mode, mode
            open_now = list(self._sockets)
        for sock in open_now:
            _close(sock)
        if mode == "refuse" and previous != "refuse":
            self._close_listener()
        elif previous == "refuse" and mode != "refuse":
            self._listen()

    def start(self) -> str:
        self._listen()
        return self.url

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()
        with self._lock:
            open_now = list(self._sockets)
        for sock in open_now:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> Forwarder:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- listening ---------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, self._port))  # the same port again after `refuse`
        listener.listen(64)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self._port = int(listener.getsockname()[1])
        self._listener = listener
        self._spawn(self._accept_loop, listener)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped.is_set() and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed: `refuse`, or stop()
                return
            client.settimeout(None)
            mode = self._mode
            self.accepted[mode] += 1
            if mode == "reset":
                _reset(client)
            elif mode == "hang":
                self._track(client)
                self._spawn(_swallow, client, self._untrack)
            else:
                self._forward(client)

    # --- connections -------------------------------------------------------------------

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        self._track(client)
        self._track(upstream)
        self._spawn(self._pump, client, upstream)
        self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._untrack(source)
            self._untrack(sink)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close(sock)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]


def _swallow(client: socket.socket, done: Callable[[socket.socket], None]) -> None:
    """`hang`: read and drop what the client sends until it gives up (or the mode changes)."""
    try:
        while client.recv(CHUNK):
            pass
    except OSError:
        pass
    finally:
        done(client)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), not an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _close(sock: socket.socket) -> None:
    """Wake a thread blocked reading it (close alone does not), then close."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
