"""Sample plan groups, discovered VMs and started operations for the store tests."""

from datetime import datetime, timedelta

from table_samples import NOW, SUB_A, vm_id

from azure_io.compute_outcomes import OperationKind, Started
from azure_io.rollout_records import OperationInFlight, PlanGroupRows
from patching.models import Assignment, Classification, RebootSetting

STATUS_URL = (
    f"https://management.azure.com/subscriptions/{SUB_A}/providers/Microsoft.Compute"
    "/locations/eastus/operations/op-1?api-version=2026-04-01"
)


def slot(vm: str, start: datetime, *, phase: int = 0, hours: int = 2) -> Assignment:
    return Assignment(
        vm=vm,
        phase=phase,
        start=start,
        end=start + timedelta(hours=hours),
        reboot_setting=RebootSetting.IF_REQUIRED,
        exclude_kbs_requiring_reboot=False,
    )


def group(
    group_id: str, count: int, *, phase: int = 0, sub: str = SUB_A, retry: bool = False
) -> PlanGroupRows:
    """``count`` VMs named after the group, an hour apart from NOW (a day per phase)."""
    start = NOW + timedelta(days=phase)
    return PlanGroupRows(
        group_id,
        phase,
        tuple(
            slot(
                vm_id(f"{group_id}-vm-{index:03}", sub), start + timedelta(hours=index), phase=phase
            )
            for index in range(count)
        ),
        retry=retry,
    )


def hotpatch_slot(vm: str, start: datetime) -> Assignment:
    return Assignment(
        vm=vm,
        phase=1,
        start=start,
        end=start + timedelta(minutes=90),
        reboot_setting=RebootSetting.NEVER,
        exclude_kbs_requiring_reboot=True,
        classifications=(Classification.CRITICAL, Classification.SECURITY, Classification.UPDATES),
    )


def started(
    vm: str, kind: OperationKind = OperationKind.INSTALL, *, token: str = STATUS_URL
) -> OperationInFlight:
    if kind is OperationKind.ASSESSMENT:
        return OperationInFlight(Started(vm, kind, token), started_at=NOW)
    return OperationInFlight(
        Started(vm, kind, token),
        started_at=NOW,
        cycle="2026-12",
        slot_end=NOW + timedelta(hours=2),
        activity_id="a1b2c3d4-0000-4000-8000-000000000001",
    )
