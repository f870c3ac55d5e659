"""The custom role grants exactly what the compute adapter calls.

The adapter runs for real (the Azure SDK clients) against the in-process fleet simulator
through every public method, and the simulator's operations log says which ARM operations
it sent; each is mapped to the Microsoft.Authorization action ARM checks for it.
"""

import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from azure_io.arm_operations import ACTIONS, ARM_OPERATIONS
from azure_io.compute import ComputeAdapter
from azure_io.compute_outcomes import HotpatchSet, Started
from azure_io.patch_results import AssessmentResult, InstallRequest, InstallResult
from azure_io.settings import ArmCredentialKind, Settings
from fleetsim import InProcessSimulator, VirtualClock, open_simulator
from patching.models import OsType

ROLE_FILE = Path(__file__).resolve().parents[2] / "infra" / "role.json"
SUB = "22222222-2222-4222-8222-222222222222"
START = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)
OTHER_VM = (
    f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app-02"
)
VM = (
    f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app-01"
)

FLEET: dict[str, Any] = {
    "version": 1,
    "sim": {"pageSize": 1},  # two pages: the nextLink requests are checked too
    "subscriptions": [{"id": SUB}],
    "regions": [{"name": "eastus", "pairedRegion": "westus"}],
    "vms": [
        {
            "id": VM,
            "location": "eastus",
            "osType": "Windows",
            "patchMode": "AutomaticByPlatform",
            "imageSku": "2022-datacenter-azure-edition",
            "sim": {"installMinutes": 20},
        },
        {
            "id": OTHER_VM,
            "location": "eastus",
            "osType": "Linux",
            "patchMode": "AutomaticByPlatform",
        },
    ],
}

# The simulator's operation names (fleetsim.routes) -> the action ARM authorizes them by.
ACTION_OF_SIMULATED_OP = {
    "subscriptions.list": "Microsoft.Resources/subscriptions/read",
    "subscriptions.listLocations": "Microsoft.Resources/subscriptions/locations/read",
    "virtualMachines.listAll": "Microsoft.Compute/virtualMachines/read",
    "virtualMachines.list": "Microsoft.Compute/virtualMachines/read",
    "virtualMachines.get": "Microsoft.Compute/virtualMachines/read",
    "virtualMachines.update": "Microsoft.Compute/virtualMachines/write",
    "virtualMachines.instanceView": "Microsoft.Compute/virtualMachines/instanceView/read",
    "assessPatches": "Microsoft.Compute/virtualMachines/assessPatches/action",
    "installPatches": "Microsoft.Compute/virtualMachines/installPatches/action",
    "operations.get": "Microsoft.Compute/locations/operations/read",
}


def role_actions() -> list[str]:
    role = json.loads(ROLE_FILE.read_text(encoding="utf-8"))
    (permission,) = role["permissions"]
    assert permission["notActions"] == permission["dataActions"] == []
    return list(permission["actions"])


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[InProcessSimulator]:
    log = tmp_path / "operations.jsonl"
    with open_simulator(FLEET, clock=VirtualClock(START), log_path=log, sleep=lambda _: None) as s:
        yield s


def drive_every_adapter_method(sim: InProcessSimulator) -> set[str]:
    """Calls each public ComputeAdapter method once, as the activities do; their names."""
    settings = Settings(
        subscriptions=(SUB,),
        arm_endpoint=sim.base_url,
        arm_credential=ArmCredentialKind.STATIC,
        arm_retry_backoff_seconds=0.0,
    )
    adapter = ComputeAdapter.from_settings(settings, transport=sim.transport)
    try:
        assert len(adapter.discover(SUB)) == 2
        assert adapter.region_pairs(SUB)["eastus"] == "westus"
        assessment = adapter.start_assessment(VM)
        install = adapter.start_install(
            OTHER_VM, InstallRequest(os_type=OsType.LINUX, maximum_duration=timedelta(minutes=90))
        )
        assert isinstance(assessment, Started) and isinstance(install, Started)
        sim.clock.advance(timedelta(hours=2))
        assert isinstance(adapter.check_assessment(assessment), AssessmentResult)
        assert isinstance(adapter.check_install(install), InstallResult)
        adapter.check_health(VM)
        assert adapter.set_hotpatching(VM, True) == HotpatchSet(VM, True)
    finally:
        adapter.close()
    return {
        "discover",
        "region_pairs",
        "start_assessment",
        "start_install",
        "check_assessment",
        "check_install",
        "check_health",
        "set_hotpatching",
        "close",
    }


def logged_ops(sim: InProcessSimulator, tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "operations.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_role_file_grants_exactly_the_listed_operations() -> None:
    actions = role_actions()
    assert len(actions) == len(set(actions)), "an action is listed twice"
    assert sorted(actions) == sorted(ACTIONS)
    assert len(ACTIONS) == len(ARM_OPERATIONS) == len(set(ACTIONS))


def test_every_request_of_the_adapter_is_an_action_of_the_role(
    sim: InProcessSimulator, tmp_path: Path
) -> None:
    driven = drive_every_adapter_method(sim)
    public = {
        name
        for name, _ in inspect.getmembers(ComputeAdapter, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == driven, "a new adapter method must be driven here (and its ARM call listed)"

    entries = logged_ops(sim, tmp_path)
    refused = [entry for entry in entries if entry.get("httpStatus", 0) >= 400]
    assert refused == [], "every request was a served ARM operation"
    unmapped = {entry["op"] for entry in entries} - set(ACTION_OF_SIMULATED_OP)
    assert unmapped == set(), f"operations with no known action: {unmapped}"
    called = {ACTION_OF_SIMULATED_OP[entry["op"]] for entry in entries}
    # Exactly: nothing the adapter calls is missing from the role, nothing in it goes unused.
    assert called == set(role_actions())
    assert {entry["op"] for entry in entries} >= {"virtualMachines.listAll", "operations.get"}


def test_no_wildcard_or_delete_and_one_write_the_hotpatch_flag_s() -> None:
    actions = role_actions()
    for action in actions:
        assert "*" not in action
        assert not action.endswith("/delete"), action
    # A VM update can change anything of the VM; the adapter's one update sends the
    # hotpatch flag alone (tests/azure_io checks its body).
    assert [action for action in actions if action.endswith("/write")] == [
        "Microsoft.Compute/virtualMachines/write"
    ]
