"""Hypothesis strategies and builders shared by the rollout rules' tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from patching.calendar import make_cycle
from patching.models import Assignment, OsType, PatchMode, Plan, PowerState, RebootSetting, VmTarget

RELEASE = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)
SUBSCRIPTIONS = ("sub-a", "sub-b", "sub-c")
REGIONS = ("eastus", "westus", "northeurope")


def vm_id(subscription: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}"


def target(
    subscription: str,
    region: str,
    name: str,
    *,
    power_state: PowerState = PowerState.RUNNING,
    hotpatch: bool = False,
    patch_mode: PatchMode = PatchMode.AUTOMATIC_BY_PLATFORM,
) -> VmTarget:
    return VmTarget(
        id=vm_id(subscription, name),
        location=region,
        os_type=OsType.WINDOWS,
        patch_mode=patch_mode,
        enable_hotpatching=hotpatch,
        power_state=power_state,
    )


def assignment(vm: VmTarget, phase: int, start_minute: int, length: int = 90) -> Assignment:
    start = RELEASE + timedelta(minutes=start_minute)
    return Assignment(
        vm=vm.id,
        phase=phase,
        start=start,
        end=start + timedelta(minutes=length),
        reboot_setting=RebootSetting.IF_REQUIRED,
        exclude_kbs_requiring_reboot=False,
    )


def plan_of(assignments: list[Assignment]) -> Plan:
    return Plan(make_cycle("2026-12"), (), tuple(assignments), (), 0.0, 0.0)


@st.composite
def fleets_with_plans(draw: st.DrawFn, max_vms: int = 250) -> tuple[list[VmTarget], Plan]:
    """VMs spread over three subscriptions and regions, each with a slot in one of three
    phases; starts drawn from a few minutes, so that many slots share one. The VMs come
    from a seeded generator: per-VM draws would make large fleets slow to generate."""
    count = draw(st.integers(0, max_vms))
    starts = draw(st.lists(st.integers(0, 3000), min_size=1, max_size=40))
    rng = draw(st.randoms(use_true_random=False))
    vms: list[VmTarget] = []
    slots: list[Assignment] = []
    for i in range(count):
        vm = target(rng.choice(SUBSCRIPTIONS), rng.choice(REGIONS), f"vm-{i:04d}")
        vms.append(vm)
        slots.append(
            assignment(vm, rng.randrange(3), rng.choice(starts), rng.choice((30, 90, 240)))
        )
    return vms, plan_of(slots)
