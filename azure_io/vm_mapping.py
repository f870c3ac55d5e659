"""Translations between ARM compute models and the app's values (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.mgmt.compute import models as arm

from azure_io.compute_outcomes import HealthState, HealthVerdict
from azure_io.patch_results import (
    AssessmentResult,
    AvailablePatch,
    InstalledPatch,
    InstallRequest,
    InstallResult,
    OperationError,
)
from patching.models import Classification, OsType, PatchMode, PowerState, VmTarget

_POWER_PREFIX = "powerstate/"
_HEALTH_PREFIX = "healthstate/"
_LINUX_CLASSIFICATIONS = {Classification.CRITICAL, Classification.SECURITY}


def vm_target(vm: arm.VirtualMachine, status: arm.VirtualMachineInstanceView | None) -> VmTarget:
    """One VM from ``list_all`` joined with its instance view from ``list_all(statusOnly)``."""
    os_profile = vm.os_profile
    windows = os_profile.windows_configuration if os_profile else None
    linux = os_profile.linux_configuration if os_profile else None
    os_type = _os_type(vm, has_windows_config=windows is not None)
    if os_type is OsType.WINDOWS:
        settings: Any = windows.patch_settings if windows else None
        default_mode = PatchMode.AUTOMATIC_BY_OS  # ARM's default for Windows
    else:
        settings = linux.patch_settings if linux else None
        default_mode = PatchMode.IMAGE_DEFAULT  # ARM's default for Linux
    image = vm.storage_profile.image_reference if vm.storage_profile else None
    return VmTarget(
        id=str(vm.id),
        location=str(vm.location),
        os_type=os_type,
        patch_mode=_patch_mode(settings.patch_mode if settings else None, default_mode),
        zone=vm.zones[0] if vm.zones else None,
        availability_set=vm.availability_set.id if vm.availability_set else None,
        update_domain=status.platform_update_domain if status else None,
        fault_domain=status.platform_fault_domain if status else None,
        enable_hotpatching=bool(
            windows and windows.patch_settings and windows.patch_settings.enable_hotpatching
        ),
        image_sku=image.sku if image else None,
        time_zone=windows.time_zone if windows else None,
        power_state=power_state(status.statuses if status else None),
        tags=dict(vm.tags or {}),
    )


def _os_type(vm: arm.VirtualMachine, *, has_windows_config: bool) -> OsType:
    disk = vm.storage_profile.os_disk if vm.storage_profile else None
    if disk is not None and disk.os_type is not None:
        return OsType.WINDOWS if str(disk.os_type.lower()) == "windows" else OsType.LINUX
    return OsType.WINDOWS if has_windows_config else OsType.LINUX


def _patch_mode(value: str | None, default: PatchMode) -> PatchMode:
    if value is None:
        return default
    try:
        return PatchMode(value)
    except ValueError:
        # A mode this app does not know is treated as not enrolled: never patched by a cycle.
        return PatchMode.MANUAL


def power_state(statuses: Iterable[arm.InstanceViewStatus] | None) -> PowerState:
    for status in statuses or ():
        code = (status.code or "").lower()
        if code.startswith(_POWER_PREFIX):
            try:
                return PowerState(code.removeprefix(_POWER_PREFIX))
            except ValueError:
                return PowerState.UNKNOWN
    return PowerState.UNKNOWN


def install_parameters(request: InstallRequest) -> arm.VirtualMachineInstallPatchesParameters:
    if request.os_type is OsType.WINDOWS:
        return arm.VirtualMachineInstallPatchesParameters(
            maximum_duration=request.maximum_duration,
            reboot_setting=request.reboot_setting.value,
            windows_parameters=arm.WindowsParameters(
                classifications_to_include=[c.value for c in request.classifications],
                kb_numbers_to_include=list(request.kb_numbers_to_include) or None,
                kb_numbers_to_exclude=list(request.kb_numbers_to_exclude) or None,
                exclude_kbs_requiring_reboot=request.exclude_kbs_requiring_reboot,
                max_patch_publish_date=request.max_patch_publish_date,
            ),
        )
    # Linux knows Critical, Security and Other; every Windows-only class maps to Other.
    linux_classes = sorted(
        {c.value if c in _LINUX_CLASSIFICATIONS else "Other" for c in request.classifications}
    )
    return arm.VirtualMachineInstallPatchesParameters(
        maximum_duration=request.maximum_duration,
        reboot_setting=request.reboot_setting.value,
        linux_parameters=arm.LinuxParameters(
            classifications_to_include=linux_classes,
            package_name_masks_to_include=list(request.package_name_masks_to_include) or None,
            package_name_masks_to_exclude=list(request.package_name_masks_to_exclude) or None,
        ),
    )


def assessment_result(vm_id: str, model: arm.VirtualMachineAssessPatchesResult) -> AssessmentResult:
    return AssessmentResult(
        vm_id=vm_id,
        status=_text(model.status) or "Unknown",
        started_at=_utc(model.start_date_time),
        reboot_pending=bool(model.reboot_pending),
        critical_and_security_patch_count=model.critical_and_security_patch_count or 0,
        other_patch_count=model.other_patch_count or 0,
        available_patches=tuple(
            AvailablePatch(
                kb_id=patch.kb_id,
                name=patch.name,
                classifications=tuple(patch.classifications or ()),
                reboot_behavior=_text(patch.reboot_behavior),
                published_date=_utc(patch.published_date),
            )
            for patch in model.available_patches or ()
        ),
        error=_error(model.error),
        activity_id=model.assessment_activity_id or None,
    )


def install_result(vm_id: str, model: arm.VirtualMachineInstallPatchesResult) -> InstallResult:
    return InstallResult(
        vm_id=vm_id,
        status=_text(model.status) or "Unknown",
        started_at=_utc(model.start_date_time),
        reboot_status=_text(model.reboot_status),
        maintenance_window_exceeded=bool(model.maintenance_window_exceeded),
        installed_patch_count=model.installed_patch_count or 0,
        failed_patch_count=model.failed_patch_count or 0,
        pending_patch_count=model.pending_patch_count or 0,
        excluded_patch_count=model.excluded_patch_count or 0,
        not_selected_patch_count=model.not_selected_patch_count or 0,
        patches=tuple(
            InstalledPatch(
                kb_id=patch.kb_id,
                name=patch.name,
                classifications=tuple(patch.classifications or ()),
                installation_state=_text(patch.installation_state),
            )
            for patch in model.patches or ()
        ),
        error=_error(model.error),
        activity_id=model.installation_activity_id or None,
    )


def health_verdict(vm_id: str, view: arm.VirtualMachineInstanceView) -> HealthVerdict:
    """Healthy only when running, the VM agent is ready and (where the Application Health
    extension reports) the application is healthy; the reason names the first failing signal."""
    power = power_state(view.statuses)
    agent_statuses = (view.vm_agent.statuses if view.vm_agent else None) or []
    agent_ready = (
        any((status.display_status or "").lower() == "ready" for status in agent_statuses)
        if agent_statuses
        else None
    )
    app_health = _app_health(view)

    def verdict(state: HealthState, reason: str) -> HealthVerdict:
        return HealthVerdict(vm_id, state, reason, power, agent_ready, app_health)

    if power is not PowerState.RUNNING:
        return verdict(HealthState.UNHEALTHY, f"power state is {power.value}, not running")
    if agent_ready is None:
        return verdict(HealthState.UNHEALTHY, "the VM agent reports no status")
    if not agent_ready:
        detail = "; ".join(filter(None, (s.display_status or s.message for s in agent_statuses)))
        return verdict(HealthState.UNHEALTHY, f"the VM agent is not ready ({detail})")
    if app_health is not None and app_health != "healthy":
        return verdict(
            HealthState.UNHEALTHY, f"the Application Health extension reports {app_health}"
        )
    extension_note = "application healthy" if app_health else "no Application Health extension"
    return verdict(HealthState.HEALTHY, f"running, VM agent ready, {extension_note}")


def _app_health(view: arm.VirtualMachineInstanceView) -> str | None:
    """The Application Health extension's verdict (healthy, unhealthy, unknown...), if any."""
    status = view.vm_health.status if view.vm_health else None
    if status is not None and status.code:
        return status.code.lower().removeprefix(_HEALTH_PREFIX)
    for extension in view.extensions or ():
        if "applicationhealth" in (extension.type or "").lower():
            levels = {str(s.level or "").lower() for s in extension.statuses or ()}
            return "unhealthy" if "error" in levels else "unknown"
    return None


def _error(error: arm.ApiError | None) -> OperationError | None:
    if error is None or not (error.code or error.message):
        return None
    return OperationError(code=error.code or "", message=error.message or "")


def _text(value: object | None) -> str | None:
    # SDK enums are str subclasses; keep ARM's word, not the enum's repr.
    return None if value is None else str.__str__(value) if isinstance(value, str) else str(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def error_fields(body: Mapping[str, Any] | None) -> tuple[str, str]:
    """(code, message) of an ARM error body {"error": {...}} or an operation status body."""
    error = (body or {}).get("error") or {}
    return str(error.get("code") or ""), str(error.get("message") or "")
