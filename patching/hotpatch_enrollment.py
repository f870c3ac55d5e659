"""Who may have hotpatch turned on, and when (docs/DOMAIN.md section 3).

Turning hotpatch off is always allowed: the VM returns to normal updates. Turning it on
needs what Azure needs (Windows, `AutomaticByPlatform`, a Windows Server Azure Edition
image) and a baseline month: hotpatches apply on top of the latest baseline, so a VM
enrolled in a hotpatch month would have its reboot-needing patches deferred without ever
having had the baseline. It re-enrolls at the next baseline, as the brief says.
"""

from __future__ import annotations

from patching.models import Cycle, OsType, PatchMode, ReleaseKind, VmTarget

AZURE_EDITION = "azure-edition"


def enrollment_refusal(vm: VmTarget, cycle: Cycle) -> str | None:
    """Why hotpatch cannot be turned on for `vm` while `cycle` is the one in force, or None.

    A VM that already has it has nothing to refuse."""
    if vm.enable_hotpatching:
        return None
    if vm.os_type is not OsType.WINDOWS:
        return f"hotpatch is for Windows; {vm.id} runs {vm.os_type.value}"
    if vm.patch_mode is not PatchMode.AUTOMATIC_BY_PLATFORM:
        return f"hotpatch needs patchMode AutomaticByPlatform; {vm.id} has {vm.patch_mode.value}"
    if vm.image_sku is None or AZURE_EDITION not in vm.image_sku.lower():
        return (
            f"hotpatch needs a Windows Server Azure Edition image; {vm.id} has image SKU "
            f"{vm.image_sku or 'unknown'}"
        )
    if cycle.release.kind is ReleaseKind.HOTPATCH:
        return (
            f"hotpatch starts at a baseline and cycle {cycle.id} is a hotpatch month's: turn it "
            "on in a baseline month"
        )
    return None
