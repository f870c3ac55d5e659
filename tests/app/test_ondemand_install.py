"""The on-demand install through the real SDK against the simulator: the body each VM
gets, the record, and bad requests refused before anything starts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetsim.install import parse_duration
from tests.app.assessment_support import Rig, discover_all, rig

START = datetime(2026, 12, 10, 2, 10, tzinfo=UTC)
SUB = "0000bbbb-0000-4000-8000-000000000002"
OTHER_SUB = "0000cccc-0000-4000-8000-000000000003"


def vm_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name}"


WINDOWS, LINUX = vm_id("win-01"), vm_id("lin-01")
FLEET = {
    "version": 1,
    "subscriptions": [{"id": SUB, "displayName": "app"}],
    "vms": [
        {
            "id": WINDOWS,
            "location": "westeurope",
            "osType": "Windows",
            "patchMode": "AutomaticByPlatform",
            "sim": {"installMinutes": 20},
        },
        {
            "id": LINUX,
            "location": "westeurope",
            "osType": "Linux",
            "patchMode": "AutomaticByPlatform",
            "sim": {"installMinutes": 20},
        },
    ],
}
REQUEST = {
    "vms": [WINDOWS, LINUX],
    "classifications": ["Critical", "Security", "UpdateRollUp"],
    "kbNumbersToInclude": ["5048654"],
    "kbNumbersToExclude": ["5040000"],
    "rebootSetting": "Never",
    "maximumDuration": "PT1H30M",
}


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Rig]:
    with rig(FLEET, START, tmp_path) as running:
        discover_all(running)
        yield running


def installs(run: Rig) -> list[dict[str, Any]]:
    return [line for line in run.operations_log() if line.get("op") == "installPatches"]


def test_the_ondemand_install_sends_exactly_the_requested_body(run: Rig) -> None:
    run.host.engine.start_new("ondemand_install", "install-1", REQUEST)
    run.host.run_until(START + timedelta(minutes=40))

    status = run.status("install-1")
    assert status is not None and status["runtimeStatus"] == "Completed", status
    assert status["output"] == {
        "started": 2,
        "refused": 0,
        "ended": 2,
        "leftRunning": 0,
        "notStarted": 0,
    }
    sent = {line["vm"].lower(): dict(line["request"]) for line in installs(run)}
    # The SDK writes the duration in its own ISO 8601 spelling (PT01H30M00S).
    durations = {parse_duration(body.pop("maximumDuration")) for body in sent.values()}
    assert durations == {timedelta(hours=1, minutes=30)}
    assert sent[WINDOWS.lower()] == {
        "rebootSetting": "Never",
        "windowsParameters": {
            "classificationsToInclude": ["Critical", "Security", "UpdateRollUp"],
            "kbNumbersToInclude": ["5048654"],
            "kbNumbersToExclude": ["5040000"],
            "excludeKbsRequiringReboot": False,
        },
    }
    assert sent[LINUX.lower()] == {
        "rebootSetting": "Never",
        "linuxParameters": {"classificationsToInclude": ["Critical", "Other", "Security"]},
    }
    for vm in (WINDOWS, LINUX):
        view = run.store.vm_view(vm)
        assert view is not None and view.install_cycle == "ondemand"
        assert view.latest_install is not None and view.latest_install.status != "Failed"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"vms": [WINDOWS, "/subscriptions/x/resourceGroups/y"]}, "vms[1]"),
        ({"vms": [WINDOWS, WINDOWS.upper()]}, "vms[1]"),
        ({"vms": [WINDOWS, vm_id("nowhere-01")]}, "vms[1]"),
        ({"vms": [WINDOWS, WINDOWS.replace(SUB, OTHER_SUB)]}, "vms[1]"),
        ({"vms": []}, "vms"),
        ({"classifications": ["Critical", "Urgent"]}, "classifications"),
        ({"kbNumbersToInclude": ["KB5048654"]}, "kbNumbersToInclude"),
        ({"kbNumbersToExclude": "5040000"}, "kbNumbersToExclude"),
        ({"rebootSetting": "Sometimes"}, "rebootSetting"),
        ({"maximumDuration": "PT5H"}, "maximumDuration"),
        ({"maximumDuration": "two hours"}, "maximumDuration"),
        ({"reboot": "Never"}, "reboot"),
    ],
)
def test_a_bad_request_is_refused_by_name_and_starts_nothing(
    run: Rig, change: dict[str, Any], named: str
) -> None:
    run.host.engine.start_new("ondemand_install", "install-bad", {**REQUEST, **change})
    run.host.run_until(START + timedelta(minutes=5))

    status = run.status("install-bad")
    assert status is not None and status["runtimeStatus"] == "Failed"
    assert named in str(status["output"])
    assert installs(run) == []
