"""`patchctl serve` itself, in process (`serving`: the app on the local host, the fleet
simulator over HTTPS and Azurite, on one scaled clock), called with `requests` over its
base URL and function key, as an operator's client would.

The clock runs at real time (the command's default): the app's world stands still for the
length of a test module except for what the requests start. The hourly and daily timers
still fire at the top of a real hour (and 03:00 UTC), so "a refused request starts nothing"
is about the instances requests start (ids the Durable client makes up), not the timers'
singletons, assessment rounds and calendar cycles, whose ids are fixed by the clock.

`serving` allows one server per process (`activities.deps` is global): each test module
holds its own for its duration (module scope), so no two ever overlap, and none outlives
its module to run timers against another module's dependencies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from azure_io.compute import ComputeAdapter
from azure_io.tables import PatchTables
from patchctl.fleetgen import generate_fleet
from patchctl.serve_command import Serving, serving
from patching.resource_ids import VmId
from tests.http.http_calls import api_request

# A subscription the app does not manage (the generated fleet's are 0000000N-...).
FOREIGN_SUB = "0000ffff-0000-4000-8000-00000000000f"
# Instances the timers start, named by the clock: the scheduler, its rounds, the daily
# cleanup, and a month's cycle opened by the calendar.
_TIMER_INSTANCES = re.compile(
    r"assessment-scheduler|assessment-\d{8}T\d{4}|cleanup-\d{8}|cycle-\d{4}-\d{2}(-baseline)?"
)
DURABLE = "/runtime/webhooks/durabletask"


# What a request starts keeps running past a test module: nothing it writes (an assessment,
# a compliance record, an install) lands beside what a test recorded and reads back.
SLOW_SIM = {"assessMinutes": 120, "installMinutes": 180, "hotpatchInstallMinutes": 120}


def serve_fleet() -> dict[str, Any]:
    """A small generated fleet (8 VMs, 2 subscriptions) with its last VM's patching left
    to the user (Manual), so a plan has one VM it skips; its operations take hours."""
    fleet = generate_fleet(8, seed=9)
    fleet["vms"][-1]["patchMode"] = "Manual"
    for vm in fleet["vms"]:
        vm["sim"] = {**vm.get("sim", {}), **SLOW_SIM}
    return fleet


@dataclass(frozen=True)
class FleetVm:
    """One VM of the served fleet, with its ARM id's parts as the routes take them."""

    id: str
    os_type: str
    patch_mode: str

    @property
    def parts(self) -> VmId:
        return VmId.parse(self.id)

    @property
    def subscription(self) -> str:
        return self.parts.subscription_id

    @property
    def path(self) -> str:
        """`/vms/{subscriptionId}/{resourceGroup}/{vmName}` of this VM."""
        parts = self.parts
        return f"/vms/{parts.subscription_id}/{parts.resource_group}/{parts.name}"


def fleet_vms(fleet: dict[str, Any]) -> list[FleetVm]:
    return [FleetVm(vm["id"], vm["osType"], vm["patchMode"]) for vm in fleet["vms"]]


def foreign_vm_id(name: str = "vm-foreign") -> str:
    return (
        f"/subscriptions/{FOREIGN_SUB}/resourceGroups/rg-elsewhere"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


@dataclass
class ServedApi:
    """A running `serve` and an HTTP session on it; the store and compute adapter are the
    app's own (Azurite's tables, the simulator over HTTPS), opened from its settings, for
    what a test records beforehand."""

    served: Serving
    session: requests.Session
    store: PatchTables
    compute: ComputeAdapter
    fleet: dict[str, Any]

    @property
    def base_url(self) -> str:
        return f"{self.served.base_url}/api"

    @property
    def key(self) -> str:
        return self.served.function_key

    def now(self) -> datetime:
        return self.served.clock.now()

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        params: dict[str, str] | None = None,
        key: str | None = "",
    ) -> requests.Response:
        """`key` "" is the server's function key, None none at all."""
        key = self.key if key == "" else key
        return api_request(
            self.session,
            method,
            f"{self.base_url}{path}",
            key=key,
            json_body=json_body,
            data=data,
            params=params,
        )

    def instances(self) -> dict[str, dict[str, Any]]:
        """{instance id: status} of every instance, from serve's Durable HTTP API."""
        answer = self.session.get(
            f"{self.served.base_url}{DURABLE}/instances",
            headers={"x-functions-key": self.key},
            timeout=30,
        )
        answer.raise_for_status()
        return {status["instanceId"]: status for status in answer.json()}

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        answer = self.session.get(
            f"{self.served.base_url}{DURABLE}/instances/{instance_id}",
            headers={"x-functions-key": self.key},
            timeout=30,
        )
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        status: dict[str, Any] = answer.json()
        return status

    def requested_instances(self) -> set[str]:
        """Ids of the instances requests started: not the timers', nor what those started
        (sub-orchestrations, whose ids extend their parent's: `ID-b000`, `ID-b000-w001`)."""
        every = set(self.instances())
        return {
            instance
            for instance in every
            if not _TIMER_INSTANCES.fullmatch(instance)
            and not any(instance.startswith(f"{parent}-") for parent in every)
        }

    def discover_all(self) -> None:
        """The inventory of every managed subscription, as a discovery writes it."""
        for subscription in self.served.settings.subscriptions:
            self.store.save_inventory(
                subscription, self.compute.discover(subscription), discovered_at=self.now()
            )


@contextmanager
def served_api(fleet: dict[str, Any] | None = None) -> Iterator[ServedApi]:
    """`serving` the fleet (default: `serve_fleet()`) at real time, with a session on it."""
    fleet = fleet if fleet is not None else serve_fleet()
    with serving(fleet, clock_speed=1.0) as served, requests.Session() as session:
        compute = ComputeAdapter.from_settings(served.settings)
        try:
            store = PatchTables.from_settings(served.settings)
            yield ServedApi(served, session, store, compute, fleet)
        finally:
            compute.close()
