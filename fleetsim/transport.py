"""The simulator in process: an azure-core transport that calls `ArmApi.handle` directly.

No socket, no TLS, no thread: a request the SDK's pipeline sends is answered in
the caller's thread, by the same `ArmApi` the HTTPS server puts on a socket, so
the real clients (pipeline, policies, models, LRO pollers) run unchanged::

    with open_simulator(fleet, clock=clock) as sim:
        compute = ComputeManagementClient(
            sim.credential, subscription_id, base_url=sim.base_url,
            transport=sim.transport, polling_interval=0,
        )

A slow-answer fault waits in the caller's thread through the transport's
`sleep` (the one the SDK's retry policy and pollers use too, `time.sleep`
unless given); a wait longer than the request's read timeout (the
`read_timeout` keyword, as for the SDK's own transport, default 300 s) ends
after that timeout with `ServiceResponseTimeoutError`, as a socket read would.
The work the request asked for is done either way, as over HTTPS. Once the
simulator stopped, every request fails with `ServiceRequestError`, as one to
a server that is gone, so pollers a test left running end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.utils import case_insensitive_dict

from fleetsim.api import ArmApi, Request, open_api
from fleetsim.clock import Clock
from fleetsim.credential import SimulatorCredential
from fleetsim.faults import FaultConfig
from fleetsim.state import FleetState

# Reserved (RFC 2606): no request for it can leave the process by mistake.
IN_PROCESS_BASE_URL = "https://fleetsim.invalid"
DEFAULT_READ_TIMEOUT = 300.0  # seconds, as azure-core's own transport


def _body_bytes(content: Any) -> bytes:
    """A request's content as bytes: what the SDK gives (bytes, text, a stream or chunks)."""
    if content is None:
        return b""
    if isinstance(content, bytes | bytearray):
        return bytes(content)
    if isinstance(content, str):
        return content.encode("utf-8")
    if hasattr(content, "read"):
        return _body_bytes(content.read())
    return b"".join(_body_bytes(part) for part in content)


class InProcessResponse(HttpResponse):
    """An answer already complete in memory, as azure-core's responses once read."""

    def __init__(
        self, request: HttpRequest, status: int, headers: dict[str, str], content: bytes
    ) -> None:
        self._request = request
        self._status = status
        self._headers = case_insensitive_dict(headers)
        self._content = content
        self._encoding: str | None = None
        self._closed = False
        self._consumed = False

    @property
    def request(self) -> HttpRequest:
        return self._request

    @property
    def status_code(self) -> int:
        return self._status

    @property
    def headers(self) -> Any:
        return self._headers

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self._status).phrase
        except ValueError:
            return ""

    @property
    def content_type(self) -> str | None:
        value: str | None = self._headers.get("Content-Type")
        return value

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_stream_consumed(self) -> bool:
        return self._consumed

    @property
    def encoding(self) -> str | None:
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value

    @property
    def url(self) -> str:
        return self._request.url

    @property
    def content(self) -> bytes:
        return self._content

    def text(self, encoding: str | None = None) -> str:
        return self._content.decode(encoding or self._encoding or "utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self._content)

    def raise_for_status(self) -> None:
        if self._status >= 400:
            raise HttpResponseError(response=self)

    def read(self) -> bytes:
        return self._content

    def iter_raw(self, **kwargs: Any) -> Iterator[bytes]:
        self._consumed = True
        if self._content:
            yield self._content

    def iter_bytes(self, **kwargs: Any) -> Iterator[bytes]:
        return self.iter_raw(**kwargs)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> InProcessResponse:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


class InProcessTransport(HttpTransport[HttpRequest, HttpResponse]):
    """Hands each request to `api.handle`; serves `base_url` and nothing else."""

    def __init__(
        self,
        api: ArmApi,
        base_url: str = IN_PROCESS_BASE_URL,
        *,
        sleep: Callable[[float], None] = time.sleep,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self._api = api
        self._base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._read_timeout = read_timeout
        self._stopped = False

    def stop_serving(self) -> None:
        """From now on every request fails as one to a server that is gone would."""
        self._stopped = True

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if self._stopped:
            raise ServiceRequestError("the in-process simulator has stopped")
        url = request.url
        if not url.lower().startswith(self._base_url.lower() + "/"):
            raise ServiceRequestError(
                f"the in-process simulator serves {self._base_url} only, not {url}"
            )
        answer = self._api.handle(
            Request(
                method=request.method.upper(),
                target=url[len(self._base_url) :],
                headers={name.lower(): value for name, value in request.headers.items()},
                body=_body_bytes(request.content),
            )
        )
        if answer.delay_seconds:
            self._answer_late(answer.delay_seconds, kwargs.get("read_timeout"))
        payload = answer.encoded()
        headers = answer.wire_headers(payload)
        # As on the wire: an answer to HEAD has the headers of its body, not the body.
        content = b"" if request.method.upper() == "HEAD" else payload
        return InProcessResponse(request, answer.status, headers, content)

    def _answer_late(self, delay_seconds: float, read_timeout: float | None) -> None:
        timeout = self._read_timeout if read_timeout is None else read_timeout
        if delay_seconds > timeout:
            self.sleep(timeout)
            raise ServiceResponseTimeoutError(
                f"the simulator answered after {delay_seconds} s; the read timeout is {timeout} s"
            )
        self.sleep(delay_seconds)

    def sleep(self, duration: float) -> None:
        self._sleep(duration)

    def open(self) -> None:
        """Nothing to open: no connection."""

    def close(self) -> None:
        """Nothing to close: clients may share the transport and close it freely."""

    def __enter__(self) -> InProcessTransport:
        return self

    def __exit__(self, *args: object) -> None:  # azure-core's pipeline calls it bare
        self.close()


class InProcessSimulator:
    """A simulator without a server: point clients at `base_url` with `transport`."""

    def __init__(self, api: ArmApi, transport: InProcessTransport) -> None:
        self._api = api
        self.transport = transport
        self.base_url = IN_PROCESS_BASE_URL
        self.credential = SimulatorCredential()
        self._stopped = False

    @property
    def state(self) -> FleetState:
        return self._api.state

    @property
    def clock(self) -> Clock:
        return self._api.state.clock

    def stop(self) -> None:
        """Stop answering, log what is still running as InProgress, close the log; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        # Pollers left running by clients end, as against a server that stopped.
        self.transport.stop_serving()
        self._api.state.finish()
        self._api.log.close()

    def __enter__(self) -> InProcessSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def open_simulator(
    fleet: dict[str, Any],
    *,
    clock: Clock | None = None,
    log_path: Path | None = None,
    faults: FaultConfig | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> InProcessSimulator:
    """Simulate `fleet` (parsed fleet-file JSON) in this process, without a server.

    `sleep` is what the transport waits with (slow answers, the SDK's retry
    back-off and poll intervals). Raises `fleetsim.FleetError` for a bad fleet.
    """
    api = open_api(fleet, clock=clock, log_path=log_path, faults=faults)
    api.base_url = IN_PROCESS_BASE_URL
    return InProcessSimulator(api, InProcessTransport(api, IN_PROCESS_BASE_URL, sleep=sleep))
