"""Who the cycle patches, and how: enrolment, classifications, reboot (docs/DOMAIN.md 1 and 3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from patching.models import (
    CYCLE_CLASSIFICATIONS,
    Classification,
    OsType,
    PatchMode,
    RebootSetting,
    ReleaseKind,
    VmTarget,
)


def skip_reason(vm: VmTarget) -> str | None:
    """Why the scheduled cycle leaves this VM alone, or None when it is enrolled."""
    if vm.patch_mode is not PatchMode.AUTOMATIC_BY_PLATFORM:
        return f"patchMode is {vm.patch_mode.value}, not AutomaticByPlatform"
    return None


def is_hotpatch_enabled(vm: VmTarget) -> bool:
    """Hotpatch needs Windows, AutomaticByPlatform and the flag itself."""
    return (
        vm.enable_hotpatching
        and vm.os_type is OsType.WINDOWS
        and vm.patch_mode is PatchMode.AUTOMATIC_BY_PLATFORM
    )


def installs_as_hotpatch(vm: VmTarget, kind: ReleaseKind) -> bool:
    """Rule 7: a hotpatch-enabled VM in a hotpatch month installs without rebooting."""
    return kind is ReleaseKind.HOTPATCH and is_hotpatch_enabled(vm)


@dataclass(frozen=True, slots=True)
class InstallSettings:
    reboot_setting: RebootSetting
    exclude_kbs_requiring_reboot: bool
    classifications: tuple[Classification, ...] = CYCLE_CLASSIFICATIONS


def cycle_install_settings(vm: VmTarget, kind: ReleaseKind) -> InstallSettings:
    """Hotpatch-enabled VMs never reboot in a hotpatch month; everything else may if required."""
    if installs_as_hotpatch(vm, kind):
        return InstallSettings(RebootSetting.NEVER, exclude_kbs_requiring_reboot=True)
    return InstallSettings(RebootSetting.IF_REQUIRED, exclude_kbs_requiring_reboot=False)


class ComplianceState(StrEnum):
    COMPLIANT = "compliant"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class MissingPatch:
    kb_id: str
    classifications: tuple[str, ...]
    reboot_behavior: str

    @property
    def is_cycle_patch(self) -> bool:
        return any(c in {x.value for x in CYCLE_CLASSIFICATIONS} for c in self.classifications)

    @property
    def needs_reboot(self) -> bool:
        return self.reboot_behavior != "NeverReboots"


@dataclass(frozen=True, slots=True)
class ComplianceVerdict:
    state: ComplianceState
    missing_kbs: tuple[str, ...]
    deferred_kbs: tuple[str, ...]

    @property
    def reason(self) -> str:
        if self.state is ComplianceState.PENDING:
            return f"missing Critical/Security: {', '.join(self.missing_kbs)}"
        if self.deferred_kbs:
            return f"deferred to the next baseline: {', '.join(self.deferred_kbs)}"
        return "no Critical or Security patch missing"


def compliance(
    vm: VmTarget, kind: ReleaseKind, missing: Iterable[MissingPatch]
) -> ComplianceVerdict:
    """Only Critical and Security count; a hotpatch VM in a hotpatch month defers reboot ones."""
    cycle_patches = [p for p in missing if p.is_cycle_patch]
    defer = installs_as_hotpatch(vm, kind)
    deferred = tuple(sorted(p.kb_id for p in cycle_patches if defer and p.needs_reboot))
    outstanding = tuple(sorted(p.kb_id for p in cycle_patches if p.kb_id not in deferred))
    state = ComplianceState.PENDING if outstanding else ComplianceState.COMPLIANT
    return ComplianceVerdict(state, outstanding, deferred)
