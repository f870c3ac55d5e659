"""The Event Grid webhook: handshakes, both schemas, one invocation per event, failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devhost.app_loader import loaded
from devhost.functions.eventgrid import EventDeliveryFailed
from devhost.host import LocalHost
from fleetsim.clock import VirtualClock
from tests.devhost.host_apps import events
from tests.devhost.host_apps.http_client import Answer, call


@pytest.fixture(scope="module")
def host() -> Iterator[LocalHost]:
    with LocalHost(
        loaded(events.app), clock=VirtualClock(datetime(2026, 12, 1, tzinfo=UTC))
    ) as host:
        yield host


@pytest.fixture(autouse=True)
def _fresh_record() -> None:
    events.received.clear()


def grid_event(event_id: str, data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "topic": "/subscriptions/s/resourceGroups/r/providers/Microsoft.EventGrid/topics/t",
        "subject": "releases",
        "eventType": "Patching.ReleasePublished",
        "eventTime": "2026-12-08T18:00:00Z",
        "data": data,
        "dataVersion": "1.0",
    }


def cloud_event(event_id: str, data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/patching/releases",
        "type": "Patching.ReleasePublished",
        "time": "2026-12-08T18:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def post(
    host: LocalHost, body: Any, kind: str = "Notification", name: str = "on_release"
) -> Answer:
    url = f"{host.base_url}/runtime/webhooks/eventgrid?functionName={name}&code={host.function_key}"
    return call("POST", url, body, headers={"aeg-event-type": kind})


def test_the_subscription_validation_handshake_answers_the_code(host: LocalHost) -> None:
    validation = grid_event("v1", {"validationCode": "512d38b6", "validationUrl": "https://x"})
    validation["eventType"] = "Microsoft.EventGrid.SubscriptionValidationEvent"

    answer = post(host, [validation], kind="SubscriptionValidation")

    assert (answer.status, answer.json()) == (200, {"validationResponse": "512d38b6"})
    assert events.received == []


def test_each_event_of_an_event_grid_array_is_one_invocation(host: LocalHost) -> None:
    answer = post(host, [grid_event("a", {"releaseId": "2026-12-B"}), grid_event("b", [1, 2])])

    assert (answer.status, answer.body) == (202, b"")
    assert events.received == [
        {
            "kind": "EventGridEvent",
            "id": "a",
            "type": "Patching.ReleasePublished",
            "data": {"releaseId": "2026-12-B"},
        },
        {"kind": "EventGridEvent", "id": "b", "type": "Patching.ReleasePublished", "data": [1, 2]},
    ]


def test_cloud_events_arrive_as_the_library_maps_them(host: LocalHost) -> None:
    single = post(host, cloud_event("c1", {"kind": "hotpatch"}))
    batch = post(host, [cloud_event("c2", {}), cloud_event("c3", None)])

    assert (single.status, batch.status) == (202, 202)
    assert [(seen["kind"], seen["id"], seen["type"]) for seen in events.received] == [
        ("CloudEvent", "c1", "Patching.ReleasePublished"),
        ("CloudEvent", "c2", "Patching.ReleasePublished"),
        ("CloudEvent", "c3", "Patching.ReleasePublished"),
    ]
    assert events.received[0]["data"] == {"kind": "hotpatch"}


def test_the_cloud_events_abuse_protection_handshake(host: LocalHost) -> None:
    url = f"{host.base_url}/runtime/webhooks/eventgrid?functionName=on_release&code={host.function_key}"
    answer = call("OPTIONS", url, headers={"WebHook-Request-Origin": "eventemitter.example.com"})

    assert answer.status == 200
    assert answer.headers["webhook-allowed-origin"] == "eventemitter.example.com"


def test_a_failing_event_makes_the_request_500_after_every_event_ran(host: LocalHost) -> None:
    answer = post(
        host, [grid_event("ok1", {}), grid_event("bad", {"fail": True}), grid_event("ok2", {})]
    )

    assert answer.status == 500
    assert "'bad'" in answer.json()["Message"]
    assert [seen["id"] for seen in events.received] == ["ok1", "bad", "ok2"]


def test_unknown_function_missing_key_and_unknown_event_type_are_refused(host: LocalHost) -> None:
    without_key = f"{host.base_url}/runtime/webhooks/eventgrid?functionName=on_release"

    assert post(host, [grid_event("x", {})], name="nothing").status == 404
    assert call("POST", without_key, [], headers={"aeg-event-type": "Notification"}).status == 401
    assert post(host, [grid_event("x", {})], kind="Surprise").status == 400
    assert post(host, "not an event").status == 400
    assert events.received == []


def test_in_process_delivery_matches_the_webhook(host: LocalHost) -> None:
    host.deliver_event_grid([grid_event("p1", {"n": 1}), cloud_event("p2", {"n": 2})])
    with pytest.raises(EventDeliveryFailed, match="'p3'"):
        host.deliver_event_grid([grid_event("p3", {"fail": True})], function_name="ON_RELEASE")

    assert [(seen["kind"], seen["id"]) for seen in events.received] == [
        ("EventGridEvent", "p1"),
        ("CloudEvent", "p2"),
        ("EventGridEvent", "p3"),
    ]
