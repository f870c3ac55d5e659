"""The operations log of docs/CONTRACTS.md section 4."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from fleetsim_helpers import (
    API,
    SUBSCRIPTIONS_API,
    compute,
    fleet_of,
    raw_session,
    vm_id,
    vm_url,
    windows_vm,
)

from fleetsim import FaultConfig

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
    # No pollers for these: their background polls would race the log this test reads.
    for _ in range(6):
        client.virtual_machines.begin_assess_patches("rg-app", "web-02", polling=False)
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


def test_every_answer_is_one_line_polls_and_refusals_included(simulate, clock, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = simulate(fleet_of(windows_vm("web-01", sim={"installMinutes": 40})), log_path=log)
    session = raw_session(sim)
    url = vm_url(sim, "web-01")
    accepted = session.post(f"{url}/installPatches?{API}", json=INSTALL)
    assert accepted.status_code == 202
    status_url = accepted.headers["Azure-AsyncOperation"]
    assert session.get(status_url).json()["status"] == "InProgress"
    assert session.get(accepted.headers["Location"]).status_code == 202
    assert session.post(f"{url}/assessPatches?{API}").status_code == 409  # install running
    assert session.get(f"{url}?x=1").status_code == 400
    assert raw_session(sim, token=False).get(f"{url}?{API}").status_code == 401
    assert session.get(f"{vm_url(sim, 'nope')}?{API}").status_code == 404
    assert session.get(f"{sim.base_url}/subscriptions?{SUBSCRIPTIONS_API}&bogus").status_code == 200
    assert session.get(f"{sim.base_url}/nowhere?{API}").status_code == 404
    clock.advance(timedelta(minutes=40))
    assert session.get(status_url).json()["status"] == "Succeeded"
    requests = sim.state.requests
    sim.stop()

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == requests == 10
    keys = {"op", "vm", "start", "end", "status", "request", "rebooted", "installedKbs"}
    assert all(keys <= line.keys() for line in lines)
    summary = [(line["op"], line["status"], line.get("httpStatus")) for line in lines]
    assert summary == [
        ("operations.get", "InProgress", 200),
        ("operations.get", "InProgress", 202),
        ("assessPatches", "Failed", 409),
        ("virtualMachines.get", "Failed", 400),
        ("virtualMachines.get", "Failed", 401),
        ("virtualMachines.get", "Failed", 404),
        ("subscriptions.list", "Succeeded", 200),
        ("unknown", "Failed", 404),
        # The install's own line, with its result, when it ends (as before) ...
        ("installPatches", "Succeeded", None),
        # ... then the poll that saw it end.
        ("operations.get", "Succeeded", 200),
    ]
    polls = [line for line in lines if line["op"] == "operations.get"]
    assert {line["vm"] for line in polls} == {vm_id("web-01")}
    assert {line["operation"] for line in polls} == {"installPatches"}
    assert lines[2]["error"] == "OperationNotAllowed"
    assert lines[3]["error"] == "MissingApiVersionParameter"
    assert lines[4]["error"] == "AuthenticationFailed"
    assert (lines[5]["vm"], lines[5]["error"]) == (vm_id("nope"), "ResourceNotFound")
    assert (lines[7]["path"], lines[7]["error"]) == ("/nowhere", "InvalidResourceType")
    install = lines[8]
    assert (install["start"], install["end"]) == ("2026-12-09T03:00:00Z", "2026-12-09T03:40:00Z")
    assert install["request"] == INSTALL
    assert install["rebooted"] is True
    assert install["installedKbs"]
    assert all(line["start"] == "2026-12-09T03:00:00Z" for line in lines[:8])
    assert lines[-1]["start"] == lines[-1]["end"] == "2026-12-09T03:40:00Z"


def test_injected_faults_are_logged(simulate, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = simulate(
        fleet_of(windows_vm("web-01")), log_path=log, faults=FaultConfig(error_rate=1.0, seed=3)
    )
    with pytest.raises(HttpResponseError):
        compute(sim, retry_total=2, retry_backoff_factor=0).virtual_machines.get("rg-app", "web-01")
    requests = sim.state.requests
    sim.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == requests == 3
    for line in lines:
        assert (line["op"], line["vm"], line["status"]) == (
            "virtualMachines.get",
            vm_id("web-01"),
            "Failed",
        )
        assert line["httpStatus"] in (500, 503)
        assert line["error"] in ("InternalServerError", "ServiceUnavailable")
