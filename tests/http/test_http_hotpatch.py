"""POST /hotpatch end to end: the route refuses what Azure or the domain would (nothing
started), and what it starts turns the flag on or off in the simulator through the real
SDK, then discovers again so the inventory shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.http.api_support import FOREIGN_SUB, SUB, Api, api_host, vm_id

# January is a planned baseline month; its release is out from the 12th.
BASELINE_MONTH = datetime(2027, 1, 20, 2, 0, tzinfo=UTC)
HOTPATCH_MONTH = datetime(2027, 2, 20, 2, 0, tzinfo=UTC)
READY, ENABLED = vm_id("win-ready"), vm_id("win-hotpatch")
STANDARD, LINUX = vm_id("win-standard"), vm_id("lin-01")
AZURE_EDITION = "2022-datacenter-azure-edition"


def fleet() -> dict[str, Any]:
    vms: list[dict[str, Any]] = [
        {"id": READY, "osType": "Windows", "imageSku": AZURE_EDITION},
        {"id": ENABLED, "osType": "Windows", "imageSku": AZURE_EDITION, "enableHotpatching": True},
        {"id": STANDARD, "osType": "Windows", "imageSku": "2022-datacenter-g2"},
        {"id": LINUX, "osType": "Linux"},
    ]
    return {
        "version": 1,
        "subscriptions": [{"id": SUB}],
        "vms": [{**vm, "location": "westeurope", "patchMode": "AutomaticByPlatform"} for vm in vms],
    }


def flags(api: Api) -> dict[str, bool]:
    """{VM id: its flag} as the simulator has it, and as the app's inventory has it."""
    return {vm.id: vm.enable_hotpatching for vm in api.compute.discover(SUB)}


def inventory_flags(api: Api) -> dict[str, bool]:
    return {vm.id: vm.enable_hotpatching for vm in api.store.inventory(SUB)}


def updates(api: Api) -> list[str]:
    return [line["vm"] for line in api.operations_log() if line["op"] == "virtualMachines.update"]


def run_change(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.call("POST", "/hotpatch", json_body=body)
    assert answer.status_code == 202, answer.text
    api.host.run_until(api.clock.now() + timedelta(minutes=5))
    status = api.session.get(answer.json()["statusQueryGetUri"], timeout=30).json()
    assert status["runtimeStatus"] == "Completed", status
    output: dict[str, Any] = status["output"]
    return output


def test_hotpatch_is_turned_on_in_a_baseline_month_and_the_inventory_shows_it(
    tmp_path: Path,
) -> None:
    with api_host(fleet(), BASELINE_MONTH, tmp_path) as api:
        api.discover_all()
        output = run_change(api, {"vms": [READY], "enableHotpatching": True})
        simulated, inventoried = flags(api), inventory_flags(api)
        sent = updates(api)

    assert output == {
        "enableHotpatching": True,
        "changed": 1,
        "notWindows": 0,
        "refused": 0,
        "notChanged": 0,
        "refusals": [],
        "rediscoveredSubscriptions": 1,
    }
    assert sent == [READY]
    assert simulated[READY] and inventoried[READY]
    assert not simulated[STANDARD] and simulated[ENABLED]


def test_a_hotpatch_month_refuses_a_new_enrollment_but_turns_it_off(tmp_path: Path) -> None:
    with api_host(fleet(), HOTPATCH_MONTH, tmp_path) as api:
        api.discover_all()
        before = api.instances()
        refused = api.call(
            "POST", "/hotpatch", json_body={"vms": [READY], "enableHotpatching": True}
        )
        nothing_started = api.instances() == before
        output = run_change(api, {"vms": [LINUX, ENABLED], "enableHotpatching": False})
        only_linux = run_change(api, {"vms": [LINUX], "enableHotpatching": False})
        simulated, inventoried = flags(api), inventory_flags(api)
        sent = updates(api)

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("HotpatchNotAllowed", "vms[0]")
    assert "2027-02" in error["message"] and "baseline month" in error["message"]
    assert nothing_started
    assert output["changed"] == 1 and output["enableHotpatching"] is False
    assert output["notWindows"] == 1  # a Linux VM has no hotpatch to turn off: not sent
    assert (only_linux["changed"], only_linux["notWindows"]) == (0, 1)
    assert only_linux["rediscoveredSubscriptions"] == 0
    assert sent == [ENABLED]
    assert not simulated[ENABLED] and not inventoried[ENABLED]
    assert not simulated[READY]


def test_bad_requests_are_refused_by_field_and_change_nothing(tmp_path: Path) -> None:
    foreign = vm_id("vm-01", subscription=FOREIGN_SUB)
    cases: list[tuple[Any, int, str, str]] = [
        ({"vms": [READY, LINUX], "enableHotpatching": True}, 409, "vms[1]", "runs Linux"),
        ({"vms": [STANDARD], "enableHotpatching": True}, 409, "vms[0]", "Azure Edition"),
        ({"vms": [READY, vm_id("nowhere")], "enableHotpatching": True}, 404, "vms[1]", "no such"),
        ({"vms": [foreign], "enableHotpatching": False}, 403, "vms[0]", FOREIGN_SUB),
        ({"vms": [READY, READY.upper()], "enableHotpatching": True}, 400, "vms[1]", "twice"),
        ({"vms": [READY]}, 400, "enableHotpatching", "enableHotpatching"),
        ({"vms": [READY], "enableHotpatching": "yes"}, 400, "enableHotpatching", ""),
        ({"vms": [], "enableHotpatching": True}, 400, "vms", ""),
        ({"vms": ["web-01"], "enableHotpatching": True}, 400, "vms[0]", ""),
    ]
    with api_host(fleet(), BASELINE_MONTH, tmp_path) as api:
        api.discover_all()
        before = api.instances()
        answers = [api.call("POST", "/hotpatch", json_body=body) for body, *_ in cases]
        nothing_started = api.instances() == before
        sent = updates(api)

    for answer, (body, status, field, said) in zip(answers, cases, strict=True):
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()["error"]
        assert error["field"] == field, (body, error)
        assert said in error["message"], (body, error)
    assert nothing_started
    assert sent == []


def test_a_throttled_change_waits_on_a_durable_timer_and_goes_on(tmp_path: Path) -> None:
    with api_host(fleet(), BASELINE_MONTH, tmp_path) as api:
        api.discover_all()
        for _ in range(200):  # the subscription's ARM write bucket, drained
            api.compute.set_hotpatching(ENABLED, True)
        output = run_change(api, {"vms": [READY], "enableHotpatching": True})
        tried = [
            line["httpStatus"]
            for line in api.operations_log()
            if line["op"] == "virtualMachines.update" and line["vm"] == READY
        ]
        simulated = flags(api)

    assert tried[0] == 429 and tried[-1] == 200
    assert output["changed"] == 1 and output["notChanged"] == 0
    assert simulated[READY]
