"""A rehearsal of the monthly cycle in process: the real Durable SDK on the local engine,
the real compute adapter against the fleet simulator, an in-memory store, one virtual
clock for all of them."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from activities import rollout, rollout_installs, rollout_replan
from activities.deps import Deps, reset_deps, use_deps
from azure_io.compute import ComputeAdapter
from azure_io.memory_store import MemoryPatchStore
from azure_io.ports import PatchStore
from azure_io.settings import Settings
from devhost.app_loader import loaded
from devhost.durable.driver import run_until
from devhost.durable.engine import DurableEngine
from fleetsim.clock import VirtualClock
from fleetsim.throttling import GUEST_PATCH_OPS_PER_VM, BucketKey
from fleetsim.transport import InProcessSimulator, open_simulator
from orchestrators import cycle, group, phase
from patchctl.fleetgen import generate_fleet
from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.models import Plan, ReleaseKind
from patching.planner import PlanningPolicy, plan_cycle
from patching.timefmt import format_time

# Patch Tuesday of March 2026, 10:00 US Pacific (PDT).
RELEASE = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
CYCLE_INSTANCE = "cycle-2026-03"
CYCLE_ID = "2026-03"
BLUEPRINTS = (
    cycle.bp,
    phase.bp,
    group.bp,
    rollout.bp,
    rollout_installs.bp,
    rollout_replan.bp,
)


def rollout_app() -> df.DFApp:
    app = df.DFApp()
    for blueprint in BLUEPRINTS:
        app.register_functions(blueprint)
    return app


def cycle_input(kind: ReleaseKind = ReleaseKind.HOTPATCH) -> dict[str, Any]:
    return {
        "releaseId": None,
        "kind": kind.value,
        "releasedAt": format_time(RELEASE),
        "replaces": None,
    }


def expected_plan(fleet: dict[str, Any], kind: ReleaseKind = ReleaseKind.HOTPATCH) -> Plan:
    """What `patchctl plan` gives for the fleet file with the default settings."""
    settings = Settings()
    policy = PlanningPolicy(
        slot_minutes=settings.install_slot_minutes,
        default_window=settings.off_peak_window,
        health_gate_minutes=settings.health_gate_minutes,
    )
    return plan_cycle(
        parse_fleet(fleet),
        make_cycle(CYCLE_ID, kind=kind, released_at=RELEASE),
        now=RELEASE,
        policy=policy,
    )


@dataclass
class Rehearsal:
    engine: DurableEngine
    clock: VirtualClock
    store: PatchStore
    log_path: Path
    simulator: InProcessSimulator

    def run_for(self, duration: timedelta) -> None:
        run_until(self.engine, self.clock, self.clock.now() + duration)

    def drain_patch_operations(self, vm_id: str) -> None:
        """Spend the VM's guest patch operations (Compute's per-VM bucket), so that its next
        assess or install is answered 429 until the bucket refills."""
        throttler = self.simulator._api.throttler  # the simulator offers no public hook
        key = BucketKey(GUEST_PATCH_OPS_PER_VM, vm_id.lower())
        while throttler.take([key]).allowed:
            pass

    def failures(self) -> dict[str, Any]:
        """{instance id: output} of the instances that failed."""
        return {
            status["instanceId"]: status["output"]
            for status in self.engine.statuses()
            if status["runtimeStatus"] == "Failed"
        }

    def operations(self) -> list[dict[str, Any]]:
        """The simulator's operations log."""
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def installs(self) -> list[dict[str, Any]]:
        """installPatches operations the simulator ran (refusals left out)."""
        return [
            entry
            for entry in self.operations()
            if entry["op"] == "installPatches" and "httpStatus" not in entry
        ]


@contextmanager
def rehearsal(
    fleet: dict[str, Any],
    tmp_path: Path,
    *,
    duplicate_activities: float = 0.0,
    store: PatchStore | None = None,
) -> Iterator[Rehearsal]:
    """The app on `fleet`, its store in memory unless `store` is given."""
    clock = VirtualClock(RELEASE)
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "operations.jsonl"
    simulator = open_simulator(fleet, clock=clock, log_path=log_path, sleep=lambda _: None)
    settings = Settings.from_env(
        {
            "PATCH_ARM_ENDPOINT": simulator.base_url,
            "PATCH_ARM_CREDENTIAL": "static",
            "PATCH_SUBSCRIPTIONS": ",".join(s["id"] for s in fleet["subscriptions"]),
        }
    )
    compute = ComputeAdapter.from_settings(
        settings, simulator.credential, transport=simulator.transport
    )
    store = store or MemoryPatchStore()
    use_deps(Deps(settings=settings, compute=compute, store=store, clock=clock))
    engine = DurableEngine(
        loaded(rollout_app()), clock, duplicate_activities=duplicate_activities, seed=3
    )
    try:
        yield Rehearsal(engine, clock, store, log_path, simulator)
    finally:
        engine.close()
        compute.close()
        simulator.stop()
        reset_deps()


# The rehearsed fleet: 40 VMs of two subscriptions in five regions, planned in three phases.
FLEET = generate_fleet(40, seed=7, region_pairs=2)
PLAN = expected_plan(FLEET)
RUN_FOR = timedelta(hours=PLAN.makespan_hours + 12)


def maximum_duration(text: str) -> timedelta:
    """An install body's ISO 8601 maximumDuration (the SDK writes e.g. PT01H30M00S)."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text)
    assert match, f"maximumDuration {text!r} is not PTnHnMnS"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def installs_by_vm(run: Rehearsal) -> dict[str, dict[str, Any]]:
    """The simulator's installs by VM key; fails if any VM was installed twice."""
    installs = run.installs()
    twice = [vm for vm, n in Counter(i["vm"].lower() for i in installs).items() if n > 1]
    assert not twice, f"installed more than once: {twice}"
    return {install["vm"].lower(): install for install in installs}


def run_cycle(run: Rehearsal) -> None:
    run.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
    run.run_for(RUN_FOR)


def failing_canary(fleet: dict[str, Any], plan: Plan) -> tuple[dict[str, Any], set[str]]:
    """The fleet with every install of the plan's phase 0 failing, and those VMs' keys."""
    canary = {a.vm.lower() for a in plan.assignments if a.phase == 0}
    broken = copy.deepcopy(fleet)
    for vm in broken["vms"]:
        if vm["id"].lower() in canary:
            vm.setdefault("sim", {})["installFails"] = True
    return broken, canary
