"""The fleet file (docs/CONTRACTS.md section 2): schema-checked, then turned into VM targets.

Parsing is pure: it takes the decoded JSON document, never a path. It is strict: every
object (the document, `subscriptions[]`, `regions[]`, each VM, the `sim` objects, patches,
`offDuring` periods) may hold only the fields the contract names, so a misspelt field is
refused by name; NaN and Infinity are refused wherever they appear; ids and names with
control characters are refused; a region may not pair with itself or with a region that
is neither listed nor built in, nor be listed twice; simulator numbers have sane maxima.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import fastjsonschema

from patching.defaults import EXPECTED_INSTALL_MINUTES_BOUNDS
from patching.errors import BadInput
from patching.models import OsType, PatchMode, PowerState, VmTarget, normalize_region
from patching.regions import BUILTIN_REGIONS, RegionInfo, merge_regions
from patching.resource_ids import VM_ID_PATTERN
from patching.timefmt import TimeFormatError, parse_time
from patching.timezones import UnknownTimeZoneError, iana_zone, windows_zone
from patching.windows import OffPeakWindow, WindowError

# Text a person wrote: no control character (C0, DEL, C1), nothing but spaces neither.
_PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
# An id's value: no slash, whitespace or control character (as in a VM id's segments).
_ID_VALUE = r"^[^/\s\x00-\x1f\x7f-\x9f]+$"
# A region as ARM names it ('eastus'), displays it ('East US 2'), or a fleet's own ('lab-1').
_REGION = r"^[A-Za-z0-9_-]+( [A-Za-z0-9_-]+)*$"

# What a pattern means, for the refusal's message (fastjsonschema names only the pattern).
_PATTERN_MEANING = {
    VM_ID_PATTERN: "a VM id (expected /subscriptions/S/resourceGroups/G/providers"
    "/Microsoft.Compute/virtualMachines/NAME, with no whitespace, control character, empty "
    "segment or trailing slash)",
    _PRINTABLE: "usable text (expected a visible character and no control character)",
    _ID_VALUE: "an id (expected no slash, whitespace or control character)",
    _REGION: "a region name (expected e.g. eastus, East US or lab-1: letters, digits, "
    "- and _, single spaces)",
    "^[1-9][0-9]*$": 'a zone (expected a number such as "1")',
}

# The simulator's numbers: large enough for any rehearsal, small enough to stay sane.
MAX_SIM_MINUTES = 24 * 60
MAX_PAGE_SIZE = 1000

_PRINTABLE_STRING = {"type": "string", "pattern": _PRINTABLE}
_SIM_MINUTES = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SIM_MINUTES}

_INTERVAL = {
    "type": "object",
    "required": ["from", "to"],
    "additionalProperties": False,
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
    },
}

_PATCH = {
    "type": "object",
    # Windows patches are KBs; Linux ones are packages.
    "required": ["classifications"],
    "anyOf": [{"required": ["kbId"]}, {"required": ["name"]}],
    "additionalProperties": False,
    "properties": {
        "kbId": _PRINTABLE_STRING,
        "classifications": {"type": "array", "items": _PRINTABLE_STRING},
        "rebootBehavior": _PRINTABLE_STRING,
        "name": _PRINTABLE_STRING,
        "version": _PRINTABLE_STRING,
        "patchId": _PRINTABLE_STRING,
        "publishedDate": {"type": "string", "format": "date-time"},
    },
}

_VM_SIM = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "installMinutes": _SIM_MINUTES,
        "hotpatchInstallMinutes": _SIM_MINUTES,
        "assessMinutes": _SIM_MINUTES,
        "installFails": {"type": "boolean"},
        "unhealthyAfterInstall": {"type": "boolean"},
        "offDuring": {"type": "array", "items": _INTERVAL},
        "availablePatches": {"type": "array", "items": _PATCH},
    },
}

_VM = {
    "type": "object",
    "required": ["id", "location", "osType", "patchMode"],
    "additionalProperties": False,
    "dependencies": {"availabilitySet": ["updateDomain"]},
    "properties": {
        "id": {"type": "string", "pattern": VM_ID_PATTERN},
        "location": {"type": "string", "pattern": _REGION},
        "zone": {"type": ["string", "null"], "pattern": "^[1-9][0-9]*$"},
        "availabilitySet": _PRINTABLE_STRING,
        "updateDomain": {"type": "integer", "minimum": 0, "maximum": 19},
        "faultDomain": {"type": "integer", "minimum": 0, "maximum": 2},
        "osType": {"enum": [o.value for o in OsType]},
        "imageSku": {"type": "string", "pattern": _ID_VALUE},
        "patchMode": {"enum": [p.value for p in PatchMode]},
        "enableHotpatching": {"type": "boolean"},
        "expectedInstallMinutes": {
            "type": "integer",
            "minimum": EXPECTED_INSTALL_MINUTES_BOUNDS.low,
            "maximum": EXPECTED_INSTALL_MINUTES_BOUNDS.high,
        },
        "timeZone": _PRINTABLE_STRING,
        "powerState": {"enum": [p.value for p in PowerState]},
        "tags": {
            "type": "object",
            "propertyNames": _PRINTABLE_STRING,
            "additionalProperties": {"type": "string"},
        },
        "sim": _VM_SIM,
    },
}

FLEET_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "vms"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "const": 1},
        "subscriptions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": _ID_VALUE},
                    "displayName": _PRINTABLE_STRING,
                },
            },
        },
        "regions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": _REGION},
                    "pairedRegion": {"type": ["string", "null"], "pattern": _REGION},
                    "timeZone": _PRINTABLE_STRING,
                },
            },
        },
        "vms": {"type": "array", "items": _VM},
        "sim": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"pageSize": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}},
        },
    },
}


@cache
def _validator() -> Callable[[Any], Any]:
    """The schema compiled once, when the first fleet is read (not at import)."""
    return fastjsonschema.compile(FLEET_SCHEMA)


# Windows were checked when the fleet was read; a fleet has few distinct tags.
_parse_window = cache(OffPeakWindow.parse)


class FleetError(BadInput):
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
    _refuse_non_finite(document, "fleet")
    try:
        _validator()(document)
    except fastjsonschema.JsonSchemaValueException as error:
        raise FleetError(_schema_message(error)) from error
    entries = _region_entries(document.get("regions", []))
    _check_region_pairs(entries)
    regions = merge_regions(entries)
    vms = tuple(_vm_target(index, raw, regions) for index, raw in enumerate(document["vms"]))
    _check_unique_ids(vms)
    _check_sets(vms)
    names = {
        s["id"].lower(): s.get("displayName", s["id"]) for s in document.get("subscriptions", [])
    }
    return Fleet(vms=vms, regions=regions, subscription_names=MappingProxyType(names))


def _refuse_non_finite(value: Any, where: str) -> None:
    """`json.loads` reads NaN and Infinity; no field of a fleet means anything by them."""
    for path, number in _floats(value, where):
        if not math.isfinite(number):
            raise FleetError(f"{path}: {number} is not a finite number")


def _floats(value: Any, where: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, float):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _floats(item, f"{where}.{key}" if where != "fleet" else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _floats(item, f"{where}[{index}]")


def _schema_message(error: fastjsonschema.JsonSchemaValueException) -> str:
    message = str(error.message)
    if message.startswith("data."):
        message = message[len("data.") :]
    elif message.startswith("data "):
        message = "fleet " + message[len("data ") :]
    if error.rule == "pattern" and error.rule_definition in _PATTERN_MEANING:
        where = str(error.name).removeprefix("data.")
        return f"{where}: {error.value!r} is not {_PATTERN_MEANING[error.rule_definition]}"
    if error.rule == "propertyNames":
        where = str(error.name).removeprefix("data.")
        printable = re.compile(_PRINTABLE.removeprefix("^").removesuffix("$"))
        bad = next(key for key in error.value if not printable.fullmatch(key))
        return f"{where}: the key {bad!r} is not {_PATTERN_MEANING[_PRINTABLE]}"
    if error.rule == "additionalProperties":
        return f"{message} (a misspelt field?)"
    if error.rule == "anyOf":
        fields = [", ".join(option.get("required", [])) for option in error.rule_definition]
        where = str(error.name).removeprefix("data.")
        return f"{where} needs one of the fields: {' or '.join(fields)}"
    return message


def _region_entries(entries: list[dict[str, Any]]) -> list[RegionInfo]:
    infos: list[RegionInfo] = []
    listed: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = normalize_region(entry["name"])
        first = listed.setdefault(name, index)
        if first != index:
            raise FleetError(
                f"regions[{index}].name: {entry['name']!r} repeats regions[{first}] "
                "(names compare without case and spaces); expected each region once"
            )
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


def _check_region_pairs(infos: list[RegionInfo]) -> None:
    """A region's pair is another region the planner knows: listed here or built in."""
    listed = {info.name for info in infos}
    for index, info in enumerate(infos):
        pair = info.paired_region
        if pair is None:
            continue
        if pair == info.name:
            raise FleetError(
                f"regions[{index}].pairedRegion: {info.name!r} is paired with itself; "
                "expected another region or null"
            )
        if pair not in listed and pair not in BUILTIN_REGIONS:
            raise FleetError(
                f"regions[{index}].pairedRegion: unknown region {pair!r}; expected a public "
                "Azure region or one listed in `regions`"
            )


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
    _check_sim_times(raw.get("sim", {}), f"{where}.sim")
    if "patchWindow" in tags:
        try:
            OffPeakWindow.parse(tags["patchWindow"])
        except WindowError as error:
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
        # JSON Schema counts 40.0 as an integer; the target holds the int.
        expected_install_minutes=_optional_int(raw.get("expectedInstallMinutes")),
    )


def _optional_int(value: int | float | None) -> int | None:
    return None if value is None else int(value)


def _check_sim_times(sim: Mapping[str, Any], where: str) -> None:
    """The simulator's times lie in the years the calendar plans for, like every other time."""
    fields = [
        (f"{where}.offDuring[{i}].{end}", period[end])
        for i, period in enumerate(sim.get("offDuring", []))
        for end in ("from", "to")
    ]
    fields += [
        (f"{where}.availablePatches[{i}].publishedDate", patch["publishedDate"])
        for i, patch in enumerate(sim.get("availablePatches", []))
        if "publishedDate" in patch
    ]
    for field_name, text in fields:
        try:
            parse_time(text)
        except TimeFormatError as error:
            raise FleetError(f"{field_name}: {error}") from error


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
