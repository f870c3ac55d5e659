"""The on-demand routes end to end: what POST /installations and POST /assessments start
runs to its end through the real SDK against the simulator, on exactly the VMs asked for,
and its status URL says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleetsim.install import parse_duration
from tests.http.api_support import OTHER_SUB, SUB, api_host, small_fleet, vm_id

START = datetime(2026, 3, 2, 2, 10, tzinfo=UTC)
LIN, WIN = vm_id("lin-01"), vm_id("win-01")


def test_an_installation_installs_the_vms_asked_for_with_the_request(tmp_path: Path) -> None:
    body = {
        "vms": [WIN, LIN.upper()],
        "classifications": ["Critical", "Security", "UpdateRollUp"],
        "kbNumbersToExclude": ["5040000"],
        "rebootSetting": "Never",
        "maximumDuration": "PT1H30M",
    }
    with api_host(small_fleet(), START, tmp_path) as api:
        api.discover_all()
        answer = api.call("POST", "/installations", json_body=body)
        api.host.run_until(START + timedelta(minutes=40))
        status = api.session.get(answer.json()["statusQueryGetUri"], timeout=30)
        installs = [line for line in api.operations_log() if line.get("op") == "installPatches"]
        view = api.call("GET", f"/vms/{SUB}/rg-app/win-01").json()

    assert answer.status_code == 202
    assert status.status_code == 200
    assert status.json()["runtimeStatus"] == "Completed"
    assert status.json()["output"]["started"] == 2
    assert {line["vm"].lower() for line in installs} == {WIN.lower(), LIN.lower()}
    for line in installs:
        assert parse_duration(line["request"]["maximumDuration"]) == timedelta(hours=1, minutes=30)
        assert line["request"]["rebootSetting"] == "Never"
    windows = next(line for line in installs if line["vm"].lower() == WIN.lower())
    assert windows["request"]["windowsParameters"]["kbNumbersToExclude"] == ["5040000"]
    assert view["installCycle"] == "ondemand"
    assert view["latestInstall"]["status"] != "Failed"


def test_an_assessment_assesses_exactly_its_scope(tmp_path: Path) -> None:
    scope = [f"/subscriptions/{SUB}/resourceGroups/rg-app", vm_id("lin-03", subscription=OTHER_SUB)]
    with api_host(small_fleet(), START, tmp_path) as api:
        answer = api.call("POST", "/assessments", json_body={"scope": scope})
        api.host.run_until(START + timedelta(minutes=20))
        status = api.session.get(answer.json()["statusQueryGetUri"], timeout=30).json()
        history = api.call("GET", "/history", params={"vm": LIN}).json()

    assert status["runtimeStatus"] == "Completed", status
    in_scope = {
        vm["id"].lower()
        for vm in small_fleet()["vms"]
        if vm["id"].lower().startswith(f"/subscriptions/{SUB}/resourcegroups/rg-app/")
    } | {vm_id("lin-03", subscription=OTHER_SUB).lower()}
    # The round assessed its scope, every VM of it (the periodic rounds run beside it).
    assert (status["output"]["due"], status["output"]["ended"]) == (len(in_scope), len(in_scope))
    assert [entry["kind"] for entry in history["entries"]] == ["assessment"]
