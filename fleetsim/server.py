"""HTTPS on 127.0.0.1 with a throwaway CA, and the in-process handle on it.

Every refusal is JSON in ARM's error shape, the HTTP layer's own included: a
request line over 64 KiB is 414, a header line over 64 KiB or more than 100
headers 431, a malformed request line (a missing or malformed version
included) 400, a version other than HTTP/1.0 and HTTP/1.1 505; a
`Content-Length` that is not one byte count is 400, a `Transfer-Encoding` body
411, a body over 1 MiB 413. After any of these the connection is closed (once
what the client is still sending has been read for a moment, so that the
close does not reset the answer away). The body refusals come with a request
line and headers, so they are ARM requests as any other, counted and logged;
the others are not requests ARM would see. HEAD, OPTIONS and any method no
path has are 405 (`fleetsim.routes`) on a connection that stays open; an
answer to HEAD carries its headers, not its body.

Connections are served by at most `max_connections` threads (64 unless
given); an idle keep-alive connection holds its thread for up to 60 seconds.
A connection beyond the cap is answered by one extra thread with 503
`ServerBusy` and `Retry-After: 1` and closed (the SDK's retry policy retries
it); while that thread is busy, up to 64 more wait for it and any further
ones are closed unanswered.
"""

from __future__ import annotations

import queue
import shutil
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from fleetsim.api import MAX_BODY_BYTES, ArmApi, Request, Response, open_api
from fleetsim.clock import Clock
from fleetsim.credential import SimulatorCredential
from fleetsim.errors import ArmError, body_too_large, http_error, server_busy
from fleetsim.faults import FaultConfig
from fleetsim.state import FleetState

HOST = "127.0.0.1"
DEFAULT_MAX_CONNECTIONS = 64
MAX_REQUEST_LINE = 65536  # bytes, as http.server's own header-line limit
_SERVED_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
# After a refusal, what the client still sends is read for this long, or this much.
_LINGER_SECONDS = 0.25
_LINGER_BYTES = 2 * 1024 * 1024
_REFUSAL_BACKLOG = 64  # connections beyond the cap waiting for their 503


class _ArmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # A refusal before the version is known still gets a status line and headers.
    default_request_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server: _ArmServer
    timeout = 60  # seconds an idle keep-alive connection is kept

    def handle_one_request(self) -> None:
        self.command = ""
        self.request_version = self.protocol_version  # how a refusal before parsing answers
        try:
            line = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not line:
                self.close_connection = True
                return
            if len(line) > MAX_REQUEST_LINE:
                self.requestline = ""
                self.send_error(414, f"The request line exceeds {MAX_REQUEST_LINE} bytes.")
                return
            self.raw_requestline = line
            if not self.parse_request():
                return  # parse_request answered (through send_error)
            if len(self.requestline.split()) != 3:
                self.send_error(400, "The request line needs a method, a target and a version.")
                return
            if self.request_version not in _SERVED_VERSIONS:
                self.send_error(505, f"HTTP version {self.request_version} is not served.")
                return
            self._serve()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's refusals, in ARM's JSON shape rather than an HTML page."""
        if self.request_version not in _SERVED_VERSIONS:
            self.request_version = self.protocol_version  # so the answer has a status line
        detail = message or "The request could not be read."
        if explain:
            detail = f"{detail} ({explain})"
        self._write(Response.of_error(http_error(code, detail)), close=True)

    def _request(self, body: bytes) -> Request:
        return Request(
            method=self.command,
            target=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ArmError as refusal:
            self._write(self.server.api.refuse(self._request(b""), refusal), close=True)
            return
        if body is None:  # the client closed before sending all it announced
            self.close_connection = True
            return
        response = self.server.api.handle(self._request(body))
        if response.delay_seconds:
            time.sleep(response.delay_seconds)
        self._write(response, close=False)

    def _read_body(self) -> bytes | None:
        """The body the headers announce; ArmError for a length the server will not read."""
        if self.headers.get("Transfer-Encoding") is not None:
            raise http_error(411, "A request body needs a Content-Length (no Transfer-Encoding).")
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or ()}
        if not lengths:
            return b""
        text = lengths.pop()
        if lengths or not (text.isascii() and text.isdecimal()) or len(text) > 18:
            raise http_error(400, "Content-Length must be one byte count (digits only).")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise body_too_large(length, MAX_BODY_BYTES)
        body = self.rfile.read(length)
        return body if len(body) == length else None

    def _write(self, response: Response, *, close: bool) -> None:
        payload = response.encoded()
        self.send_response(response.status)
        for name, value in response.wire_headers(payload).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")  # also ends the connection here
        self.end_headers()
        if self.command != "HEAD":  # an answer to HEAD carries the headers, not the body
            self.wfile.write(payload)
        if close:
            self.wfile.flush()
            self._discard_unread()

    def _discard_unread(self) -> None:
        """Read (briefly) what the client still sends before the connection closes.

        Closing a socket with unread input resets the connection, and a reset
        can discard the answer before the client has read it.
        """
        self.connection.settimeout(_LINGER_SECONDS)
        remaining = _LINGER_BYTES
        try:
            while remaining > 0 and (chunk := self.connection.recv(min(65536, remaining))):
                remaining -= len(chunk)
        except OSError:  # timed out, or the client is gone: either way, done
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the operations log is the record."""


class _BusyHandler(_ArmHandler):
    """Reads one request of a connection beyond the cap and answers it 503."""

    timeout = 2  # seconds a connection beyond the cap gets to send its request

    def _serve(self) -> None:
        refusal = server_busy(retry_after_seconds=1)
        self._write(self.server.api.refuse(self._request(b""), refusal), close=True)


class _ArmServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, api: ArmApi, tls: ssl.SSLContext, max_connections: int) -> None:
        self.api = api
        self._slots = threading.BoundedSemaphore(max_connections)
        self._refusals: queue.Queue[tuple[socket.socket, Any] | None] = queue.Queue(
            _REFUSAL_BACKLOG
        )
        self._refuser = threading.Thread(
            target=self._refuse_forever, name="fleetsim-busy", daemon=True
        )
        super().__init__((HOST, port), _ArmHandler)  # a port in use: OSError, after server_close
        # The handshake runs in the connection's thread, not in the accept loop.
        self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self._refuser.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._slots.acquire(blocking=False):
            super().process_request(request, client_address)
            return
        try:
            self._refusals.put_nowait((request, client_address))
        except queue.Full:
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse_forever(self) -> None:
        while (item := self._refusals.get()) is not None:
            request, client_address = item
            try:
                _BusyHandler(request, client_address, self)
            except Exception:  # a client gone mid-refusal: nothing to answer
                pass
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        if self._refuser.is_alive():
            self._refusals.put(None)
            self._refuser.join()

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Clients that drop a connection mid-handshake are not the server's problem."""


class RunningSimulator:
    """A simulator serving in a background thread; `stop()` or use as a context manager."""

    def __init__(self, server: _ArmServer, ca_path: Path, tempdir: Path) -> None:
        self._server = server
        self._tempdir = tempdir
        self.state: FleetState = server.api.state
        self.ca_path = ca_path
        self.credential = SimulatorCredential()
        self.port: int = server.server_address[1]
        self.base_url = f"https://{HOST}:{self.port}"
        server.api.base_url = self.base_url
        # A short poll interval makes stop() quick.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fleetsim", daemon=True
        )
        self._thread.start()
        self._stopped = False

    @property
    def clock(self) -> Clock:
        return self.state.clock

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self.state.finish()
        self._server.api.log.close()
        shutil.rmtree(self._tempdir, ignore_errors=True)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(
    fleet: dict[str, Any],
    *,
    clock: Clock | None = None,
    log_path: Path | None = None,
    faults: FaultConfig | None = None,
    port: int = 0,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> RunningSimulator:
    """Serve `fleet` (parsed fleet-file JSON) over HTTPS on 127.0.0.1.

    `port` 0 picks a free one. The CA's PEM goes to a temporary file that
    `stop()` removes. Raises `fleetsim.FleetError` for a bad fleet.
    """
    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, got {max_connections}")
    api = open_api(fleet, clock=clock, log_path=log_path, faults=faults)
    ca = trustme.CA()
    server_cert = ca.issue_cert(HOST, "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(tls)
    tempdir = Path(tempfile.mkdtemp(prefix="fleetsim-"))
    ca_path = tempdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    try:
        server = _ArmServer(port, api, tls, max_connections)
    except OSError:
        api.log.close()
        shutil.rmtree(tempdir, ignore_errors=True)
        raise
    return RunningSimulator(server, ca_path, tempdir)
