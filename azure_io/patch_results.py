"""Typed values the compute adapter returns and the table repository records.

All frozen; times are timezone-aware UTC. Statuses keep ARM's words (``Succeeded``,
``Failed``, ``CompletedWithWarnings``, ``InProgress``...) as plain strings, because ARM
adds new ones and a recorder must not crash on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from patching.models import Classification, OsType, RebootSetting


@dataclass(frozen=True, slots=True)
class AvailablePatch:
    kb_id: str | None
    name: str | None
    classifications: tuple[str, ...]
    reboot_behavior: str | None
    published_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class InstalledPatch:
    kb_id: str | None
    name: str | None
    classifications: tuple[str, ...]
    installation_state: str | None


@dataclass(frozen=True, slots=True)
class OperationError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AssessmentResult:
    """The outcome of ``assessPatches`` on one VM."""

    vm_id: str
    status: str
    started_at: datetime | None
    reboot_pending: bool
    critical_and_security_patch_count: int
    other_patch_count: int
    available_patches: tuple[AvailablePatch, ...] = ()
    error: OperationError | None = None
    # ARM's assessmentActivityId: what identifies the operation when it has no start time.
    activity_id: str | None = None


@dataclass(frozen=True, slots=True)
class InstallResult:
    """The outcome of ``installPatches`` on one VM."""

    vm_id: str
    status: str
    started_at: datetime | None
    reboot_status: str | None
    maintenance_window_exceeded: bool
    installed_patch_count: int
    failed_patch_count: int
    pending_patch_count: int
    excluded_patch_count: int
    not_selected_patch_count: int
    patches: tuple[InstalledPatch, ...] = ()
    error: OperationError | None = None
    # ARM's installationActivityId: what identifies the operation when it has no start time.
    activity_id: str | None = None
    # When the operation ended (its status body's endTime), for the VM's install durations.
    ended_at: datetime | None = None
    # The maximumDuration the install was started with, in minutes: the app's, not ARM's.
    maximum_duration_minutes: int | None = None


def failed_install(
    vm_id: str, code: str, message: str, *, started_at: datetime | None = None
) -> InstallResult:
    """An install that did not run (refused, not started, timed out), recorded as Failed."""
    return InstallResult(
        vm_id=vm_id,
        status="Failed",
        started_at=started_at,
        reboot_status=None,
        maintenance_window_exceeded=False,
        installed_patch_count=0,
        failed_patch_count=0,
        pending_patch_count=0,
        excluded_patch_count=0,
        not_selected_patch_count=0,
        error=OperationError(code, message),
    )


@dataclass(frozen=True, slots=True)
class InstallRequest:
    """What ``installPatches`` should do on one VM; OS-specific parameters follow ``os_type``."""

    os_type: OsType
    maximum_duration: timedelta
    reboot_setting: RebootSetting = RebootSetting.IF_REQUIRED
    classifications: tuple[Classification, ...] = (
        Classification.CRITICAL,
        Classification.SECURITY,
    )
    kb_numbers_to_include: tuple[str, ...] = ()
    kb_numbers_to_exclude: tuple[str, ...] = ()
    exclude_kbs_requiring_reboot: bool = False
    max_patch_publish_date: datetime | None = None
    package_name_masks_to_include: tuple[str, ...] = ()
    package_name_masks_to_exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.maximum_duration <= timedelta(0):
            raise ValueError("maximum_duration must be positive")
