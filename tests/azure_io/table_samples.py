"""Sample VMs and results shared by the patch store tests."""

from datetime import UTC, datetime

from azure_io.patch_results import (
    AssessmentResult,
    AvailablePatch,
    InstalledPatch,
    InstallResult,
    OperationError,
)

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"
NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def vm_id(name: str, sub: str = SUB_A, group: str = "RG-Web") -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def assessment(vm: str, at: datetime, *, critical: int = 2) -> AssessmentResult:
    return AssessmentResult(
        vm_id=vm,
        status="Succeeded",
        started_at=at,
        reboot_pending=False,
        critical_and_security_patch_count=critical,
        other_patch_count=1,
        available_patches=(
            AvailablePatch("5048654", "2026-12 CU", ("Security",), "NeverReboots", at),
        ),
    )


def install(vm: str, at: datetime, *, status: str = "Succeeded") -> InstallResult:
    return InstallResult(
        vm_id=vm,
        status=status,
        started_at=at,
        reboot_status="NotNeeded",
        maintenance_window_exceeded=False,
        installed_patch_count=1,
        failed_patch_count=0 if status == "Succeeded" else 1,
        pending_patch_count=0,
        excluded_patch_count=0,
        not_selected_patch_count=3,
        patches=(InstalledPatch("5048654", "2026-12 CU", ("Security",), "Installed"),),
        error=None if status == "Succeeded" else OperationError("PatchFailed", "KB failed"),
    )
