"""Bad requests ARM refuses with 400/405/413 in its JSON shape, never a 500."""

from __future__ import annotations

import json

import pytest
from azure.core.rest import HttpRequest
from fleetsim_helpers import (
    API,
    SUB_A,
    SUBSCRIPTIONS_API,
    fleet_of,
    raw_session,
    vm_id,
    vm_url,
    windows_vm,
)

from fleetsim.oplog import LOGGED_BODY_LIMIT
from fleetsim.routes import COMPUTE_API_VERSIONS, RESOURCES_API_VERSIONS

NESTED = "[" * 100_000 + "]" * 100_000


def _error(answer) -> dict:
    body = answer.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    return body["error"]


def _send_raw(sim, method: str, url: str, body: bytes):
    headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
    return sim.transport.send(HttpRequest(method, url, headers=headers, content=body))


@pytest.mark.parametrize("action", ["", "/installPatches"])
def test_deeply_nested_json_is_400_and_logged_as_text(simulate, tmp_path, action):
    log = tmp_path / "operations.jsonl"
    sim = simulate(fleet_of(windows_vm("web-01")), log_path=log)
    method = "PATCH" if not action else "POST"
    answer = _send_raw(sim, method, f"{vm_url(sim, 'web-01')}{action}?{API}", NESTED.encode())
    assert answer.status_code == 400
    assert _error(answer)["code"] == "InvalidRequestContent"
    assert sim.state.vm(vm_id("web-01")).install_in_progress is False
    sim.stop()
    [line] = [json.loads(text) for text in log.read_text().splitlines()]
    assert line["httpStatus"] == 400
    assert line["request"]["truncated"] is True  # 200 KB: over the logged limit


@pytest.mark.parametrize(
    "duration", ["P99999999999D", "PT" + "9" * 400 + "S", "PT1e400S", "P1000000000DT1H"]
)
def test_an_overflowing_maximum_duration_is_invalid_parameter(simulate, duration):
    sim = simulate(fleet_of(windows_vm("web-01")))
    body = {
        "maximumDuration": duration,
        "rebootSetting": "IfRequired",
        "windowsParameters": {"classificationsToInclude": ["Security"]},
    }
    answer = raw_session(sim).post(f"{vm_url(sim, 'web-01')}/installPatches?{API}", json=body)
    assert answer.status_code == 400
    error = _error(answer)
    assert (error["code"], error["target"]) == ("InvalidParameter", "maximumDuration")


def test_api_versions_are_checked_as_arm_does(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    session = raw_session(sim)
    compute_url = vm_url(sim, "web-01")
    [compute_version] = COMPUTE_API_VERSIONS
    [resources_version] = RESOURCES_API_VERSIONS
    assert session.get(f"{compute_url}?api-version={compute_version}").status_code == 200
    subscriptions_url = f"{sim.base_url}/subscriptions"
    assert session.get(f"{subscriptions_url}?api-version={resources_version}").status_code == 200

    wrong_compute = session.get(f"{compute_url}?{SUBSCRIPTIONS_API}")
    assert wrong_compute.status_code == 400
    error = _error(wrong_compute)
    assert error["code"] == "NoRegisteredProviderFound"
    assert "'virtualMachines'" in error["message"]
    assert compute_version in error["message"]

    locations = f"{sim.base_url}/subscriptions/{SUB_A}/locations?{API}"
    wrong_resources = session.get(locations)
    assert wrong_resources.status_code == 400
    error = _error(wrong_resources)
    assert error["code"] == "InvalidApiVersionParameter"
    assert resources_version in error["message"]

    status = session.get(
        f"{sim.base_url}/subscriptions/{SUB_A}/providers/Microsoft.Compute/locations/eastus"
        "/operations/nope?api-version=garbage"
    )
    assert _error(status)["code"] == "NoRegisteredProviderFound"
    assert "location 'eastus'" in _error(status)["message"]


@pytest.mark.parametrize("token", ["-1", "abc", "", "1e3", "\u0663", "1" * 40, " 1"])
def test_a_skip_token_that_is_no_offset_is_400(simulate, token):
    sim = simulate(fleet_of(windows_vm("web-01")))
    url = f"{sim.base_url}/subscriptions/{SUB_A}/providers/Microsoft.Compute/virtualMachines"
    answer = raw_session(sim).request("GET", f"{url}?{API}", params={"$skiptoken": token})
    assert answer.status_code == 400
    assert _error(answer)["code"] == "InvalidSkipToken"


def test_a_body_over_one_mebibyte_is_413(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    body = json.dumps({"tags": {"a": "x" * (1024 * 1024)}}).encode()
    answer = _send_raw(sim, "PATCH", f"{vm_url(sim, 'web-01')}?{API}", body)
    assert answer.status_code == 413
    assert _error(answer)["code"] == "RequestEntityTooLarge"
    assert sim.state.vm(vm_id("web-01")) is not None


def test_the_log_keeps_a_bounded_body(simulate, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = simulate(fleet_of(windows_vm("web-01")), log_path=log)
    tags = {f"tag-{i}": "v" * 100 for i in range(200)}  # about 22 KB
    raw = raw_session(sim).patch(f"{vm_url(sim, 'web-01')}?{API}", json={"tags": tags})
    assert raw.status_code == 200
    assert raw.json()["tags"] == tags
    sim.stop()
    [line] = [json.loads(text) for text in log.read_text().splitlines()]
    logged = line["request"]
    assert logged["truncated"] is True
    assert logged["bytes"] == len(json.dumps({"tags": tags}))
    assert len(logged["head"]) == LOGGED_BODY_LIMIT
    assert json.dumps({"tags": tags}).startswith(logged["head"])


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE"])
def test_methods_no_path_has_are_405_wherever_sent(simulate, method):
    sim = simulate(fleet_of(windows_vm("web-01")))
    for url in (f"{vm_url(sim, 'web-01')}?{API}", f"{sim.base_url}/nowhere?{API}"):
        answer = raw_session(sim).request(method, url)
        assert answer.status_code == 405
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
        if method == "HEAD":
            assert answer.content == b""  # headers only, as on the wire
        else:
            assert _error(answer)["code"] == "MethodNotAllowed"


def test_an_anonymous_request_gets_the_bearer_challenge(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    answer = raw_session(sim, token=False).get(f"{vm_url(sim, 'web-01')}?{API}")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer authorization_uri="https://')
    assert _error(answer)["code"] == "AuthenticationFailed"
