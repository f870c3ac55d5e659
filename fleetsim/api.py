"""The ARM operations: authentication, faults, throttling and the answers.

Independent of HTTP transport: `ArmApi.handle` takes a parsed request and gives
a response; `fleetsim.server` puts it on a TLS socket, `fleetsim.transport`
hands it an azure-core client's requests in process. Which operation a request
is, and its api-version, `fleetsim.routes` decides; every refusal is built in
`fleetsim.errors`. A body over `MAX_BODY_BYTES` is refused (413) however it came.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from fleetsim import arm_json
from fleetsim.clock import Clock, ScaledClock
from fleetsim.errors import (
    ArmError,
    authentication_failed,
    body_too_large,
    injected_fault,
    internal_error,
    invalid_json,
    invalid_skip_token,
    throttled,
)
from fleetsim.faults import FaultConfig, FaultInjector
from fleetsim.fleet import parse_fleet
from fleetsim.oplog import OperationLog, iso, logged_body
from fleetsim.routes import (
    OPERATION_STATUS,
    UNROUTED,
    Routed,
    check_api_version,
    route,
)
from fleetsim.state import ASSESS, INSTALL, FleetState, Operation, VmRuntime
from fleetsim.throttling import (
    ARM_READS,
    ARM_WRITES,
    GUEST_PATCH_OPS,
    GUEST_PATCH_OPS_PER_VM,
    OPERATION_POLLING,
    BucketKey,
    Remaining,
    Throttler,
    remaining_headers,
)
from fleetsim.vm_ids import vm_id

# Bodies ARM accepts are far smaller; a larger one is refused unread (413).
MAX_BODY_BYTES = 1024 * 1024
# A $skiptoken is an offset into the list: digits only, and not absurdly many.
_MAX_SKIP_TOKEN_DIGITS = 12


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query, as on the request line
    headers: Mapping[str, str]  # lowercased names
    body: bytes


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or None for no body
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0

    @classmethod
    def of_error(cls, error: ArmError, *, delay_seconds: float = 0.0) -> Response:
        return cls(error.status, error.body(), dict(error.headers), delay_seconds)

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()

    def wire_headers(self, payload: bytes) -> dict[str, str]:
        """Every header the answer carries on the wire, with `payload` as its body."""
        headers = dict(self.headers)
        if payload:
            headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Content-Length"] = str(len(payload))
        return headers


def _is_true(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


@dataclass
class _Call:
    """One request: what it is, what the handlers need of it, what its log line says."""

    request: Request
    now: datetime
    op: str = UNROUTED
    args: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    routed: Routed | None = None
    vm: VmRuntime | None = None
    remaining: tuple[Remaining, ...] = ()
    # The log line's status when not Succeeded/Failed by the HTTP status: the
    # operation's status for a status poll, "Throttled" for a 429.
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more fields for the log line
    # An accepted assessPatches/installPatches: its line (with start, end and
    # result) is written when the operation ends, or at shutdown as InProgress.
    logged_when_done: bool = False

    @property
    def vm_id(self) -> str | None:
        if self.vm is not None:
            return self.vm.spec.id
        if "vm" in self.args:  # a VM the fleet does not have: the id asked for
            return vm_id(self.args["sub"], self.args["rg"], self.args["vm"])
        return None


class ArmApi:
    def __init__(self, state: FleetState, log: OperationLog, faults: FaultInjector) -> None:
        self.state = state
        self.log = log
        self.faults = faults
        self.throttler = Throttler(state.clock)
        self.base_url = ""  # set once the server knows its port
        self._handlers: dict[str, Callable[[_Call], Response]] = {
            "subscriptions.list": self._list_subscriptions,
            "subscriptions.listLocations": self._list_locations,
            "virtualMachines.listAll": self._list_vms,
            "virtualMachines.list": self._list_vms,
            "virtualMachines.get": self._get_vm,
            "virtualMachines.update": self._update_vm,
            "virtualMachines.instanceView": self._instance_view,
            ASSESS: self._assess,
            INSTALL: self._install,
            OPERATION_STATUS: self._operation_status,
        }

    # --- the pipeline ---------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request, and log it: every answer is one line of the log.

        A request counts in `state.requests` and gives exactly one line: at once,
        or for an accepted assessPatches/installPatches when the operation ends
        (or at shutdown), so once the simulator stopped the log has as many
        lines as it served requests. Nothing a client sends drops the
        connection: what the handlers did not expect is a logged 500.
        """
        self.state.count_request()
        call = _Call(request=request, now=self.state.clock.now())
        try:
            response = self._handle(call)
        except ArmError as error:
            response = Response.of_error(error)
        except Exception as exc:  # any bug is an answer, never a dropped connection
            response = Response.of_error(internal_error(exc))
            call.extra["exception"] = f"{type(exc).__name__}: {exc}"
        return self._answered(call, response)

    def refuse(self, request: Request, error: ArmError) -> Response:
        """Answer, count and log a request the HTTP layer refused before reading its body."""
        self.state.count_request()
        call = _Call(request=request, now=self.state.clock.now())
        self._route(call)
        return self._answered(call, Response.of_error(error))

    def _answered(self, call: _Call, response: Response) -> Response:
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        if not call.logged_when_done:
            self._log_answer(call, response)
        return response

    def _log_answer(self, call: _Call, response: Response) -> None:
        refused = response.status >= 400
        status = call.status or ("Failed" if refused else "Succeeded")
        entry: dict[str, Any] = {
            "op": call.op,
            "vm": call.vm_id,
            "start": iso(call.now),
            "end": iso(self.state.clock.now()),
            "status": status,
            "request": logged_body(call.request.body),
            "rebooted": False,
            "installedKbs": [],
            "httpStatus": response.status,
        }
        if call.op == UNROUTED:
            entry["method"] = call.request.method
            entry["path"] = urlsplit(call.request.target).path
        error = response.body.get("error") if isinstance(response.body, dict) else None
        if refused and isinstance(error, dict) and "code" in error:
            entry["error"] = error["code"]
        entry.update(call.extra)
        self.log.write(entry)

    def _route(self, call: _Call) -> ArmError | None:
        """Resolve the call's operation (for its log line); the routing error, if any."""
        split = urlsplit(call.request.target)
        call.query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            routed = route(call.request.method, unquote(split.path))
        except ArmError as error:
            return error
        call.routed = routed
        call.op, call.args = routed.op, routed.args
        return None

    def _handle(self, call: _Call) -> Response:
        request = call.request
        route_error = self._route(call)
        if len(request.body) > MAX_BODY_BYTES:
            raise body_too_large(len(request.body), MAX_BODY_BYTES)
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise authentication_failed()
        if route_error is not None:
            raise route_error
        assert call.routed is not None
        check_api_version(call.routed, call.query)
        fault = self.faults.draw()
        if fault.error_status is not None:
            return Response.of_error(
                injected_fault(fault.error_status), delay_seconds=fault.delay_seconds
            )
        self.state.settle(call.now)
        args = call.args
        if "sub" in args:
            self._require_subscription(args["sub"])
        if "vm" in args:
            call.vm = self.state.find_vm(args["sub"], args["rg"], args["vm"])
        elif "rg" in args:
            self.state.require_resource_group(args["sub"], args["rg"])
        refused = self._throttle(call)
        if refused is not None:
            return refused
        response = self._handlers[call.op](call)
        response.headers.update(remaining_headers(call.remaining))
        response.delay_seconds = fault.delay_seconds
        return response

    def _require_subscription(self, subscription_id: str) -> None:
        if subscription_id.lower() not in self.state.fleet.subscriptions:
            raise ArmError(
                404,
                "SubscriptionNotFound",
                f"The subscription '{subscription_id}' could not be found.",
            )

    def _throttle(self, call: _Call) -> Response | None:
        method = call.request.method
        sub = call.args.get("sub", "").lower()
        if call.op == OPERATION_STATUS:
            keys = [BucketKey(OPERATION_POLLING, sub)]
        elif call.op in (ASSESS, INSTALL):
            assert call.vm is not None
            # Per region and subscription, and per VM: what Compute enforces. POST
            # actions are left out of ARM's write bucket so that the documented
            # guest patch limits are the ones a burst meets.
            keys = [
                BucketKey(GUEST_PATCH_OPS, f"{sub}|{call.vm.spec.location}"),
                BucketKey(GUEST_PATCH_OPS_PER_VM, call.vm.spec.key),
            ]
        elif method == "GET":
            keys = [BucketKey(ARM_READS, sub or "tenant")]
        else:
            keys = [BucketKey(ARM_WRITES, sub)]
        decision = self.throttler.take(keys)
        call.remaining = decision.remaining
        if decision.allowed:
            return None
        self.state.count_throttled()
        call.status = "Throttled"
        call.extra["retryAfter"] = decision.retry_after_seconds
        error = throttled(
            call.op,
            decision.retry_after_seconds,
            remaining_headers(decision.remaining),
            arm_level=keys[0].policy in (ARM_READS, ARM_WRITES),
        )
        return Response.of_error(error)

    @staticmethod
    def _json_body(request: Request) -> Any:
        try:
            return json.loads(request.body) if request.body else None
        except ValueError as exc:
            raise invalid_json(str(exc)) from exc
        except RecursionError as exc:
            raise invalid_json("it is nested too deeply") from exc

    # --- reads ----------------------------------------------------------------

    def _list_subscriptions(self, call: _Call) -> Response:
        return Response(
            200,
            {
                "value": [
                    arm_json.subscription_json(s) for s in self.state.fleet.subscriptions.values()
                ]
            },
        )

    def _list_locations(self, call: _Call) -> Response:
        sub = self.state.fleet.subscriptions[call.args["sub"].lower()]
        pairs = arm_json.region_pairs(self.state.fleet)
        return Response(
            200,
            {
                "value": [
                    arm_json.location_json(sub.id, name, paired) for name, paired in pairs.items()
                ]
            },
        )

    def _list_vms(self, call: _Call) -> Response:
        vms = self.state.vms_in(call.args["sub"], call.args.get("rg"))
        token = call.query.get("$skiptoken", "0")
        if not (token.isascii() and token.isdecimal()) or len(token) > _MAX_SKIP_TOKEN_DIGITS:
            raise invalid_skip_token()
        offset = int(token)
        page_size = self.state.fleet.page_size
        with_view = (
            _is_true(call.query.get("statusOnly"))
            or call.query.get("$expand", "").lower() == "instanceview"
        )
        page = self.state.read(
            lambda: [
                arm_json.vm_json(vm, call.now, with_instance_view=with_view)
                for vm in vms[offset : offset + page_size]
            ]
        )
        body: dict[str, Any] = {"value": page}
        if offset + page_size < len(vms):
            query = {k: v for k, v in call.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(offset + page_size)
            path = urlsplit(call.request.target).path
            body["nextLink"] = f"{self.base_url}{path}?{urlencode(query)}"
        return Response(200, body)

    def _get_vm(self, call: _Call) -> Response:
        assert call.vm is not None
        with_view = call.query.get("$expand", "").lower() == "instanceview"
        vm = call.vm
        return Response(
            200,
            self.state.read(lambda: arm_json.vm_json(vm, call.now, with_instance_view=with_view)),
        )

    def _instance_view(self, call: _Call) -> Response:
        assert call.vm is not None
        vm = call.vm
        return Response(200, self.state.read(lambda: arm_json.instance_view_json(vm, call.now)))

    # --- writes ---------------------------------------------------------------

    def _update_vm(self, call: _Call) -> Response:
        assert call.vm is not None
        vm = call.vm
        self.state.update_vm(vm, self._json_body(call.request))
        return Response(
            200, self.state.read(lambda: arm_json.vm_json(vm, call.now, with_instance_view=False))
        )

    def _assess(self, call: _Call) -> Response:
        assert call.vm is not None
        operation = self.state.start_assessment(call.vm, call.now)
        return self._accepted(call, operation)

    def _install(self, call: _Call) -> Response:
        assert call.vm is not None
        operation = self.state.start_install(
            call.vm,
            self._json_body(call.request),
            call.now,
            logged_request=logged_body(call.request.body),
        )
        return self._accepted(call, operation)

    def _operation_url(self, call: _Call, operation: Operation, *, monitor: bool) -> str:
        spec = operation.vm.spec
        query = {"p": operation.activity_id, "api-version": call.query["api-version"]}
        if monitor:
            query["monitor"] = "true"
        return (
            f"{self.base_url}/subscriptions/{spec.subscription_id}/providers/Microsoft.Compute"
            f"/locations/{spec.location}/operations/{operation.id}?{urlencode(query)}"
        )

    def _accepted(self, call: _Call, operation: Operation) -> Response:
        # No Retry-After: the client's polling interval decides, which keeps a
        # virtual-clock run from sleeping in real time.
        call.logged_when_done = True
        return Response(
            202,
            None,
            {
                "Azure-AsyncOperation": self._operation_url(call, operation, monitor=False),
                "Location": self._operation_url(call, operation, monitor=True),
            },
        )

    # --- operation status -----------------------------------------------------

    def _operation_status(self, call: _Call) -> Response:
        operation = self.state.operation(call.args["op"])
        if (
            operation is None
            or operation.vm.spec.subscription_id.lower() != call.args["sub"].lower()
        ):
            raise ArmError(404, "NotFound", f"The operation '{call.args['op']}' was not found.")
        done = call.now >= operation.end
        result = self.state.read(lambda: arm_json.operation_output(operation, call.now))
        # The poll's log line: the operation it asked about, and its status.
        call.vm = operation.vm
        call.status = "Succeeded" if done else "InProgress"
        call.extra["operation"] = operation.kind
        call.extra["operationId"] = operation.id
        if _is_true(call.query.get("monitor")):
            if not done:
                return Response(
                    202, None, {"Location": self._operation_url(call, operation, monitor=True)}
                )
            return Response(200, result)
        status: dict[str, Any] = {
            "startTime": iso(operation.start),
            "status": "Succeeded" if done else "InProgress",
            "name": operation.id,
        }
        if done:
            status["endTime"] = iso(operation.end)
            status["properties"] = {"output": result}
        return Response(200, status)


def open_api(
    fleet: dict[str, Any],
    *,
    clock: Clock | None,
    log_path: Path | None,
    faults: FaultConfig | None,
) -> ArmApi:
    """The simulator for `fleet` (parsed fleet-file JSON), whatever carries its requests.

    Its log file is open until `api.state.finish()` and `api.log.close()`.
    Raises `fleetsim.FleetError` for a bad fleet.
    """
    spec = parse_fleet(fleet)
    clock = clock or ScaledClock(1.0)
    log = OperationLog(log_path)
    state = FleetState(spec, clock, log)
    return ArmApi(state, log, FaultInjector(faults or FaultConfig()))
