"""HTTPS on 127.0.0.1 with a throwaway CA, and the in-process handle on it."""

from __future__ import annotations

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
from azure.core.credentials import AccessToken

from fleetsim.api import ArmApi, Request
from fleetsim.clock import Clock, ScaledClock
from fleetsim.faults import FaultConfig, FaultInjector
from fleetsim.fleet import parse_fleet
from fleetsim.oplog import OperationLog
from fleetsim.state import FleetState

HOST = "127.0.0.1"


class SimulatorCredential:
    """Any token will do: the simulator checks that one is sent, not what it says."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken("fleetsim-token", int(time.time()) + 3600)


class _ArmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # Headers and body go out in separate writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server: _ArmServer
    timeout = 60  # seconds an idle keep-alive connection is kept

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.api.handle(request)
        if response.delay_seconds:
            time.sleep(response.delay_seconds)
        payload = response.encoded()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the operations log is the record."""


class _ArmServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, api: ArmApi, tls: ssl.SSLContext) -> None:
        super().__init__((HOST, port), _ArmHandler)
        self.api = api
        # The handshake runs in the connection's thread, not in the accept loop.
        self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Clients that drop a connection mid-handshake are not the server's problem."""


class RunningSimulator:
    """A simulator serving in a background thread; `stop()` or use as a context manager."""

    def __init__(
        self,
        server: _ArmServer,
        state: FleetState,
        ca_path: Path,
        log: OperationLog,
        tempdir: Path,
    ) -> None:
        self._server = server
        self._log = log
        self._tempdir = tempdir
        self.state = state
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
        self._log.close()
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
) -> RunningSimulator:
    """Serve `fleet` (parsed fleet-file JSON) over HTTPS on 127.0.0.1.

    `port` 0 picks a free one. The CA's PEM goes to a temporary file that
    `stop()` removes. Raises `fleetsim.FleetError` for a bad fleet.
    """
    spec = parse_fleet(fleet)
    clock = clock or ScaledClock(1.0)
    log = OperationLog(log_path)
    state = FleetState(spec, clock, log)
    api = ArmApi(state, log, FaultInjector(faults or FaultConfig()))

    ca = trustme.CA()
    server_cert = ca.issue_cert(HOST, "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(tls)
    tempdir = Path(tempfile.mkdtemp(prefix="fleetsim-"))
    ca_path = tempdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    try:
        server = _ArmServer(port, api, tls)
    except OSError:
        log.close()
        shutil.rmtree(tempdir, ignore_errors=True)
        raise
    return RunningSimulator(server, state, ca_path, log, tempdir)
