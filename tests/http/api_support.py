"""The real function app on the local host, bound to a port, against the fleet simulator in
process, an in-memory store and one virtual clock; called with `requests` and the key.

For what `patchctl serve` (tests/http/serve_support.py) cannot set up: a store or an ARM
that fails (test_http_failures), and runs that need the clock driven (`run_until`: a cycle
halted by a failing canary in test_http_resume, on-demand work run to its end in
test_http_ondemand, where on serve the fast clock's own assessment rounds would run on the
same VMs beside it).

On a virtual clock nothing runs by itself, so a request's effect on the Durable engine is
what the route did (an instance created, an event raised); `host.run_until` runs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

import function_app
from activities.deps import Deps, reset_deps, use_deps
from azure_io.compute import ComputeAdapter
from azure_io.memory_store import MemoryPatchStore
from azure_io.ports import PatchStore
from azure_io.settings import Settings
from devhost.app_loader import loaded
from devhost.host import LocalHost
from fleetsim import VirtualClock, open_simulator
from fleetsim.faults import FaultConfig
from fleetsim.transport import InProcessSimulator
from tests.http.http_calls import api_request

KEY = "http-api-test-key"
HOST_JSON = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text("utf-8"))
SUB = "0000aaaa-0000-4000-8000-000000000001"
OTHER_SUB = "0000bbbb-0000-4000-8000-000000000002"
# A subscription the app does not manage.
FOREIGN_SUB = "0000ffff-0000-4000-8000-00000000000f"


def vm_id(name: str, *, subscription: str = SUB, group: str = "rg-app") -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def small_fleet() -> dict[str, Any]:
    """Six VMs of two subscriptions in two regions; one not enrolled."""
    vms = [
        (vm_id("win-01"), "westeurope", "Windows", "AutomaticByPlatform"),
        (vm_id("lin-01"), "westeurope", "Linux", "AutomaticByPlatform"),
        (vm_id("lin-02"), "northeurope", "Linux", "AutomaticByPlatform"),
        (vm_id("manual-01"), "northeurope", "Linux", "Manual"),
        (vm_id("win-02", subscription=OTHER_SUB), "westeurope", "Windows", "AutomaticByPlatform"),
        (vm_id("lin-03", subscription=OTHER_SUB), "northeurope", "Linux", "AutomaticByPlatform"),
    ]
    return {
        "version": 1,
        "subscriptions": [
            {"id": SUB, "displayName": "app"},
            {"id": OTHER_SUB, "displayName": "data"},
        ],
        "vms": [
            {
                "id": vm,
                "location": location,
                "osType": os_type,
                "patchMode": mode,
                "sim": {"installMinutes": 20},
            }
            for vm, location, os_type, mode in vms
        ],
    }


@dataclass
class Api:
    host: LocalHost
    sim: InProcessSimulator
    store: PatchStore
    clock: VirtualClock
    log_path: Path
    compute: ComputeAdapter
    session: requests.Session
    fleet: dict[str, Any]

    @property
    def base_url(self) -> str:
        return f"{self.host.base_url}/api"

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        params: dict[str, str] | None = None,
        key: str | None = KEY,
    ) -> requests.Response:
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
        """{instance id: status} of every orchestration instance the engine holds."""
        return {status["instanceId"]: status for status in self.host.engine.statuses()}

    def operations_log(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def discover_all(self) -> None:
        """The inventory of every managed subscription, as a discovery would write it."""
        for subscription in sorted({s["id"] for s in self.fleet["subscriptions"]}):
            self.store.save_inventory(
                subscription, self.compute.discover(subscription), discovered_at=self.clock.now()
            )


@contextmanager
def api_host(
    fleet: dict[str, Any],
    start: datetime,
    tmp_path: Path,
    *,
    store: PatchStore | None = None,
    faults: FaultConfig | None = None,
) -> Iterator[Api]:
    """The function app served on 127.0.0.1 with function key `KEY`; its subscriptions are
    the fleet's."""
    clock = VirtualClock(start)
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "operations.jsonl"
    subscriptions = sorted({s["id"] for s in fleet["subscriptions"]})
    store = store if store is not None else MemoryPatchStore()
    with open_simulator(
        fleet, clock=clock, log_path=log_path, faults=faults, sleep=lambda _: None
    ) as sim:
        settings = Settings.from_env(
            {
                "PATCH_SUBSCRIPTIONS": ",".join(subscriptions),
                "PATCH_ARM_ENDPOINT": sim.base_url,
                "PATCH_ARM_CREDENTIAL": "static",
                "PATCH_ARM_RETRY_BACKOFF_SECONDS": "0",
            }
        )
        compute = ComputeAdapter.from_settings(settings, sim.credential, transport=sim.transport)
        use_deps(Deps(settings=settings, compute=compute, store=store, clock=clock))
        try:
            with (
                LocalHost(
                    loaded(function_app.app, host_json=HOST_JSON), clock=clock, function_key=KEY
                ) as host,
                requests.Session() as session,
            ):
                yield Api(host, sim, store, clock, log_path, compute, session, fleet)
        finally:
            compute.close()
            reset_deps()
