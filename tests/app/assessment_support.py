"""A local host running the assessment, on-demand and trigger blueprints against the fleet
simulator in process, everything on one virtual clock, with an in-memory store.

`cycle_orchestrator` is a stand-in here (it records its input and waits for an event
that never comes), so the tests see what the triggers start.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

import triggers
from activities import assessment as assessment_activities
from activities import housekeeping
from activities import ondemand as ondemand_activities
from activities.deps import Deps, deps, reset_deps, use_deps
from azure_io.compute import ComputeAdapter
from azure_io.memory_store import MemoryPatchStore
from azure_io.settings import Settings
from devhost.app_loader import loaded
from devhost.host import LocalHost
from fleetsim import VirtualClock, open_simulator
from fleetsim.transport import InProcessSimulator
from orchestrators import assessment, ondemand


def build_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    for blueprint in (
        assessment.bp,
        ondemand.bp,
        assessment_activities.bp,
        ondemand_activities.bp,
        housekeeping.bp,
        triggers.bp,
    ):
        app.register_functions(blueprint)

    @app.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
    def cycle_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
        yield context.wait_for_external_event("never")

    return app


@dataclass
class Rig:
    host: LocalHost
    sim: InProcessSimulator
    store: MemoryPatchStore
    clock: VirtualClock
    log_path: Path

    def operations_log(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def history_sizes(self) -> dict[str, int]:
        return {
            status["instanceId"]: len(self.host.engine.history(status["instanceId"]))
            for status in self.host.engine.statuses()
        }

    def status(self, instance_id: str) -> dict[str, Any] | None:
        return self.host.engine.status(instance_id)


@contextmanager
def rig(
    fleet: dict[str, Any], start: datetime, tmp_path: Path, *, duplicate_activities: float = 0.0
) -> Iterator[Rig]:
    clock = VirtualClock(start)
    log_path = tmp_path / "operations.jsonl"
    subscriptions = sorted({s["id"] for s in fleet.get("subscriptions", [])})
    store = MemoryPatchStore()
    with open_simulator(fleet, clock=clock, log_path=log_path, sleep=lambda _: None) as sim:
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
            with LocalHost(
                loaded(build_app()), clock=clock, duplicate_activities=duplicate_activities
            ) as host:
                yield Rig(host, sim, store, clock, log_path)
        finally:
            compute.close()
            reset_deps()


def discover_all(run: Rig) -> None:
    """The inventory of every configured subscription, as the assessment round refreshes it."""
    current = deps()
    for subscription in current.settings.subscriptions:
        run.store.save_inventory(
            subscription, current.compute.discover(subscription), discovered_at=run.clock.now()
        )


SUB = "0000aaaa-0000-4000-8000-000000000001"


def one_lane_fleet(count: int) -> dict[str, Any]:
    """`count` Linux VMs of one subscription and region, in three resource groups."""
    return {
        "version": 1,
        "subscriptions": [{"id": SUB, "displayName": "one"}],
        "vms": [
            {
                "id": f"/subscriptions/{SUB}/resourceGroups/rg-{n % 3}/providers/"
                f"Microsoft.Compute/virtualMachines/vm-{n:04d}",
                "location": "eastus",
                "osType": "Linux",
                "patchMode": "AutomaticByPlatform",
            }
            for n in range(count)
        ],
    }
