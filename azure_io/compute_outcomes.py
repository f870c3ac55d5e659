"""What a compute call can come back with, as values the orchestrator can branch on.

Per-VM calls return one of these instead of raising for the expected cases (throttled,
VM off, operation failed, request refused), so an activity hands a small, typed answer
back to its orchestrator. Only misconfiguration and exhausted transient retries raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from azure_io.errors import AzureIoError
from azure_io.patch_results import AssessmentResult, InstallResult
from patching.models import PowerState


class OperationKind(StrEnum):
    ASSESSMENT = "assessPatches"
    INSTALL = "installPatches"


@dataclass(frozen=True, slots=True)
class Started:
    """A long-running operation ARM accepted; check it later at its status URL (ARM's
    ``Azure-AsyncOperation``, or ``Location`` when ARM names no other)."""

    vm_id: str
    kind: OperationKind
    status_url: str


@dataclass(frozen=True, slots=True)
class InProgress:
    vm_id: str
    kind: OperationKind


@dataclass(frozen=True, slots=True)
class Throttled:
    """ARM answered 429; come back after ``retry_after_seconds`` (never slept on here)."""

    retry_after_seconds: float
    vm_id: str | None = None


@dataclass(frozen=True, slots=True)
class VmNotRunning:
    """ARM refused with 409: the VM is off/deallocated or busy with another operation."""

    vm_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OperationFailed:
    """The operation ended in Failed/Canceled, or ARM refused the request (4xx)."""

    vm_id: str
    kind: OperationKind
    code: str
    message: str
    http_status: int | None = None


class HealthState(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    """A VM's health after an install, from platform signals, with the reason for it."""

    vm_id: str
    state: HealthState
    reason: str
    power_state: PowerState
    agent_ready: bool | None
    app_health: str | None

    @property
    def healthy(self) -> bool:
        return self.state is HealthState.HEALTHY


@dataclass(frozen=True, slots=True)
class HotpatchSet:
    """ARM took the VM's new `enableHotpatching` (its answer shows the flag as asked)."""

    vm_id: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class VmUpdateRefused:
    """ARM refused the VM update (a 4xx it will answer again: image, patch mode, VM gone)."""

    vm_id: str
    code: str
    message: str
    status_code: int | None = None


StartOutcome = Started | Throttled | VmNotRunning | OperationFailed
HotpatchOutcome = HotpatchSet | VmUpdateRefused | Throttled
AssessmentCheck = InProgress | AssessmentResult | OperationFailed | Throttled
InstallCheck = InProgress | InstallResult | OperationFailed | Throttled
HealthCheck = HealthVerdict | Throttled


class ArmCallError(AzureIoError, RuntimeError):
    """An ARM call failed in a way no caller can act on but by reporting it."""


class ArmThrottledError(ArmCallError):
    """Raised by calls that return data (discovery, regions) when ARM answers 429."""

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
