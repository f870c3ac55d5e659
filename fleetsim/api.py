"""The ARM operations: routing, authentication, faults, throttling and the answers.

Independent of HTTP transport: `ArmApi.handle` takes a parsed request and gives
a response; `fleetsim.server` puts it on a TLS socket.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from fleetsim import arm_json
from fleetsim.errors import ArmError
from fleetsim.faults import FaultInjector
from fleetsim.oplog import OperationLog, iso
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

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_VMS = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/virtualMachines"


def _route(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^{pattern}/?$", re.IGNORECASE)


_OPERATIONS = r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)"

# Each path, with the operation name (as logged) each HTTP method has on it.
_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (_route(r"/subscriptions"), {"GET": "subscriptions.list"}),
    (_route(_SUB + r"/locations"), {"GET": "subscriptions.listLocations"}),
    (
        _route(_SUB + r"/providers/Microsoft\.Compute/virtualMachines"),
        {"GET": "virtualMachines.listAll"},
    ),
    (_route(_SUB + _OPERATIONS), {"GET": "operations.get"}),
    (_route(_VMS), {"GET": "virtualMachines.list"}),
    (
        _route(_VMS + r"/(?P<vm>[^/]+)"),
        {"GET": "virtualMachines.get", "PATCH": "virtualMachines.update"},
    ),
    (_route(_VMS + r"/(?P<vm>[^/]+)/instanceView"), {"GET": "virtualMachines.instanceView"}),
    (_route(_VMS + r"/(?P<vm>[^/]+)/assessPatches"), {"POST": ASSESS}),
    (_route(_VMS + r"/(?P<vm>[^/]+)/installPatches"), {"POST": INSTALL}),
)


_CHALLENGE = (
    f'Bearer authorization_uri="https://login.microsoftonline.com/{arm_json.TENANT_ID}", '
    'error="invalid_token", error_description="The authentication failed because of '
    "missing 'Authorization' header.\""
)


def _is_true(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


UNROUTED = "unknown"  # the op logged for a request to a path the simulator does not serve


@dataclass
class _Call:
    """One request: what it is, what the handlers need of it, what its log line says."""

    request: Request
    now: datetime
    op: str = UNROUTED
    args: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
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
            return (
                f"/subscriptions/{self.args['sub']}/resourceGroups/{self.args['rg']}"
                f"/providers/Microsoft.Compute/virtualMachines/{self.args['vm']}"
            )
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
            "operations.get": self._operation_status,
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
        with self.state.lock:
            self.state.requests += 1
        call = _Call(request=request, now=self.state.clock.now())
        try:
            response = self._handle(call)
        except ArmError as error:
            response = Response(error.status, error.body())
        except Exception as exc:  # any bug is an answer, never a dropped connection
            response = Response(
                500,
                {
                    "error": {
                        "code": "InternalServerError",
                        "message": "The server encountered an internal error; "
                        f"please retry the request ({type(exc).__name__}).",
                    }
                },
            )
            call.extra["exception"] = f"{type(exc).__name__}: {exc}"
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
            "request": self._body_or_none(call.request),
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

    def _handle(self, call: _Call) -> Response:
        request = call.request
        split = urlsplit(request.target)
        path = unquote(split.path)
        call.query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            call.op, call.args = self._route(request.method, path)
        except ArmError as error:
            route_error: ArmError | None = error
        else:
            route_error = None
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            return Response(
                401,
                {
                    "error": {
                        "code": "AuthenticationFailed",
                        "message": "Authentication failed. The 'Authorization' header is missing.",
                    }
                },
                {"WWW-Authenticate": _CHALLENGE},
            )
        if route_error is not None:
            raise route_error
        if "api-version" not in call.query:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        fault = self.faults.draw()
        if fault.error_status is not None:
            code = "InternalServerError" if fault.error_status == 500 else "ServiceUnavailable"
            return Response(
                fault.error_status,
                {
                    "error": {
                        "code": code,
                        "message": "A transient error occurred (injected fault).",
                    }
                },
                delay_seconds=fault.delay_seconds,
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

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        for pattern, operations in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if method not in operations:
                raise ArmError(
                    405,
                    "MethodNotAllowed",
                    f"The HTTP method '{method}' is not supported for '{path}'.",
                )
            return operations[method], {k: v for k, v in match.groupdict().items() if v is not None}
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource type for '{path}' could not be found "
            "(the fleet simulator does not serve it).",
        )

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
        if call.op == "operations.get":
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
        with self.state.lock:
            self.state.throttled += 1
        arm_level = keys[0].policy in (ARM_READS, ARM_WRITES)
        call.status = "Throttled"
        call.extra["retryAfter"] = decision.retry_after_seconds
        headers = remaining_headers(decision.remaining)
        headers["Retry-After"] = str(decision.retry_after_seconds)
        return Response(
            429,
            {
                "error": {
                    "code": "SubscriptionRequestsThrottled" if arm_level else "TooManyRequests",
                    "message": "The request is being throttled as the limit has been reached for "
                    f"operation type '{call.op}'. Retry after {decision.retry_after_seconds} "
                    "seconds. For more information, see https://aka.ms/throttling.",
                }
            },
            headers,
        )

    @staticmethod
    def _body_or_none(request: Request) -> Any:
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except ValueError:
            return request.body.decode("utf-8", "replace")

    def _json_body(self, request: Request) -> Any:
        try:
            return json.loads(request.body) if request.body else None
        except ValueError as exc:
            raise ArmError(
                400, "InvalidRequestContent", f"The request content is not valid JSON: {exc}"
            ) from exc

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
        try:
            offset = int(call.query.get("$skiptoken", "0"))
        except ValueError as exc:
            raise ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid.") from exc
        page_size = self.state.fleet.page_size
        with_view = (
            _is_true(call.query.get("statusOnly"))
            or call.query.get("$expand", "").lower() == "instanceview"
        )
        with self.state.lock:
            page = [
                arm_json.vm_json(vm, call.now, with_instance_view=with_view)
                for vm in vms[offset : offset + page_size]
            ]
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
        with self.state.lock:
            body = arm_json.vm_json(call.vm, call.now, with_instance_view=with_view)
        return Response(200, body)

    def _instance_view(self, call: _Call) -> Response:
        assert call.vm is not None
        with self.state.lock:
            body = arm_json.instance_view_json(call.vm, call.now)
        return Response(200, body)

    # --- writes ---------------------------------------------------------------

    def _update_vm(self, call: _Call) -> Response:
        assert call.vm is not None
        self.state.update_vm(call.vm, self._json_body(call.request))
        with self.state.lock:
            answer = arm_json.vm_json(call.vm, call.now, with_instance_view=False)
        return Response(200, answer)

    def _assess(self, call: _Call) -> Response:
        assert call.vm is not None
        operation = self.state.start_assessment(call.vm, call.now)
        return self._accepted(call, operation)

    def _install(self, call: _Call) -> Response:
        assert call.vm is not None
        operation = self.state.start_install(call.vm, self._json_body(call.request), call.now)
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
        with self.state.lock:
            result = arm_json.operation_output(operation, call.now)
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
