"""The fleet file (CONTRACTS.md section 2) read into what the simulator needs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_PAGE_SIZE = 50

_VM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


class FleetError(ValueError):
    """The fleet file is not what CONTRACTS.md section 2 describes."""


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


def _str(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise FleetError(f"{where}.{key}: required")
        return None
    if not isinstance(value, str) or not value:
        raise FleetError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _int(raw: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FleetError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _bool(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise FleetError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FleetError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise FleetError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _parse_patch(raw: Any, where: str) -> PatchSpec:
    patch = _mapping(raw, where)
    name = _str(patch, "name", where, required=False)
    kb_id = _str(patch, "kbId", where, required=False)
    if name is None and kb_id is None:
        raise FleetError(f"{where}: needs a name or a kbId")
    classifications = _list(patch.get("classifications", ["Security"]), f"{where}.classifications")
    if not all(isinstance(item, str) for item in classifications):
        raise FleetError(f"{where}.classifications: expected strings")
    published = patch.get("publishedDate")
    return PatchSpec(
        name=name or f"Update for KB{kb_id}",
        classifications=tuple(classifications),
        reboot_behavior=_str(patch, "rebootBehavior", where, required=False) or "CanRequestReboot",
        kb_id=kb_id,
        version=_str(patch, "version", where, required=False),
        published=parse_time(published, f"{where}.publishedDate") if published else None,
        patch_id=_str(patch, "patchId", where, required=False),
    )


def _parse_off_period(raw: Any, where: str) -> OffPeriod:
    period = _mapping(raw, where)
    start = parse_time(period.get("from"), f"{where}.from")
    end = parse_time(period.get("to"), f"{where}.to")
    if end <= start:
        raise FleetError(f"{where}: 'to' must be after 'from'")
    return OffPeriod(start, end)


def _parse_vm(raw: Any, where: str) -> VmSpec:
    vm = _mapping(raw, where)
    vm_id = _str(vm, "id", where, required=True)
    assert vm_id is not None
    match = _VM_ID.match(vm_id)
    if match is None:
        raise FleetError(f"{where}.id: not a virtual machine resource id: {vm_id!r}")
    os_type = _str(vm, "osType", where, required=True)
    if os_type not in ("Windows", "Linux"):
        raise FleetError(f"{where}.osType: expected Windows or Linux, got {os_type!r}")
    availability_set = _str(vm, "availabilitySet", where, required=False)
    if availability_set is not None and "updateDomain" not in vm:
        raise FleetError(f"{where}.updateDomain: required when availabilitySet is set")
    zone = vm.get("zone")
    if zone is not None and not isinstance(zone, str | int):
        raise FleetError(f"{where}.zone: expected a zone name, got {zone!r}")
    tags = _mapping(vm.get("tags", {}), f"{where}.tags")
    sim = _mapping(vm.get("sim", {}), f"{where}.sim")
    install_minutes = sim.get("installMinutes", default_install_minutes(vm_id))
    assess_minutes = sim.get("assessMinutes", 1)
    for key, minutes in (("installMinutes", install_minutes), ("assessMinutes", assess_minutes)):
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 0:
            raise FleetError(f"{where}.sim.{key}: expected a non-negative number")
    off_during = tuple(
        _parse_off_period(period, f"{where}.sim.offDuring[{i}]")
        for i, period in enumerate(_list(sim.get("offDuring", []), f"{where}.sim.offDuring"))
    )
    patches = sim.get("availablePatches")
    return VmSpec(
        id=vm_id,
        subscription_id=match["sub"],
        resource_group=match["rg"],
        name=match["name"],
        location=(_str(vm, "location", where, required=True) or "").lower(),
        os_type=os_type,
        patch_mode=_str(vm, "patchMode", where, required=True) or "",
        zone=None if zone is None else str(zone),
        availability_set=availability_set,
        update_domain=_int(vm, "updateDomain", where, 0),
        fault_domain=_int(vm, "faultDomain", where, 0),
        image_sku=_str(vm, "imageSku", where, required=False),
        enable_hotpatching=_bool(vm, "enableHotpatching", where),
        time_zone=_str(vm, "timeZone", where, required=False),
        power_state=_str(vm, "powerState", where, required=False) or "running",
        tags={str(k): str(v) for k, v in tags.items()},
        install_minutes=float(install_minutes),
        assess_minutes=float(assess_minutes),
        install_fails=_bool(sim, "installFails", f"{where}.sim"),
        unhealthy_after_install=_bool(sim, "unhealthyAfterInstall", f"{where}.sim"),
        off_during=off_during,
        available_patches=None
        if patches is None
        else tuple(
            _parse_patch(p, f"{where}.sim.availablePatches[{i}]")
            for i, p in enumerate(_list(patches, f"{where}.sim.availablePatches"))
        ),
    )


def parse_fleet(raw: Any) -> FleetSpec:
    """Validate the parsed fleet JSON; `FleetError` names the offending field."""
    fleet = _mapping(raw, "fleet")
    if fleet.get("version") != 1:
        raise FleetError(f"fleet.version: expected 1, got {fleet.get('version')!r}")
    if "vms" not in fleet:
        raise FleetError("fleet.vms: required")
    vms = tuple(_parse_vm(vm, f"vms[{i}]") for i, vm in enumerate(_list(fleet["vms"], "fleet.vms")))
    seen: set[str] = set()
    for vm in vms:
        if vm.key in seen:
            raise FleetError(f"vms: duplicate id {vm.id}")
        seen.add(vm.key)
    subscriptions: dict[str, SubscriptionSpec] = {}
    for i, sub in enumerate(_list(fleet.get("subscriptions", []), "fleet.subscriptions")):
        where = f"subscriptions[{i}]"
        sub_id = _str(_mapping(sub, where), "id", where, required=True) or ""
        display_name = _str(sub, "displayName", where, required=False) or sub_id
        subscriptions[sub_id.lower()] = SubscriptionSpec(sub_id, display_name)
    for vm in vms:
        sub_key = vm.subscription_id.lower()
        subscriptions.setdefault(sub_key, SubscriptionSpec(vm.subscription_id, vm.subscription_id))
    regions: dict[str, RegionSpec] = {}
    for i, region in enumerate(_list(fleet.get("regions", []), "fleet.regions")):
        where = f"regions[{i}]"
        name = (_str(_mapping(region, where), "name", where, required=True) or "").lower()
        paired = _str(region, "pairedRegion", where, required=False)
        regions[name] = RegionSpec(
            name=name,
            paired_region=paired.lower() if paired else None,
            time_zone=_str(region, "timeZone", where, required=False),
        )
    sim = _mapping(fleet.get("sim", {}), "fleet.sim")
    page_size = _int(sim, "pageSize", "fleet.sim", DEFAULT_PAGE_SIZE)
    if page_size < 1:
        raise FleetError("fleet.sim.pageSize: must be at least 1")
    return FleetSpec(vms=vms, subscriptions=subscriptions, regions=regions, page_size=page_size)
