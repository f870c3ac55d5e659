"""The Durable extension's HTTP side: the client binding, its webhooks and its RPC endpoint.

Two entrances lead to the same handlers:
- `/runtime/webhooks/durabletask/...`, the public management API, which needs
  the function key (the links handed out carry it as `code=`);
- `/runtime/rpc/durabletask/...`, the `rpcBaseUrl` the SDK's `DurableOrchestrationClient`
  calls. The extension serves it on a loopback-only listener without keys;
  here it shares the host's loopback port. The SDK posts inputs and event
  data as JSON of text that is already JSON, so a body there is decoded twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from devhost.durable import (
    DurableEngine,
    InstanceExists,
    InstanceFinished,
    InstanceRunning,
    UnknownInstance,
    UnknownOrchestrator,
)
from devhost.functions.wire import HostRequest, HostResponse

WEBHOOK_PREFIX = "/runtime/webhooks/durabletask"
# Under `runtime/`, which app routes cannot use.
RPC_PREFIX = "/runtime/rpc/durabletask"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
# The SDK's own `create_check_status_response` says the same.
RETRY_AFTER_SECONDS = "10"
_STILL_RUNNING = frozenset({"Pending", "Running", "ContinuedAsNew"})
_NOT_SUPPORTED = frozenset({"rewind", "suspend", "resume", "restart"})


class _BadBody(ValueError):
    pass


class DurableHttpApi:
    def __init__(self, engine: DurableEngine, *, function_key: str) -> None:
        self._engine = engine
        self._function_key = function_key

    # ----- what the host hands out -----

    def client_binding(self, origin: str) -> str:
        """The JSON the extension gives a `durableClient` binding."""
        base = f"{origin}{WEBHOOK_PREFIX}"
        return json.dumps(
            {
                "taskHubName": self._engine.task_hub,
                "creationUrls": {
                    "createNewInstancePostUri": (
                        f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
                        f"?code={self._function_key}"
                    ),
                },
                "managementUrls": self.management_urls(origin, INSTANCE_ID_PLACEHOLDER),
                "baseUrl": base,
                "requiredQueryStringParameters": self._required_query,
                "rpcBaseUrl": f"{origin}{RPC_PREFIX}/",
                "httpBaseUrl": "",
            }
        )

    def management_urls(self, origin: str, instance_id: str) -> dict[str, str]:
        instance = f"{origin}{WEBHOOK_PREFIX}/instances/{instance_id}"
        query = self._required_query
        return {
            "id": instance_id,
            "purgeHistoryDeleteUri": f"{instance}?{query}",
            "restartPostUri": f"{instance}/restart?{query}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
            "statusQueryGetUri": f"{instance}?{query}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
        }

    @property
    def _required_query(self) -> str:
        return f"taskHub={self._engine.task_hub}&connection=Storage&code={self._function_key}"

    # ----- requests -----

    def handle(self, request: HostRequest, rest: Sequence[str], *, rpc: bool) -> HostResponse:
        """Answer a request whose path below the prefix is `rest` (percent-encoded segments)."""
        parts = [unquote(part) for part in rest]
        method = request.method.upper()
        try:
            if method == "POST" and len(parts) in (2, 3) and parts[0] == "orchestrators":
                return self._start(request, parts[1], parts[2] if len(parts) == 3 else None, rpc)
            if parts[:1] == ["instances"]:
                return self._instances(request, method, parts[1:], rpc)
        except _BadBody as refusal:
            return HostResponse.message(400, str(refusal))
        except UnknownInstance as error:
            return HostResponse.message(404, str(error))
        except InstanceFinished as error:
            return HostResponse.message(410, str(error))
        except InstanceRunning as error:
            return HostResponse.message(412, str(error))
        return HostResponse.message(404, f"no Durable API operation {method} {request.path}")

    def _instances(
        self, request: HostRequest, method: str, parts: Sequence[str], rpc: bool
    ) -> HostResponse:
        if not parts and method == "GET":
            return self._list(request)
        if len(parts) == 1 and method == "GET":
            return self._status(request, parts[0])
        if len(parts) == 1 and method == "DELETE":
            self._engine.purge(parts[0])
            return HostResponse.json(200, {"instancesDeleted": 1})
        if len(parts) == 3 and method == "POST" and parts[1] == "raiseEvent":
            data = _decoded_body(request.body, rpc=rpc)
            self._engine.raise_event(parts[0], parts[2], data)
            return HostResponse(202)
        if len(parts) == 2 and method == "POST" and parts[1] == "terminate":
            self._engine.terminate(parts[0], request.query.get("reason"))
            return HostResponse(202)
        if len(parts) == 2 and method == "POST" and parts[1] in _NOT_SUPPORTED:
            return HostResponse.message(501, f"the local host does not support {parts[1]}")
        return HostResponse.message(404, f"no Durable API operation {method} {request.path}")

    def _start(
        self, request: HostRequest, name: str, instance_id: str | None, rpc: bool
    ) -> HostResponse:
        client_input = _decoded_body(request.body, rpc=rpc)
        try:
            started = self._engine.start_new(name, instance_id, client_input)
        except (UnknownOrchestrator, ValueError) as error:
            return HostResponse.json(400, {"Message": str(error), "ExceptionMessage": str(error)})
        except InstanceExists as error:
            return HostResponse.message(409, str(error))
        links = self.management_urls(request.origin, quote(started, safe=""))
        links["id"] = started
        return HostResponse.json(
            202,
            links,
            {"Location": links["statusQueryGetUri"], "Retry-After": RETRY_AFTER_SECONDS},
        )

    def _status(self, request: HostRequest, instance_id: str) -> HostResponse:
        query = request.query
        status = self._engine.status(
            instance_id,
            show_history=_flag(query, "showHistory", default=False),
            show_history_output=_flag(query, "showHistoryOutput", default=False),
            show_input=_flag(query, "showInput", default=True),
        )
        if status is None:
            return HostResponse.message(404, f"no orchestration instance {instance_id!r}")
        if status["runtimeStatus"] in _STILL_RUNNING:
            location = self.management_urls(request.origin, quote(instance_id, safe=""))
            return HostResponse.json(
                202,
                status,
                {"Location": location["statusQueryGetUri"], "Retry-After": RETRY_AFTER_SECONDS},
            )
        return HostResponse.json(200, status)

    def _list(self, request: HostRequest) -> HostResponse:
        query = request.query
        try:
            keep = _status_filter(query)
        except ValueError as error:
            return HostResponse.message(400, str(error))
        shown = []
        for status in self._engine.statuses():
            if keep(status):
                if not _flag(query, "showInput", default=True):
                    status = {**status, "input": None}
                shown.append(status)
        return HostResponse.json(200, shown)


def _decoded_body(body: bytes, *, rpc: bool) -> Any:
    if not body.strip():
        return None
    try:
        value = json.loads(body)
        if rpc and isinstance(value, str):
            value = json.loads(value)
    except ValueError as error:
        raise _BadBody("Only application/json request content is supported") from error
    return value


def _flag(query: dict[str, str], name: str, *, default: bool) -> bool:
    text = query.get(name)
    return default if text is None else text.strip().casefold() == "true"


def _status_filter(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The `GET instances` filters the SDK's `get_status_by` sends."""
    wanted = {part.strip().casefold() for part in query.get("runtimeStatus", "").split(",")}
    wanted.discard("")
    prefix = query.get("instanceIdPrefix", "")
    created_from = _query_time(query, "createdTimeFrom")
    created_to = _query_time(query, "createdTimeTo")

    def keep(status: dict[str, Any]) -> bool:
        created = _utc(datetime.fromisoformat(str(status["createdTime"]).replace("Z", "+00:00")))
        return (
            (not wanted or str(status["runtimeStatus"]).casefold() in wanted)
            and str(status["instanceId"]).startswith(prefix)
            and (created_from is None or created >= created_from)
            and (created_to is None or created <= created_to)
        )

    return keep


def _query_time(query: dict[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return _utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError as error:
        raise ValueError(f"{name} must be an ISO 8601 time, got {text!r}") from error


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
