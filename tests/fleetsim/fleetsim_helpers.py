"""Small fleets built in the tests, and real SDK clients for a running simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from fleetsim import RunningSimulator

SUB_A = "11111111-1111-4111-8111-111111111111"
SUB_B = "22222222-2222-4222-8222-222222222222"
START = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)


def vm_id(name: str, *, sub: str = SUB_A, rg: str = "rg-app") -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def vm_url(sim: RunningSimulator, name: str, *, sub: str = SUB_A, rg: str = "rg-app") -> str:
    return sim.base_url + vm_id(name, sub=sub, rg=rg)


def operations_url(sim: RunningSimulator, *, sub: str = SUB_A, location: str = "eastus") -> str:
    return (
        f"{sim.base_url}/subscriptions/{sub}/providers/Microsoft.Compute"
        f"/locations/{location}/operations"
    )


def windows_vm(name: str, **overrides: Any) -> dict[str, Any]:
    vm: dict[str, Any] = {
        "id": vm_id(name, sub=overrides.pop("sub", SUB_A), rg=overrides.pop("rg", "rg-app")),
        "location": "eastus",
        "osType": "Windows",
        "patchMode": "AutomaticByPlatform",
        "imageSku": "2022-datacenter-azure-edition-hotpatch",
        "enableHotpatching": True,
        "timeZone": "Eastern Standard Time",
        "sim": {"installMinutes": 40},
    }
    vm.update(overrides)
    return vm


def linux_vm(name: str, **overrides: Any) -> dict[str, Any]:
    vm: dict[str, Any] = {
        "id": vm_id(name, sub=overrides.pop("sub", SUB_A), rg=overrides.pop("rg", "rg-app")),
        "location": "eastus",
        "osType": "Linux",
        "patchMode": "AutomaticByPlatform",
        "imageSku": "22_04-lts-gen2",
        "sim": {"installMinutes": 30},
    }
    vm.update(overrides)
    return vm


def fleet_of(*vms: dict[str, Any], **top: Any) -> dict[str, Any]:
    fleet: dict[str, Any] = {
        "version": 1,
        "subscriptions": [
            {"id": SUB_A, "displayName": "prod"},
            {"id": SUB_B, "displayName": "test"},
        ],
        "regions": [
            {"name": "eastus", "pairedRegion": "westus", "timeZone": "America/New_York"},
            {"name": "westus", "pairedRegion": "eastus", "timeZone": "America/Los_Angeles"},
        ],
        "vms": list(vms),
    }
    fleet.update(top)
    return fleet


def compute(
    sim: RunningSimulator, subscription_id: str = SUB_A, **kwargs: Any
) -> ComputeManagementClient:
    kwargs.setdefault("polling_interval", 0)
    return ComputeManagementClient(
        sim.credential,
        subscription_id,
        base_url=sim.base_url,
        connection_verify=str(sim.ca_path),
        **kwargs,
    )


def subscriptions(sim: RunningSimulator) -> SubscriptionClient:
    return SubscriptionClient(
        sim.credential, base_url=sim.base_url, connection_verify=str(sim.ca_path)
    )


def raw_session(sim: RunningSimulator, *, token: bool = True) -> requests.Session:
    """A plain HTTPS client, for what the SDK hides (status codes, headers)."""
    session = requests.Session()
    session.trust_env = False  # an environment CA bundle would override `verify`
    session.verify = str(sim.ca_path)
    if token:
        session.headers["Authorization"] = "Bearer anything"
    return session


API = "api-version=2026-04-01"
