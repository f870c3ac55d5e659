"""The fleet file (docs/CONTRACTS.md section 2) read into what the simulator needs.

`patching.fleet` validates it (one schema for the planner and the simulator);
this module only turns the valid document into the simulator's specs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import patching.fleet as patching_fleet
from fleetsim.vm_ids import parse_vm_id
from patching.models import normalize_region

DEFAULT_PAGE_SIZE = 50
# The image SKU a VM reports when the fleet file gives none.
DEFAULT_WINDOWS_SKU = "2022-datacenter-azure-edition"
DEFAULT_LINUX_SKU = "22_04-lts-gen2"


class FleetError(ValueError):
    """The fleet file is not what docs/CONTRACTS.md section 2 describes."""


@dataclass(frozen=True)
class OffPeriod:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class PatchSpec:
    """A patch a VM's assessment will find, as the fleet file gives it."""

    name: str
    classifications: tuple[str, ...]
    reboot_behavior: str
    kb_id: str | None = None
    version: str | None = None
    published: datetime | None = None
    patch_id: str | None = None


@dataclass(frozen=True)
class VmSpec:
    id: str
    subscription_id: str
    resource_group: str
    name: str
    location: str
    os_type: str
    patch_mode: str
    zone: str | None = None
    availability_set: str | None = None
    update_domain: int = 0
    fault_domain: int = 0
    image_sku: str | None = None
    enable_hotpatching: bool = False
    time_zone: str | None = None
    power_state: str = "running"
    tags: Mapping[str, str] = field(default_factory=dict)
    install_minutes: float = 0.0
    hotpatch_install_minutes: float = 0.0
    assess_minutes: float = 1.0
    install_fails: bool = False
    unhealthy_after_install: bool = False
    off_during: tuple[OffPeriod, ...] = ()
    available_patches: tuple[PatchSpec, ...] | None = None

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def is_windows(self) -> bool:
        return self.os_type.lower() == "windows"

    @property
    def reported_image_sku(self) -> str:
        """The SKU in the VM's imageReference: the fleet's, else the OS default."""
        if self.image_sku is not None:
            return self.image_sku
        return DEFAULT_WINDOWS_SKU if self.is_windows else DEFAULT_LINUX_SKU


@dataclass(frozen=True)
class RegionSpec:
    name: str
    paired_region: str | None
    time_zone: str | None


@dataclass(frozen=True)
class SubscriptionSpec:
    id: str
    display_name: str


@dataclass(frozen=True)
class FleetSpec:
    vms: tuple[VmSpec, ...]
    subscriptions: Mapping[str, SubscriptionSpec]  # keyed by lowercased id
    regions: Mapping[str, RegionSpec]
    page_size: int = DEFAULT_PAGE_SIZE


def default_install_minutes(vm_id: str) -> int:
    """A realistic, deterministic install duration per VM: 15 to 70 minutes."""
    digest = hashlib.sha256(vm_id.lower().encode()).digest()
    return 15 + int.from_bytes(digest[:4], "big") % 56


def default_hotpatch_install_minutes(vm_id: str) -> int:
    """A hotpatch install (no reboot, reboot-needing KBs excluded) per VM: 3 to 12 minutes."""
    digest = hashlib.sha256(vm_id.lower().encode()).digest()
    return 3 + int.from_bytes(digest[4:8], "big") % 10


def parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise FleetError(f"{where}: expected an ISO 8601 time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FleetError(f"{where}: not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise FleetError(f"{where}: time {value!r} has no UTC offset")
    return moment


def _parse_patch(patch: Mapping[str, Any], where: str) -> PatchSpec:
    # The schema asks for a kbId or a name: Windows patches are KBs, Linux ones
    # packages, identified by name (a Linux patch's kbId, if given, is kept).
    kb_id: str | None = patch.get("kbId") or None
    name: str | None = patch.get("name") or None
    if name is None:
        # Only an empty kbId can leave both out; the patch still gets a name.
        name = (
            f"Update for KB{kb_id.upper().removeprefix('KB')}"
            if kb_id is not None
            else patch.get("patchId") or "Update"
        )
    published = patch.get("publishedDate")
    return PatchSpec(
        name=name,
        classifications=tuple(patch["classifications"]),
        reboot_behavior=patch.get("rebootBehavior") or "CanRequestReboot",
        kb_id=kb_id,
        version=patch.get("version"),
        published=parse_time(published, f"{where}.publishedDate") if published else None,
        patch_id=patch.get("patchId"),
    )


def _parse_off_period(period: Mapping[str, Any], where: str) -> OffPeriod:
    start = parse_time(period["from"], f"{where}.from")
    end = parse_time(period["to"], f"{where}.to")
    if end <= start:
        raise FleetError(f"{where}: 'to' must be after 'from'")
    return OffPeriod(start, end)


def _parse_vm(vm: Mapping[str, Any], where: str) -> VmSpec:
    vm_id: str = vm["id"]
    parts = parse_vm_id(vm_id)
    if parts is None:
        raise FleetError(
            f"{where}.id: {vm_id!r} is not a VM id (expected /subscriptions/S"
            "/resourceGroups/G/providers/Microsoft.Compute/virtualMachines/NAME, no spaces)"
        )
    sim: Mapping[str, Any] = vm.get("sim", {})
    patches = sim.get("availablePatches")
    return VmSpec(
        id=vm_id,
        subscription_id=parts.subscription,
        resource_group=parts.resource_group,
        name=parts.name,
        location=normalize_region(vm["location"]),
        os_type=vm["osType"],
        patch_mode=vm["patchMode"],
        zone=vm.get("zone"),
        availability_set=vm.get("availabilitySet"),
        update_domain=int(vm.get("updateDomain", 0)),
        fault_domain=int(vm.get("faultDomain", 0)),
        image_sku=vm.get("imageSku") or None,
        enable_hotpatching=vm.get("enableHotpatching", False),
        time_zone=vm.get("timeZone") or None,
        power_state=vm.get("powerState", "running"),
        tags=dict(vm.get("tags", {})),
        install_minutes=float(sim.get("installMinutes", default_install_minutes(vm_id))),
        hotpatch_install_minutes=float(
            sim.get("hotpatchInstallMinutes", default_hotpatch_install_minutes(vm_id))
        ),
        assess_minutes=float(sim.get("assessMinutes", 1)),
        install_fails=sim.get("installFails", False),
        unhealthy_after_install=sim.get("unhealthyAfterInstall", False),
        off_during=tuple(
            _parse_off_period(period, f"{where}.sim.offDuring[{i}]")
            for i, period in enumerate(sim.get("offDuring", []))
        ),
        available_patches=None
        if patches is None
        else tuple(
            _parse_patch(p, f"{where}.sim.availablePatches[{i}]") for i, p in enumerate(patches)
        ),
    )


def parse_fleet(raw: Any) -> FleetSpec:
    """Validate the parsed fleet JSON; `FleetError` names the offending field.

    Validation is the project's (`patching.fleet`: the fleet schema, which also
    covers this simulator's extensions, and its semantic checks); what is left
    here is only what the simulator itself needs, e.g. that times parse.
    """
    try:
        patching_fleet.parse_fleet(raw)
    except patching_fleet.FleetError as exc:
        raise FleetError(str(exc)) from exc
    vms = tuple(_parse_vm(vm, f"vms[{i}]") for i, vm in enumerate(raw["vms"]))
    subscriptions: dict[str, SubscriptionSpec] = {}
    for sub in raw.get("subscriptions", []):
        sub_id: str = sub["id"]
        subscriptions[sub_id.lower()] = SubscriptionSpec(sub_id, sub.get("displayName") or sub_id)
    for vm in vms:
        sub_key = vm.subscription_id.lower()
        subscriptions.setdefault(sub_key, SubscriptionSpec(vm.subscription_id, vm.subscription_id))
    regions: dict[str, RegionSpec] = {}
    for region in raw.get("regions", []):
        name = normalize_region(region["name"])
        paired = region.get("pairedRegion")
        regions[name] = RegionSpec(
            name=name,
            paired_region=normalize_region(paired) if paired else None,
            time_zone=region.get("timeZone") or None,
        )
    page_size = int(raw.get("sim", {}).get("pageSize", DEFAULT_PAGE_SIZE))
    return FleetSpec(vms=vms, subscriptions=subscriptions, regions=regions, page_size=page_size)
