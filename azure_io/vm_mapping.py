"""Translations between ARM compute JSON or models and the app's values (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.mgmt.compute import models as arm

from azure_io.compute_outcomes import (
    HealthState,
    HealthVerdict,
    InProgress,
    OperationFailed,
    Started,
)
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
_FAILED_STATUSES = {"failed", "canceled", "cancelled"}


def vm_target(vm: Mapping[str, Any], status: Mapping[str, Any] | None) -> VmTarget:
    """One VM of ``list_all`` joined with its instance view from ``list_all(statusOnly)``,
    both as ARM's JSON; ValueError names a field that is not what ARM documents."""
    properties = _object(vm, "properties")
    os_profile = _object(properties, "osProfile")
    windows = _object_or_none(os_profile, "windowsConfiguration")
    linux = _object_or_none(os_profile, "linuxConfiguration")
    storage = _object(properties, "storageProfile")
    os_type = _os_type(_object(storage, "osDisk"), has_windows_config=windows is not None)
    if os_type is OsType.WINDOWS:
        settings = _object(windows or {}, "patchSettings")
        default_mode = PatchMode.AUTOMATIC_BY_OS  # ARM's default for Windows
    else:
        settings = _object(linux or {}, "patchSettings")
        default_mode = PatchMode.IMAGE_DEFAULT  # ARM's default for Linux
    view = status or {}
    zones = vm.get("zones") or []
    tags = vm.get("tags") or {}
    if not isinstance(zones, list) or not isinstance(tags, dict):
        raise ValueError(f"VM {vm.get('id')}: zones must be a list and tags an object")
    return VmTarget(
        id=_text_field(vm, "id", required=True) or "",
        location=_text_field(vm, "location", required=True) or "",
        os_type=os_type,
        patch_mode=_patch_mode(_text_field(settings, "patchMode"), default_mode),
        zone=str(zones[0]) if zones else None,
        availability_set=_text_field(_object(properties, "availabilitySet"), "id"),
        update_domain=_int_field(view, "platformUpdateDomain"),
        fault_domain=_int_field(view, "platformFaultDomain"),
        enable_hotpatching=bool(_object(windows or {}, "patchSettings").get("enableHotpatching")),
        image_sku=_text_field(_object(storage, "imageReference"), "sku"),
        time_zone=_text_field(windows, "timeZone") if windows else None,
        power_state=power_state(
            status.get("code") for status in view.get("statuses") or () if isinstance(status, dict)
        ),
        tags={str(name): str(value) for name, value in tags.items()},
    )


def hotpatch_update_body(enabled: bool) -> dict[str, Any]:
    """A VM update (PATCH) that sets `enableHotpatching` and nothing else."""
    settings = {"enableHotpatching": enabled}
    return {"properties": {"osProfile": {"windowsConfiguration": {"patchSettings": settings}}}}


def hotpatch_flag(vm: Mapping[str, Any]) -> bool:
    """`enableHotpatching` of a VM's JSON (absent is off)."""
    windows = _object(_object(_object(vm, "properties"), "osProfile"), "windowsConfiguration")
    return _object(windows, "patchSettings").get("enableHotpatching") is True


def _os_type(os_disk: Mapping[str, Any], *, has_windows_config: bool) -> OsType:
    disk_os = _text_field(os_disk, "osType")
    if disk_os is not None:
        return OsType.WINDOWS if disk_os.lower() == "windows" else OsType.LINUX
    return OsType.WINDOWS if has_windows_config else OsType.LINUX


def _patch_mode(value: str | None, default: PatchMode) -> PatchMode:
    if value is None:
        return default
    try:
        return PatchMode(value)
    except ValueError:
        # A mode this app does not know is treated as not enrolled: never patched by a cycle.
        return PatchMode.MANUAL


def _object_or_none(parent: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = parent.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise ValueError(f"{key} must be a JSON object, got {type(value).__name__}")


def _object(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _object_or_none(parent, key) or {}


def _text_field(parent: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = parent.get(key)
    if isinstance(value, str) and (value or not required):
        return value
    if value is None and not required:
        return None
    raise ValueError(f"{key} must be a{' non-empty' if required else ''} string, got {value!r}")


def _int_field(parent: Mapping[str, Any], key: str) -> int | None:
    value = parent.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{key} must be an integer, got {value!r}")


def power_state(codes: Iterable[str | None]) -> PowerState:
    """The power state among an instance view's status codes (``PowerState/running``...)."""
    for code in codes:
        lowered = (code or "").lower()
        if lowered.startswith(_POWER_PREFIX):
            try:
                return PowerState(lowered.removeprefix(_POWER_PREFIX))
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


def assessment_result(vm_id: str, output: Mapping[str, Any]) -> AssessmentResult:
    """An assessment's ``properties.output`` as ARM's JSON (VirtualMachineAssessPatchesResult);
    ValueError names a field that is not what ARM documents."""
    return AssessmentResult(
        vm_id=vm_id,
        status=_text_field(output, "status") or "Unknown",
        started_at=_time_field(output, "startDateTime"),
        reboot_pending=bool(output.get("rebootPending")),
        critical_and_security_patch_count=_int_field(output, "criticalAndSecurityPatchCount") or 0,
        other_patch_count=_int_field(output, "otherPatchCount") or 0,
        available_patches=tuple(
            AvailablePatch(
                kb_id=_text_field(patch, "kbId"),
                name=_text_field(patch, "name"),
                classifications=_texts(patch, "classifications"),
                reboot_behavior=_text_field(patch, "rebootBehavior"),
                published_date=_time_field(patch, "publishedDate"),
            )
            for patch in _objects(output, "availablePatches")
        ),
        error=_output_error(output),
        activity_id=_text_field(output, "assessmentActivityId") or None,
    )


def install_result(
    vm_id: str, output: Mapping[str, Any], *, ended_at: datetime | None = None
) -> InstallResult:
    """An install's ``properties.output`` as ARM's JSON (VirtualMachineInstallPatchesResult)
    and when it ended; ValueError names a field that is not what ARM documents."""
    return InstallResult(
        vm_id=vm_id,
        status=_text_field(output, "status") or "Unknown",
        started_at=_time_field(output, "startDateTime"),
        reboot_status=_text_field(output, "rebootStatus"),
        maintenance_window_exceeded=bool(output.get("maintenanceWindowExceeded")),
        installed_patch_count=_int_field(output, "installedPatchCount") or 0,
        failed_patch_count=_int_field(output, "failedPatchCount") or 0,
        pending_patch_count=_int_field(output, "pendingPatchCount") or 0,
        excluded_patch_count=_int_field(output, "excludedPatchCount") or 0,
        not_selected_patch_count=_int_field(output, "notSelectedPatchCount") or 0,
        patches=tuple(
            InstalledPatch(
                kb_id=_text_field(patch, "kbId"),
                name=_text_field(patch, "name"),
                classifications=_texts(patch, "classifications"),
                installation_state=_text_field(patch, "installationState"),
            )
            for patch in _objects(output, "patches")
        ),
        error=_output_error(output),
        activity_id=_text_field(output, "installationActivityId") or None,
        ended_at=ended_at,
    )


def _objects(parent: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = parent.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"{key} must be a list of JSON objects, got {value!r}")
    return value


def _texts(parent: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = parent.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _time_field(parent: Mapping[str, Any], key: str) -> datetime | None:
    text = _text_field(parent, key)
    if text is None:
        return None
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError as error:
        raise ValueError(f"{key} must be an ISO 8601 time, got {text!r}") from error


def _output_error(output: Mapping[str, Any]) -> OperationError | None:
    error = _object(output, "error")
    code, message = _text_field(error, "code") or "", _text_field(error, "message") or ""
    return OperationError(code=code, message=message) if code or message else None


def health_verdict(vm_id: str, view: arm.VirtualMachineInstanceView) -> HealthVerdict:
    """Healthy only when running, the VM agent is ready and (where the Application Health
    extension reports) the application is healthy; the reason names the first failing signal."""
    power = power_state(status.code for status in view.statuses or ())
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


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class OperationOutput:
    """A Succeeded operation's ``properties.output`` and its status body's ``endTime``."""

    output: Mapping[str, Any]
    ended_at: datetime | None


def operation_status(
    started: Started, body: Mapping[str, Any]
) -> OperationOutput | InProgress | OperationFailed:
    """What an operation's status body says: still running, ended Failed or Canceled (with
    the body's error), or Succeeded with ``properties.output``, the operation's result.
    ValueError for a Succeeded body without an output object."""
    status = str(body.get("status") or "")
    if status.lower() in _FAILED_STATUSES:
        code, message = error_fields(body)
        return OperationFailed(
            started.vm_id, started.kind, code or status, message or f"the operation ended {status}"
        )
    if status.lower() != "succeeded":
        return InProgress(started.vm_id, started.kind)
    properties = body.get("properties")
    output = properties.get("output") if isinstance(properties, dict) else None
    if not isinstance(output, dict):
        raise ValueError("a Succeeded status without a properties.output object")
    return OperationOutput(output, _time_field(body, "endTime"))


def error_fields(body: Mapping[str, Any] | None) -> tuple[str, str]:
    """(code, message) of an ARM error body {"error": {...}} or an operation status body."""
    error = (body or {}).get("error") or {}
    return str(error.get("code") or ""), str(error.get("message") or "")
