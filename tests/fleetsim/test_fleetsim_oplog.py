"""The operations log of CONTRACTS.md section 4."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from fleetsim_helpers import compute, fleet_of, vm_id, windows_vm

INSTALL = {
    "maximumDuration": "PT2H",
    "rebootSetting": "IfRequired",
    "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
}
OFF = {"from": "2026-12-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"}


def test_log_lines_for_operations_refusals_and_unfinished_work(simulate, clock, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = simulate(
        fleet_of(
            windows_vm("web-01", sim={"installMinutes": 40}),
            windows_vm("web-02"),
            windows_vm("off-01", sim={"offDuring": [OFF]}),
        ),
        log_path=log,
    )
    client = compute(sim, retry_total=0)
    client.virtual_machines.get("rg-app", "web-01")
    client.virtual_machines.begin_update("rg-app", "web-01", {"tags": {"team": "web"}}).result()
    install = client.virtual_machines.begin_install_patches("rg-app", "web-01", INSTALL)
    clock.advance(timedelta(minutes=40))
    result = install.result()
    for _ in range(6):
        client.virtual_machines.begin_assess_patches("rg-app", "web-02")
    with pytest.raises(HttpResponseError):
        client.virtual_machines.begin_assess_patches("rg-app", "web-02")
    with pytest.raises(HttpResponseError):
        client.virtual_machines.begin_assess_patches("rg-app", "off-01")
    clock.advance(timedelta(minutes=1))  # the assessments end; two tokens back
    client.virtual_machines.begin_install_patches("rg-app", "web-02", INSTALL)
    sim.stop()

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    keys = {"op", "vm", "start", "end", "status", "request", "rebooted", "installedKbs"}
    assert all(keys <= line.keys() for line in lines)

    get = lines[0]
    assert (get["op"], get["vm"], get["status"]) == (
        "virtualMachines.get",
        vm_id("web-01"),
        "Succeeded",
    )
    assert get["start"] == "2026-12-09T03:00:00Z"
    update = lines[1]
    assert (update["op"], update["status"]) == ("virtualMachines.update", "Succeeded")
    assert update["request"] == {"tags": {"team": "web"}}

    installs = [line for line in lines if line["op"] == "installPatches"]
    done = installs[0]
    assert done["vm"] == vm_id("web-01")
    assert (done["start"], done["end"]) == ("2026-12-09T03:00:00Z", "2026-12-09T03:40:00Z")
    assert done["status"] == "Succeeded"
    assert done["request"] == INSTALL
    assert done["rebooted"] is True
    assert sorted(done["installedKbs"]) == sorted(
        p.kb_id for p in result.patches if p.installation_state == "Installed"
    )
    unfinished = installs[1]
    assert (unfinished["vm"], unfinished["status"], unfinished["end"]) == (
        vm_id("web-02"),
        "InProgress",
        None,
    )

    throttled = [line for line in lines if line["status"] == "Throttled"]
    assert len(throttled) == 1
    assert throttled[0]["op"] == "assessPatches"
    assert throttled[0]["vm"] == vm_id("web-02")
    assert throttled[0]["retryAfter"] == 30

    refused = [line for line in lines if line["vm"] == vm_id("off-01")]
    assert [(r["op"], r["status"], r["error"]) for r in refused] == [
        ("assessPatches", "Failed", "OperationNotAllowed")
    ]
    assessments = [
        line for line in lines if line["op"] == "assessPatches" and line["status"] == "Succeeded"
    ]
    assert len(assessments) == 6
    assert all(a["end"] == "2026-12-09T03:41:00Z" for a in assessments)
