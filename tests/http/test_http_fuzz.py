"""Hypothesis against `patchctl serve` (`serving`: the app on the local host, the fleet
simulator over HTTPS, Azurite), over HTTP with its function key: any body, any query, any path segment, and bodies
one field away from a valid one. No answer is a 5xx; every refusal has the error body and
names a field; a refused request starts nothing, and an accepted installation is one the
orchestration's own check accepts too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrators.assessment_payloads import parse_ondemand_install
from tests.http.serve_support import (
    FOREIGN_SUB,
    ServedApi,
    fleet_vms,
    foreign_vm_id,
    serve_fleet,
    served_api,
)

FLEET = serve_fleet()
VMS = fleet_vms(FLEET)
MANAGED = tuple(sorted(s["id"] for s in FLEET["subscriptions"]))
SUB = MANAGED[0]
KNOWN = VMS[0].id
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(
    [
        KNOWN,
        VMS[1].id,
        KNOWN.replace("vm-", "gone-"),
        foreign_vm_id(),
        f"/subscriptions/{FOREIGN_SUB}",
        SUB,
        "",
        "/subscriptions/",
    ]
) | st.text(max_size=40)
valid_install = {
    "vms": [KNOWN],
    "classifications": ["Critical"],
    "kbNumbersToInclude": ["5048654"],
    "kbNumbersToExclude": [],
    "rebootSetting": "Never",
    "maximumDuration": "PT1H",
}
field_values = (
    json_values
    | st.lists(ids, max_size=3)
    | st.sampled_from(
        [
            "PT30M",
            "PT4H",
            "PT4H1M",
            "PT29M",
            "PT0H30M",
            "P1D",
            "PT",
            "Critical",
            "Urgent",
            "KB1",
            "5048654",
        ]
    )
)


@st.composite
def near_installs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid installation with one field changed, dropped, or added."""
    body: dict[str, Any] = dict(valid_install)
    name = draw(st.sampled_from([*body, "extra"]))
    if draw(st.booleans()) and name in body:
        del body[name]
    else:
        body[name] = draw(field_values)
    return body


@pytest.fixture(scope="module")
def api() -> Iterator[ServedApi]:
    with served_api(FLEET) as running:
        running.discover_all()
        yield running


def checked(api: ServedApi, answer: Any, before: set[str]) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400 and answer.status_code != 401:
        error = answer.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if answer.status_code != 202:
        assert api.requested_instances() == before


@FUZZ
@given(body=json_values | near_installs() | st.binary(max_size=40))
def test_no_installation_body_gets_a_server_error(api: ServedApi, body: Any) -> None:
    before = api.requested_instances()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = api.call("POST", "/installations", data=raw)

    checked(api, answer, before)
    if answer.status_code == 202:
        parse_ondemand_install(body, MANAGED)  # the orchestration will accept it too
    elif answer.status_code == 400:
        assert answer.json()["error"]["field"]


@FUZZ
@given(
    body=json_values
    | st.fixed_dictionaries({"scope": st.lists(ids, max_size=3)})
    | st.binary(max_size=40)
)
def test_no_assessment_or_resume_body_gets_a_server_error(api: ServedApi, body: Any) -> None:
    before = api.requested_instances()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    checked(api, api.call("POST", "/assessments", data=raw), before)
    before = api.requested_instances()
    checked(api, api.call("POST", "/cycles/2026-03/resume", data=raw), before)


@FUZZ
@given(
    vm=ids,
    days=st.text(max_size=4) | st.integers(-5, 40).map(str),
    subscription=st.text(max_size=40) | st.just(SUB),
    cycle=st.text(max_size=12)
    | st.sampled_from(["2026-03", "1999-12", "3000-01", "2026-00", "2026-03-baseline"]),
)
def test_no_query_gets_a_server_error(
    api: ServedApi, vm: str, days: str, subscription: str, cycle: str
) -> None:
    before = api.requested_instances()
    for path, params in (
        ("/history", {"vm": vm, "days": days}),
        ("/compliance", {"subscription": subscription}),
        ("/plan", {"cycle": cycle}),
    ):
        checked(api, api.call("GET", path, params=params), before)


@FUZZ
@given(segments=st.lists(st.text(min_size=1, max_size=12) | st.just(SUB), min_size=3, max_size=3))
def test_no_vm_path_or_cycle_path_gets_a_server_error(api: ServedApi, segments: list[str]) -> None:
    before = api.requested_instances()
    path = "/".join(quote(segment, safe="") for segment in segments)
    checked(api, api.call("GET", f"/vms/{path}"), before)
    checked(
        api,
        api.call(
            "POST", f"/cycles/{quote(segments[0], safe='')}/resume", json_body={"reason": "r"}
        ),
        before,
    )
