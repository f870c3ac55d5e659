"""The patching domain's vocabulary: frozen values, str enums, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from patching.resource_ids import VmId


class OsType(StrEnum):
    WINDOWS = "Windows"
    LINUX = "Linux"


class PatchMode(StrEnum):
    AUTOMATIC_BY_PLATFORM = "AutomaticByPlatform"
    AUTOMATIC_BY_OS = "AutomaticByOS"
    MANUAL = "Manual"
    IMAGE_DEFAULT = "ImageDefault"


class PowerState(StrEnum):
    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DEALLOCATING = "deallocating"
    DEALLOCATED = "deallocated"
    UNKNOWN = "unknown"


class ReleaseKind(StrEnum):
    HOTPATCH = "hotpatch"
    PLANNED_BASELINE = "plannedBaseline"
    UNPLANNED_BASELINE = "unplannedBaseline"

    @property
    def is_baseline(self) -> bool:
        return self is not ReleaseKind.HOTPATCH


class RebootSetting(StrEnum):
    IF_REQUIRED = "IfRequired"
    NEVER = "Never"
    ALWAYS = "Always"


class Classification(StrEnum):
    CRITICAL = "Critical"
    SECURITY = "Security"
    UPDATE_ROLLUP = "UpdateRollUp"
    FEATURE_PACK = "FeaturePack"
    SERVICE_PACK = "ServicePack"
    DEFINITION = "Definition"
    TOOLS = "Tools"
    UPDATES = "Updates"
    OTHER = "Other"


CYCLE_CLASSIFICATIONS: tuple[Classification, ...] = (
    Classification.CRITICAL,
    Classification.SECURITY,
)


def _frozen_tags(tags: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(tags or {}))


@dataclass(frozen=True, slots=True)
class VmTarget:
    """One VM as the planner and the rollout see it (from the fleet file or from ARM)."""

    id: str
    location: str
    os_type: OsType
    patch_mode: PatchMode
    zone: str | None = None
    availability_set: str | None = None
    update_domain: int | None = None
    fault_domain: int | None = None
    enable_hotpatching: bool = False
    image_sku: str | None = None
    time_zone: str | None = None
    power_state: PowerState = PowerState.RUNNING
    tags: Mapping[str, str] = field(default_factory=lambda: _frozen_tags(None))
    # How long its installs usually take (learned from history, or the fleet file's
    # expectedInstallMinutes); sizes its slot (`patching.slots`). None: no history.
    expected_install_minutes: int | None = None
    vm_id: VmId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """`id` must be a VM id (ResourceIdError otherwise); it is parsed once, here."""
        object.__setattr__(self, "vm_id", VmId.parse(self.id))
        if not isinstance(self.tags, MappingProxyType):
            object.__setattr__(self, "tags", _frozen_tags(self.tags))

    @property
    def key(self) -> str:
        """ARM ids compare case-insensitively."""
        return self.vm_id.key

    @property
    def subscription_id(self) -> str:
        return self.vm_id.subscription_id.lower()

    @property
    def resource_group(self) -> str:
        return self.vm_id.resource_group

    @property
    def name(self) -> str:
        return self.vm_id.name

    @property
    def region(self) -> str:
        return normalize_region(self.location)

    @property
    def availability_set_key(self) -> str | None:
        return self.availability_set.lower() if self.availability_set else None


def normalize_region(name: str) -> str:
    """ARM accepts 'East US' and 'eastus' alike; the programmatic name is canonical."""
    return name.replace(" ", "").lower()


@dataclass(frozen=True, slots=True)
class Release:
    kind: ReleaseKind
    released_at: datetime
    release_id: str | None = None


@dataclass(frozen=True, slots=True)
class Cycle:
    """One monthly cycle: the release it patches and the deadline it must meet."""

    id: str
    release: Release
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Phase:
    index: int
    regions: tuple[str, ...]
    start: datetime
    end: datetime
    retry: bool = False


@dataclass(frozen=True, slots=True)
class Assignment:
    """A VM's install slot; its length is the maximumDuration the install gets."""

    vm: str
    phase: int
    start: datetime
    end: datetime
    reboot_setting: RebootSetting
    exclude_kbs_requiring_reboot: bool
    classifications: tuple[Classification, ...] = CYCLE_CLASSIFICATIONS


@dataclass(frozen=True, slots=True)
class Skip:
    vm: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    cycle: Cycle
    phases: tuple[Phase, ...]
    assignments: tuple[Assignment, ...]
    skipped: tuple[Skip, ...]
    makespan_hours: float
    lower_bound_hours: float
