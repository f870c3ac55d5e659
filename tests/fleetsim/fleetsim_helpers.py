"""Small fleets built in the tests, and real SDK clients for a simulator.

A simulator is in process (`open_simulator`, the `simulate` fixture) or served
over HTTPS (`start_simulator`, the `serve` fixture); the clients here reach
either: the SDK through the in-process transport or over TLS, raw requests
through `raw_session`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from fleetsim import InProcessSimulator, RunningSimulator

Simulator = RunningSimulator | InProcessSimulator

SUB_A = "11111111-1111-4111-8111-111111111111"
SUB_B = "22222222-2222-4222-8222-222222222222"
START = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)


def vm_id(name: str, *, sub: str = SUB_A, rg: str = "rg-app") -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def vm_url(sim: Simulator, name: str, *, sub: str = SUB_A, rg: str = "rg-app") -> str:
    return sim.base_url + vm_id(name, sub=sub, rg=rg)


def operations_url(sim: Simulator, *, sub: str = SUB_A, location: str = "eastus") -> str:
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


def _connection(sim: Simulator) -> dict[str, Any]:
    if isinstance(sim, InProcessSimulator):
        return {"transport": sim.transport}
    return {"connection_verify": str(sim.ca_path)}


def compute(sim: Simulator, subscription_id: str = SUB_A, **kwargs: Any) -> ComputeManagementClient:
    kwargs.setdefault("polling_interval", 0)
    return ComputeManagementClient(
        sim.credential, subscription_id, base_url=sim.base_url, **_connection(sim), **kwargs
    )


def subscriptions(sim: Simulator) -> SubscriptionClient:
    return SubscriptionClient(sim.credential, base_url=sim.base_url, **_connection(sim))


class InProcessSession:
    """The part of `requests.Session` the tests use, sent through the in-process transport."""

    def __init__(self, sim: InProcessSimulator, *, token: bool) -> None:
        self._sim = sim
        self.headers = {"Authorization": "Bearer anything"} if token else {}

    def request(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> HttpResponse:
        request = HttpRequest(method, url, headers=dict(self.headers), json=json, params=params)
        return self._sim.transport.send(request)

    def get(self, url: str) -> HttpResponse:
        return self.request("GET", url)

    def post(self, url: str, *, json: Any = None) -> HttpResponse:
        return self.request("POST", url, json=json)

    def patch(self, url: str, *, json: Any = None) -> HttpResponse:
        return self.request("PATCH", url, json=json)

    def delete(self, url: str) -> HttpResponse:
        return self.request("DELETE", url)


def raw_session(sim: Simulator, *, token: bool = True) -> Any:
    """A plain client, for what the SDK hides (status codes, headers).

    Over HTTPS a `requests.Session`; in process an `InProcessSession`.
    """
    if isinstance(sim, InProcessSimulator):
        return InProcessSession(sim, token=token)
    session = requests.Session()
    session.trust_env = False  # an environment CA bundle would override `verify`
    session.verify = str(sim.ca_path)
    if token:
        session.headers["Authorization"] = "Bearer anything"
    return session


API = "api-version=2026-04-01"
SUBSCRIPTIONS_API = "api-version=2022-12-01"
