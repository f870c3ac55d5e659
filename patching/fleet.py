"""The fleet file (CONTRACTS.md section 2): schema-checked, then turned into VM targets.

Parsing is pure: it takes the decoded JSON document, never a path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import fastjsonschema

from patching.models import OsType, PatchMode, PowerState, VmTarget, normalize_region
from patching.regions import BUILTIN_REGIONS, RegionInfo, merge_regions
from patching.timezones import UnknownTimeZoneError, iana_zone, windows_zone
from patching.windows import OffPeakWindow

VM_ID_PATTERN = (
    r"^/[sS][uU][bB][sS][cC][rR][iI][pP][tT][iI][oO][nN][sS]/[^/]+/"
    r"[rR][eE][sS][oO][uU][rR][cC][eE][gG][rR][oO][uU][pP][sS]/[^/]+/"
    r"[pP][rR][oO][vV][iI][dD][eE][rR][sS]/[mM][iI][cC][rR][oO][sS][oO][fF][tT]\.[cC][oO][mM][pP]"
    r"[uU][tT][eE]/[vV][iI][rR][tT][uU][aA][lL][mM][aA][cC][hH][iI][nN][eE][sS]/[^/]+$"
)

_INTERVAL = {
    "type": "object",
    "required": ["from", "to"],
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
    },
}

FLEET_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "vms"],
    "properties": {
        "version": {"const": 1},
        "subscriptions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "displayName": {"type": "string"}},
            },
        },
        "regions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "pairedRegion": {"type": ["string", "null"]},
                    "timeZone": {"type": "string"},
                },
            },
        },
        "vms": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "location", "osType", "patchMode"],
                "additionalProperties": False,
                "dependencies": {"availabilitySet": ["updateDomain"]},
                "properties": {
                    "id": {"type": "string", "pattern": VM_ID_PATTERN},
                    "location": {"type": "string", "minLength": 1},
                    "zone": {"type": ["string", "null"], "pattern": "^[1-9][0-9]*$"},
                    "availabilitySet": {"type": "string", "minLength": 1},
                    "updateDomain": {"type": "integer", "minimum": 0, "maximum": 19},
                    "faultDomain": {"type": "integer", "minimum": 0, "maximum": 2},
                    "osType": {"enum": [o.value for o in OsType]},
                    "imageSku": {"type": "string"},
                    "patchMode": {"enum": [p.value for p in PatchMode]},
                    "enableHotpatching": {"type": "boolean"},
                    "timeZone": {"type": "string"},
                    "powerState": {"enum": [p.value for p in PowerState]},
                    "tags": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                    "sim": {
                        "type": "object",
                        "properties": {
                            "installMinutes": {"type": "number", "exclusiveMinimum": 0},
                            "assessMinutes": {"type": "number", "exclusiveMinimum": 0},
                            "installFails": {"type": "boolean"},
                            "unhealthyAfterInstall": {"type": "boolean"},
                            "offDuring": {"type": "array", "items": _INTERVAL},
                            "availablePatches": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    # Windows patches are KBs; Linux ones are packages.
                                    "required": ["classifications"],
                                    "anyOf": [{"required": ["kbId"]}, {"required": ["name"]}],
                                    "properties": {
                                        "kbId": {"type": "string"},
                                        "classifications": {
                                            "type": "array",
                                            "items": {"type": "string"},
                                        },
                                        "rebootBehavior": {"type": "string"},
                                        "name": {"type": "string", "minLength": 1},
                                        "version": {"type": "string", "minLength": 1},
                                        "patchId": {"type": "string", "minLength": 1},
                                        "publishedDate": {"type": "string", "format": "date-time"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "sim": {
            "type": "object",
            "properties": {"pageSize": {"type": "integer", "minimum": 1}},
        },
    },
}


@cache
def _validator() -> Callable[[Any], Any]:
    """The schema compiled once, when the first fleet is read (not at import)."""
    return fastjsonschema.compile(FLEET_SCHEMA)


# Windows were checked when the fleet was read; a fleet has few distinct tags.
_parse_window = cache(OffPeakWindow.parse)


class FleetError(ValueError):
    """A fleet file that cannot be used; the message names the field and what was expected."""


@dataclass(frozen=True, slots=True)
class Fleet:
    vms: tuple[VmTarget, ...]
    regions: Mapping[str, RegionInfo]
    subscription_names: Mapping[str, str]

    def window_tag(self, vm: VmTarget) -> OffPeakWindow | None:
        tag = vm.tags.get("patchWindow")
        return _parse_window(tag) if tag else None


def parse_fleet(document: Any) -> Fleet:
    """Validate a decoded fleet document and build its targets; FleetError on the first problem."""
    try:
        _validator()(document)
    except fastjsonschema.JsonSchemaValueException as error:
        raise FleetError(_schema_message(error)) from error
    regions = merge_regions(_region_entries(document.get("regions", [])))
    vms = tuple(_vm_target(index, raw, regions) for index, raw in enumerate(document["vms"]))
    _check_unique_ids(vms)
    _check_sets(vms)
    names = {
        s["id"].lower(): s.get("displayName", s["id"]) for s in document.get("subscriptions", [])
    }
    return Fleet(vms=vms, regions=regions, subscription_names=MappingProxyType(names))


def _schema_message(error: fastjsonschema.JsonSchemaValueException) -> str:
    message = str(error.message)
    if message.startswith("data."):
        message = message[len("data.") :]
    elif message.startswith("data "):
        message = "fleet " + message[len("data ") :]
    if error.rule == "additionalProperties":
        return f"{message} (a misspelt field?)"
    if error.rule == "anyOf":
        fields = [", ".join(option.get("required", [])) for option in error.rule_definition]
        where = str(error.name).removeprefix("data.")
        return f"{where} needs one of the fields: {' or '.join(fields)}"
    return message


def _region_entries(entries: list[dict[str, Any]]) -> list[RegionInfo]:
    infos: list[RegionInfo] = []
    for index, entry in enumerate(entries):
        name = normalize_region(entry["name"])
        zone_name = entry.get("timeZone")
        if zone_name is None:
            builtin = BUILTIN_REGIONS.get(name)
            zone_name = builtin.time_zone if builtin else "UTC"
        try:
            iana_zone(zone_name)
        except UnknownTimeZoneError as error:
            raise FleetError(
                f"regions[{index}].timeZone: {error}; expected an IANA name"
            ) from error
        pair = entry.get("pairedRegion")
        infos.append(RegionInfo(name, normalize_region(pair) if pair else None, zone_name))
    return infos


def _vm_target(index: int, raw: dict[str, Any], regions: Mapping[str, RegionInfo]) -> VmTarget:
    where = f"vms[{index}]"
    region = normalize_region(raw["location"])
    if region not in regions:
        raise FleetError(
            f"{where}.location: unknown region {raw['location']!r}; expected a public Azure "
            "region or one listed in `regions`"
        )
    tags: dict[str, str] = raw.get("tags", {})
    if raw.get("timeZone"):
        try:
            windows_zone(raw["timeZone"])
        except UnknownTimeZoneError as error:
            raise FleetError(
                f"{where}.timeZone: {error}; expected a Windows time zone id"
            ) from error
    if tags.get("timeZone"):
        try:
            iana_zone(tags["timeZone"])
        except UnknownTimeZoneError as error:
            raise FleetError(f"{where}.tags.timeZone: {error}") from error
    if "patchWindow" in tags:
        try:
            OffPeakWindow.parse(tags["patchWindow"])
        except ValueError as error:
            raise FleetError(f"{where}.tags.patchWindow: {error}") from error
    return VmTarget(
        id=raw["id"],
        location=region,
        os_type=OsType(raw["osType"]),
        patch_mode=PatchMode(raw["patchMode"]),
        zone=raw.get("zone"),
        availability_set=raw.get("availabilitySet"),
        update_domain=raw.get("updateDomain"),
        fault_domain=raw.get("faultDomain"),
        enable_hotpatching=raw.get("enableHotpatching", False),
        image_sku=raw.get("imageSku"),
        time_zone=raw.get("timeZone"),
        power_state=PowerState(raw.get("powerState", PowerState.RUNNING.value)),
        tags=tags,
    )


def _check_unique_ids(vms: tuple[VmTarget, ...]) -> None:
    seen: dict[str, int] = {}
    for index, vm in enumerate(vms):
        first = seen.setdefault(vm.key, index)
        if first != index:
            raise FleetError(
                f"vms[{index}].id: {vm.id!r} repeats vms[{first}] (ids are case-insensitive)"
            )


def _check_sets(vms: tuple[VmTarget, ...]) -> None:
    """An availability set lives in one region and one subscription, as in Azure."""
    homes: dict[str, tuple[int, str, str]] = {}
    for index, vm in enumerate(vms):
        key = vm.availability_set_key
        if key is None:
            continue
        first = homes.setdefault(key, (index, vm.region, vm.subscription_id))
        if (first[1], first[2]) != (vm.region, vm.subscription_id):
            raise FleetError(
                f"vms[{index}].availabilitySet: set {vm.availability_set!r} is in {first[1]} and "
                f"subscription {first[2]} (vms[{first[0]}]); expected every member in one region "
                "and subscription"
            )
