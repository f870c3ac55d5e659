"""The Event Grid extension's webhook: `POST /runtime/webhooks/eventgrid?functionName=NAME`.

The `aeg-event-type` header says what a request is: `SubscriptionValidation`
answers the handshake with the code, `Notification` delivers the events (the
Event Grid schema as an array, CloudEvents 1.0 as one object or a batch
array), `Unsubscribe` is acknowledged. Each event is its own invocation,
given the object `azure.functions`' converter makes of it (`EventGridEvent`,
or `CloudEvent` for a CloudEvents payload); every event is delivered, and
any failure makes the answer 500 so that Event Grid redelivers. CloudEvents'
abuse-protection handshake is an `OPTIONS` request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from devhost.app_loader import FunctionSpec
from devhost.functions.bindings import EVENT_GRID_TRIGGER, Invoke
from devhost.functions.wire import HostRequest, HostResponse

log = logging.getLogger("devhost.eventgrid")

WEBHOOK_PATH = "/runtime/webhooks/eventgrid"


class EventDeliveryFailed(RuntimeError):
    """At least one event's invocation failed; the message lists them."""


class EventGridFunctions:
    def __init__(self, functions: tuple[FunctionSpec, ...], *, invoke: Invoke) -> None:
        self._functions = {
            spec.name.casefold(): spec
            for spec in functions
            if spec.trigger_type == EVENT_GRID_TRIGGER
        }
        self._invoke = invoke

    def function(self, name: str | None) -> FunctionSpec | None:
        """The Event Grid function of that name (any case); with None, the app's only one."""
        if name is None:
            return next(iter(self._functions.values())) if len(self._functions) == 1 else None
        return self._functions.get(name.casefold())

    def deliver(self, spec: FunctionSpec, events: Sequence[Mapping[str, Any]]) -> None:
        """Invoke `spec` once per event; EventDeliveryFailed after all ran if any failed.
        Every event is decoded first: a malformed envelope (a time that is not one) is the
        sender's error (MalformedEvent), refused before any function runs."""
        decoded = [_decoded(index, raw) for index, raw in enumerate(events)]
        failures: list[str] = []
        for index, (raw, event) in enumerate(zip(events, decoded, strict=True)):
            try:
                self._invoke(spec, event)
            except Exception as error:  # the function's failure, reported for the whole request
                log.exception("function %r failed on event %d", spec.name, index)
                failures.append(
                    f"event {index} ({raw.get('id')!r}): {type(error).__name__}: {error}"
                )
        if failures:
            raise EventDeliveryFailed(
                f"function {spec.name!r} failed on {len(failures)} of {len(events)} events: "
                + "; ".join(failures)
            )

    def handle(self, request: HostRequest) -> HostResponse:
        name = request.query.get("functionName")
        spec = self.function(name) if name else None
        if spec is None:
            return HostResponse.message(404, f"cannot find an Event Grid function {name!r}")
        if request.method.upper() == "OPTIONS":
            origin = request.headers.get("webhook-request-origin", "*")
            return HostResponse(200, (("WebHook-Allowed-Origin", origin),))
        if request.method.upper() != "POST":
            return HostResponse.message(405, "the Event Grid webhook takes POST (or OPTIONS)")
        kind = request.headers.get("aeg-event-type", "").casefold()
        if kind == "unsubscribe":
            return HostResponse(202)
        try:
            events = _events(request.body)
        except ValueError as error:
            return HostResponse.message(400, str(error))
        if kind == "subscriptionvalidation":
            data = events[0].get("data") if events else None
            code = data.get("validationCode") if isinstance(data, dict) else None
            if not isinstance(code, str):
                return HostResponse.message(400, "the validation event has no data.validationCode")
            return HostResponse.json(200, {"validationResponse": code})
        if kind == "notification":
            try:
                self.deliver(spec, events)
            except MalformedEvent as error:
                return HostResponse.message(400, str(error))
            except EventDeliveryFailed as failure:
                return HostResponse.message(500, str(failure))
            return HostResponse(202)
        return HostResponse.message(
            400, "header aeg-event-type must be SubscriptionValidation, Notification or Unsubscribe"
        )


class MalformedEvent(ValueError):
    """An event the trigger's converter cannot read: the delivery is refused whole."""


def _decoded(index: int, raw: Mapping[str, Any]) -> Any:
    try:
        return EventGridEventInConverter.decode(
            meta.Datum(value=json.dumps(raw), type="json"), trigger_metadata=None
        )
    except (ValueError, TypeError, KeyError) as error:
        raise MalformedEvent(
            f"event {index} ({raw.get('id')!r}) is not an Event Grid event: {error}"
        ) from error


def _events(body: bytes) -> list[Mapping[str, Any]]:
    try:
        content = json.loads(body)
    except ValueError as error:
        raise ValueError(f"the body is not JSON: {error}") from error
    events = content if isinstance(content, list) else [content]
    if not all(isinstance(event, dict) for event in events):
        raise ValueError("the body must be an event object or an array of event objects")
    return events
