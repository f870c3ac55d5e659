"""Release events delivered to `patchctl serve`'s Event Grid webhook
(`/runtime/webhooks/eventgrid?functionName=release_published`, docs/CONTRACTS.md section 6)
over HTTP, as Event Grid delivers them: in the Event Grid schema (an array, `eventType`,
`application/json`) and in CloudEvents 1.0 (structured mode: an object or a batch array
with `specversion` and `type`, `application/cloudevents+json` /
`application/cloudevents-batch+json`), each with `aeg-event-type: Notification`.

Each schema's release starts its month's `cycle_orchestrator`; a repeated delivery starts
nothing new; malformed deliveries are refused (not JSON: 400) or dropped (202: a release
that is not one, a wrong type) and start nothing, and none is ever a 5xx, which Event
Grid would redeliver. Hypothesis varies the release data in both schemas.

Each release is of its own future month (its cycle waits for its slots, so nothing it runs
meets the others); the clock runs at real time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patching.errors import BadInput
from patching.releases import parse_release
from tests.http.serve_support import ServedApi, served_api

RELEASE_TYPE = "Patching.ReleasePublished"
CLOUDEVENT = "application/cloudevents+json; charset=utf-8"
CLOUDEVENT_BATCH = "application/cloudevents-batch+json; charset=utf-8"
# The webhook answers once the function ran; a moment more for anything started meanwhile.
SETTLE_SECONDS = 0.1


@pytest.fixture(scope="module")
def api() -> Iterator[ServedApi]:
    with served_api() as running:
        yield running


def future_month(api: ServedApi, months: int) -> str:
    now = api.now()
    index = now.year * 12 + now.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def release_data(month: str, release_id: str, kind: str = "hotpatch") -> dict[str, Any]:
    return {
        "releaseId": release_id,
        "kind": kind,
        "releasedAt": f"{month}-12T18:00:00Z",
        "kbNumbers": ["5048654"],
        "classifications": ["Security"],
    }


def event_grid_event(data: Any, *, event_type: str = RELEASE_TYPE, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"eg-{json.dumps(data, sort_keys=True)[:40]}",
        "topic": "/subscriptions/00000001-0000-4000-8000-000000000001/resourceGroups/rg/"
        "providers/Microsoft.EventGrid/topics/releases",
        "subject": "releases",
        "eventType": event_type,
        "eventTime": "2026-12-01T18:00:00Z",
        "dataVersion": "1.0",
        "data": data,
        **extra,
    }


def cloud_event(
    data: Any, *, event_type: str | None = RELEASE_TYPE, **extra: Any
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"ce-{json.dumps(data, sort_keys=True)[:40]}",
        "source": "/patching/releases",
        "type": event_type,
        "time": "2026-12-01T18:00:00Z",
        "subject": "releases",
        "datacontenttype": "application/json",
        "data": data,
        **extra,
    }


def deliver(
    api: ServedApi,
    body: Any,
    *,
    content_type: str = "application/json",
    kind: str | None = "Notification",
    raw: bytes | None = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    sent = {"x-functions-key": api.key, "Content-Type": content_type, **(headers or {})}
    if kind is not None:
        sent["aeg-event-type"] = kind
    return api.session.request(
        method,
        api.served.event_grid_url,
        data=raw if raw is not None else json.dumps(body).encode(),
        headers=sent,
        timeout=30,
    )


def cycles(api: ServedApi) -> dict[str, dict[str, Any]]:
    return {i: s for i, s in api.instances().items() if s["name"] == "cycle_orchestrator"}


def eventually(check: Callable[[], Any], *, timeout: float = 10.0, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)
    return result


def started_cycle(api: ServedApi, month: str) -> dict[str, Any]:
    started: dict[str, Any] = eventually(
        lambda: api.instance(f"cycle-{month}"), what=f"the cycle of {month}"
    )
    return started


def assert_starts_nothing(api: ServedApi, answer: requests.Response, before: set[str]) -> None:
    assert answer.status_code < 500, answer.text
    time.sleep(SETTLE_SECONDS)
    assert set(cycles(api)) == before


# ----- each schema starts the cycle, once ----------------------------------------------


def test_an_event_grid_schema_release_starts_its_cycle_and_a_repeat_starts_nothing(
    api: ServedApi,
) -> None:
    month = future_month(api, 1)
    events = [event_grid_event(release_data(month, f"{month}-EG"))]

    answer = deliver(api, events)
    started = started_cycle(api, month)
    again = deliver(api, events)
    time.sleep(SETTLE_SECONDS)

    assert answer.status_code == 202, answer.text
    assert started["name"] == "cycle_orchestrator"
    assert started["input"]["releaseId"] == f"{month}-EG"
    assert started["input"]["kind"] == "hotpatch"
    assert started["input"]["releasedAt"] == f"{month}-12T18:00:00Z"
    assert started["runtimeStatus"] in {"Pending", "Running"}, started
    assert again.status_code == 202, again.text
    repeated = api.instance(f"cycle-{month}")
    assert repeated is not None and repeated["createdTime"] == started["createdTime"]
    assert [i for i in cycles(api) if i.startswith(f"cycle-{month}")] == [f"cycle-{month}"]


def test_a_cloudevents_release_starts_its_cycle_and_a_repeat_starts_nothing(
    api: ServedApi,
) -> None:
    month = future_month(api, 2)
    event = cloud_event(release_data(month, f"{month}-CE", kind="plannedBaseline"))

    answer = deliver(api, event, content_type=CLOUDEVENT)
    started = started_cycle(api, month)
    again = deliver(api, event, content_type=CLOUDEVENT)
    time.sleep(SETTLE_SECONDS)

    assert answer.status_code == 202, answer.text
    assert started["input"]["releaseId"] == f"{month}-CE"
    assert started["input"]["kind"] == "plannedBaseline"
    assert started["runtimeStatus"] in {"Pending", "Running"}, started
    assert again.status_code == 202, again.text
    repeated = api.instance(f"cycle-{month}")
    assert repeated is not None and repeated["createdTime"] == started["createdTime"]
    assert [i for i in cycles(api) if i.startswith(f"cycle-{month}")] == [f"cycle-{month}"]


def test_a_cloudevents_batch_starts_each_release_and_drops_the_malformed_one(
    api: ServedApi,
) -> None:
    first, second = future_month(api, 3), future_month(api, 4)
    batch = [
        cloud_event(release_data(first, f"{first}-B1")),
        cloud_event({"releaseId": "half-a-release"}),
        cloud_event(release_data(second, f"{second}-B2")),
    ]

    answer = deliver(api, batch, content_type=CLOUDEVENT_BATCH)

    assert answer.status_code == 202, answer.text
    assert started_cycle(api, first)["input"]["releaseId"] == f"{first}-B1"
    assert started_cycle(api, second)["input"]["releaseId"] == f"{second}-B2"


def test_the_cloudevents_abuse_protection_handshake_is_answered(api: ServedApi) -> None:
    answer = api.session.options(
        api.served.event_grid_url,
        headers={"x-functions-key": api.key, "WebHook-Request-Origin": "eventgrid.azure.net"},
        timeout=30,
    )

    assert answer.status_code == 200
    assert answer.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


# ----- malformed deliveries: refused or dropped, never a 5xx, nothing started -------------


def _malformed(month: str) -> list[tuple[str, Any, str]]:
    good = release_data(month, f"{month}-bad")
    missing_kind = {k: v for k, v in good.items() if k != "kind"}
    return [
        ("eg-missing-data", [event_grid_event(None)], "application/json"),
        ("eg-missing-kind", [event_grid_event(missing_kind)], "application/json"),
        ("eg-unknown-kind", [event_grid_event({**good, "kind": "monthly"})], "application/json"),
        ("eg-wrong-type", [event_grid_event(good, event_type="Other.Thing")], "application/json"),
        ("eg-data-a-string", [event_grid_event(json.dumps(good))], "application/json"),
        ("eg-bad-kb", [event_grid_event({**good, "kbNumbers": ["KB1"]})], "application/json"),
        ("ce-missing-data", cloud_event(None), CLOUDEVENT),
        ("ce-missing-released-at", cloud_event({**good, "releasedAt": None}), CLOUDEVENT),
        ("ce-unknown-kind", cloud_event({**good, "kind": "monthly"}), CLOUDEVENT),
        ("ce-wrong-type", cloud_event(good, event_type="Other.Thing"), CLOUDEVENT),
        ("ce-event-grid-type-field", cloud_event(good, event_type=None), CLOUDEVENT),
        ("ce-base64-data", {**cloud_event(None), "data_base64": "e30="}, CLOUDEVENT),
    ]


MALFORMED_NAMES = [name for name, _, _ in _malformed("2026-01")]


@pytest.mark.parametrize("name", MALFORMED_NAMES)
def test_a_malformed_event_is_dropped_with_success_and_starts_nothing(
    api: ServedApi, name: str
) -> None:
    month = future_month(api, 6)
    body, content_type = next((b, c) for n, b, c in _malformed(month) if n == name)
    before = set(cycles(api))

    answer = deliver(api, body, content_type=content_type)

    # Success, so Event Grid does not redeliver it: the trigger logged and dropped it.
    assert answer.status_code == 202, answer.text
    assert_starts_nothing(api, answer, before)


@pytest.mark.parametrize(
    ("raw", "content_type", "kind"),
    [
        (b"{not json", "application/json", "Notification"),
        (b"", CLOUDEVENT, "Notification"),
        (b'["not an event"]', "application/json", "Notification"),
        (b"42", CLOUDEVENT, "Notification"),
        (None, "application/json", None),  # no aeg-event-type: not a delivery
        (None, "application/json", "Telegram"),
    ],
    ids=["not-json", "empty", "not-an-object", "a-number", "no-event-kind", "unknown-kind"],
)
def test_a_delivery_that_is_not_one_is_refused_with_400_and_starts_nothing(
    api: ServedApi, raw: bytes | None, content_type: str, kind: str | None
) -> None:
    month = future_month(api, 7)
    good = [event_grid_event(release_data(month, f"{month}-refused"))]
    before = set(cycles(api))

    answer = deliver(api, good, raw=raw, content_type=content_type, kind=kind)

    assert answer.status_code == 400, answer.text
    assert_starts_nothing(api, answer, before)
    assert api.instance(f"cycle-{month}") is None


def test_a_delivery_without_the_key_is_refused_and_starts_nothing(api: ServedApi) -> None:
    month = future_month(api, 8)
    event = cloud_event(release_data(month, f"{month}-nokey"))
    before = set(cycles(api))

    answer = api.session.post(
        api.served.event_grid_url,
        data=json.dumps(event),
        headers={"Content-Type": CLOUDEVENT, "aeg-event-type": "Notification"},
        timeout=30,
    )

    assert answer.status_code == 401
    assert_starts_nothing(api, answer, before)


# ----- fuzzing the release data in both schemas --------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@st.composite
def near_releases(draw: st.DrawFn) -> Any:
    """A release of a far month with one field changed or dropped, or anything at all."""
    if draw(st.booleans()):
        return draw(json_values)
    data: dict[str, Any] = release_data("2099-01", "fuzzed")
    name = draw(st.sampled_from([*data, "extra"]))
    if draw(st.booleans()) and name in data:
        del data[name]
    else:
        data[name] = draw(
            json_values
            | st.sampled_from(
                ["hotpatch", "unplannedBaseline", "2099-02-10T18:00:00Z", "2099-13-01", ""]
            )
        )
    return data


def _is_release(data: Any) -> bool:
    try:
        parse_release(data)
    except (BadInput, ValueError):
        return False
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=near_releases(), cloudevents=st.booleans())
def test_no_release_data_in_either_schema_gets_a_server_error(
    api: ServedApi, data: Any, cloudevents: bool
) -> None:
    before = set(cycles(api))
    if cloudevents:
        answer = deliver(api, cloud_event(data), content_type=CLOUDEVENT)
    else:
        answer = deliver(api, [event_grid_event(data)])

    assert answer.status_code == 202, answer.text
    if not _is_release(data):
        assert set(cycles(api)) == before


@pytest.mark.parametrize(
    "body",
    [
        [event_grid_event(release_data("2099-03", "bad-time"), eventTime="yesterday")],
        cloud_event(release_data("2099-03", "bad-time"), time=5),
    ],
    ids=["event-grid-time", "cloudevents-time"],
)
def test_an_envelope_timestamp_that_is_not_one_is_refused_not_a_server_error(
    api: ServedApi, body: Any
) -> None:
    before = set(cycles(api))

    answer = deliver(
        api, body, content_type=CLOUDEVENT if isinstance(body, dict) else "application/json"
    )

    assert answer.status_code < 500, answer.text
    assert_starts_nothing(api, answer, before)
