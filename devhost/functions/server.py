"""The host's HTTP listener on 127.0.0.1: one thread per connection, keep-alive.

Requests are served concurrently because functions call back into the host
(a starter's Durable client posts to the RPC endpoint while its own request
is still open).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devhost.functions.wire import HostRequest, HostResponse

log = logging.getLogger("devhost.server")

HOST = "127.0.0.1"
MAX_BODY_BYTES = 16 * 1024 * 1024

Dispatch = Callable[[HostRequest], HostResponse]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # A refusal before the version is known still gets a status line and headers.
    default_request_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK.
    disable_nagle_algorithm = True
    timeout = 60  # seconds an idle keep-alive connection is kept
    server: HostServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line), as JSON, not an HTML page."""
        self.close_connection = True
        self._write(HostResponse.message(code, message or "the request could not be read"), True)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        request = HostRequest(
            method=self.command,
            target=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            origin=f"http://{self.headers.get('Host') or self.server.authority}",
        )
        try:
            response = self.server.dispatch(request)
        except Exception:  # a fault of the host itself; the client still gets an answer
            log.exception("request %s %s failed in the host", self.command, self.path)
            response = HostResponse.message(500, "the local host failed on this request")
        self._write(response)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding") is not None:
            self._write(HostResponse.message(411, "a request body needs a Content-Length"), True)
            return None
        text = self.headers.get("Content-Length", "0").strip()
        if not text.isdecimal():
            self._write(HostResponse.message(400, f"bad Content-Length {text!r}"), True)
            return None
        length = int(text)
        if length > MAX_BODY_BYTES:
            refusal = f"a request body may have {MAX_BODY_BYTES} bytes at most, not {length}"
            self._write(HostResponse.message(413, refusal), True)
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return None
        return body

    def _write(self, response: HostResponse, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


class HostServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        super().__init__((HOST, port), _Handler)

    @property
    def authority(self) -> str:
        return f"{HOST}:{self.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"http://{self.authority}"
