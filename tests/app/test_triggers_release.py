"""`release_published` through the host's Event Grid webhook: both schemas, repeated and
malformed deliveries, and the unplanned baseline that replaces the hotpatch cycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.app.assessment_support import Rig, one_lane_fleet, rig
from tests.devhost.host_apps.http_client import Answer, call

START = datetime(2026, 12, 8, 17, 30, tzinfo=UTC)
HOTPATCH = {
    "releaseId": "2026-12-B",
    "kind": "hotpatch",
    "releasedAt": "2026-12-08T18:00:00Z",
    "kbNumbers": ["5048654"],
    "classifications": ["Security"],
}
BASELINE = {
    **HOTPATCH,
    "releaseId": "2026-12-OOB",
    "kind": "unplannedBaseline",
    "releasedAt": "2026-12-15T18:00:00Z",
}


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Rig]:
    with rig(one_lane_fleet(2), START, tmp_path) as running:
        yield running


def grid_event(
    event_id: str, data: Any, event_type: str = "Patching.ReleasePublished"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "topic": "/subscriptions/s/resourceGroups/r/providers/Microsoft.EventGrid/topics/t",
        "subject": "releases",
        "eventType": event_type,
        "eventTime": "2026-12-08T18:00:00Z",
        "data": data,
        "dataVersion": "1.0",
    }


def cloud_event(
    event_id: str, data: Any, event_type: str = "Patching.ReleasePublished"
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/patching/releases",
        "type": event_type,
        "time": "2026-12-08T18:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def post(run: Rig, body: Any) -> Answer:
    url = (
        f"{run.host.base_url}/runtime/webhooks/eventgrid?functionName=release_published"
        f"&code={run.host.function_key}"
    )
    return call("POST", url, body, headers={"aeg-event-type": "Notification"})


def cycles(run: Rig) -> dict[str, dict[str, Any]]:
    return {
        status["instanceId"]: status
        for status in run.host.engine.statuses()
        if status["name"] == "cycle_orchestrator"
    }


def test_a_release_in_either_schema_starts_its_cycle_once(run: Rig) -> None:
    first = post(run, [grid_event("e1", HOTPATCH)])
    run.host.run_until(START + timedelta(minutes=5))
    again = post(run, cloud_event("e2", HOTPATCH))
    run.host.deliver_event_grid([grid_event("e3", HOTPATCH)])
    run.host.run_until(START + timedelta(minutes=10))

    assert (first.status, again.status) == (202, 202)
    started = cycles(run)
    assert list(started) == ["cycle-2026-12"]
    assert started["cycle-2026-12"]["runtimeStatus"] == "Running"
    assert started["cycle-2026-12"]["input"] == {
        "releaseId": "2026-12-B",
        "kind": "hotpatch",
        "releasedAt": "2026-12-08T18:00:00Z",
        "replaces": None,
    }


def test_a_cloud_event_alone_starts_the_cycle(run: Rig) -> None:
    assert post(run, cloud_event("c1", HOTPATCH)).status == 202
    run.host.run_until(START + timedelta(minutes=1))

    assert list(cycles(run)) == ["cycle-2026-12"]


@pytest.mark.parametrize(
    "event",
    [
        grid_event("wrong-type", HOTPATCH, event_type="Patching.SomethingElse"),
        cloud_event("wrong-type-ce", HOTPATCH, event_type="Microsoft.Storage.BlobCreated"),
        grid_event("no-id", {k: v for k, v in HOTPATCH.items() if k != "releaseId"}),
        grid_event("bad-kind", {**HOTPATCH, "kind": "monthly"}),
        cloud_event("bad-time", {**HOTPATCH, "releasedAt": "next tuesday"}),
        grid_event("not-an-object", ["2026-12-B"]),
        cloud_event("no-data", None),
    ],
    ids=lambda event: event["id"],
)
def test_a_malformed_event_is_dropped_and_the_delivery_succeeds(
    run: Rig, event: dict[str, Any]
) -> None:
    answer = post(run, [event] if "eventType" in event else event)
    run.host.run_until(START + timedelta(minutes=1))

    assert answer.status == 202
    assert cycles(run) == {}


def test_an_unplanned_baseline_replaces_the_months_hotpatch_cycle(run: Rig) -> None:
    post(run, [grid_event("h", HOTPATCH)])
    run.host.run_until(START + timedelta(days=1))
    post(run, [grid_event("b", BASELINE)])
    run.host.run_until(START + timedelta(days=1, minutes=5))
    post(run, [grid_event("b-again", BASELINE), grid_event("h-late", HOTPATCH)])
    run.host.run_until(START + timedelta(days=1, minutes=10))

    started = cycles(run)
    assert sorted(started) == ["cycle-2026-12", "cycle-2026-12-baseline"]
    assert started["cycle-2026-12"]["runtimeStatus"] == "Terminated"
    assert started["cycle-2026-12-baseline"]["runtimeStatus"] == "Running"
    assert started["cycle-2026-12-baseline"]["input"] == {
        "releaseId": "2026-12-OOB",
        "kind": "unplannedBaseline",
        "releasedAt": "2026-12-15T18:00:00Z",
        "replaces": "cycle-2026-12",
    }
