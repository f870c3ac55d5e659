"""Public Azure regions: their geo-pair and the IANA time zone of their datacentres.

Pairs follow Azure's published cross-region replication pairs; a few are one-way
(Brazil South -> South Central US, West India -> South India, West US 3 -> East US).
The planner treats pairing as symmetric: paired regions are never in one phase.
A fleet file's `regions` entry overrides or extends this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from patching.models import normalize_region


@dataclass(frozen=True, slots=True)
class RegionInfo:
    name: str
    paired_region: str | None
    time_zone: str


_TABLE: tuple[tuple[str, str | None, str], ...] = (
    # Americas
    ("eastus", "westus", "America/New_York"),
    ("eastus2", "centralus", "America/New_York"),
    ("centralus", "eastus2", "America/Chicago"),
    ("northcentralus", "southcentralus", "America/Chicago"),
    ("southcentralus", "northcentralus", "America/Chicago"),
    ("westcentralus", "westus2", "America/Denver"),
    ("westus", "eastus", "America/Los_Angeles"),
    ("westus2", "westcentralus", "America/Los_Angeles"),
    ("westus3", "eastus", "America/Phoenix"),
    ("canadacentral", "canadaeast", "America/Toronto"),
    ("canadaeast", "canadacentral", "America/Toronto"),
    ("brazilsouth", "southcentralus", "America/Sao_Paulo"),
    ("brazilsoutheast", "brazilsouth", "America/Sao_Paulo"),
    ("mexicocentral", None, "America/Mexico_City"),
    ("chilecentral", None, "America/Santiago"),
    # Europe
    ("northeurope", "westeurope", "Europe/Dublin"),
    ("westeurope", "northeurope", "Europe/Amsterdam"),
    ("uksouth", "ukwest", "Europe/London"),
    ("ukwest", "uksouth", "Europe/London"),
    ("francecentral", "francesouth", "Europe/Paris"),
    ("francesouth", "francecentral", "Europe/Paris"),
    ("germanywestcentral", "germanynorth", "Europe/Berlin"),
    ("germanynorth", "germanywestcentral", "Europe/Berlin"),
    ("switzerlandnorth", "switzerlandwest", "Europe/Zurich"),
    ("switzerlandwest", "switzerlandnorth", "Europe/Zurich"),
    ("norwayeast", "norwaywest", "Europe/Oslo"),
    ("norwaywest", "norwayeast", "Europe/Oslo"),
    ("swedencentral", "swedensouth", "Europe/Stockholm"),
    ("swedensouth", "swedencentral", "Europe/Stockholm"),
    ("polandcentral", None, "Europe/Warsaw"),
    ("italynorth", None, "Europe/Rome"),
    ("spaincentral", None, "Europe/Madrid"),
    ("austriaeast", None, "Europe/Vienna"),
    ("belgiumcentral", None, "Europe/Brussels"),
    ("denmarkeast", None, "Europe/Copenhagen"),
    # Middle East and Africa
    ("uaenorth", "uaecentral", "Asia/Dubai"),
    ("uaecentral", "uaenorth", "Asia/Dubai"),
    ("qatarcentral", None, "Asia/Qatar"),
    ("israelcentral", None, "Asia/Jerusalem"),
    ("southafricanorth", "southafricawest", "Africa/Johannesburg"),
    ("southafricawest", "southafricanorth", "Africa/Johannesburg"),
    # Asia Pacific
    ("eastasia", "southeastasia", "Asia/Hong_Kong"),
    ("southeastasia", "eastasia", "Asia/Singapore"),
    ("japaneast", "japanwest", "Asia/Tokyo"),
    ("japanwest", "japaneast", "Asia/Tokyo"),
    ("koreacentral", "koreasouth", "Asia/Seoul"),
    ("koreasouth", "koreacentral", "Asia/Seoul"),
    ("centralindia", "southindia", "Asia/Kolkata"),
    ("southindia", "centralindia", "Asia/Kolkata"),
    ("westindia", "southindia", "Asia/Kolkata"),
    ("jioindiawest", "jioindiacentral", "Asia/Kolkata"),
    ("jioindiacentral", "jioindiawest", "Asia/Kolkata"),
    ("australiaeast", "australiasoutheast", "Australia/Sydney"),
    ("australiasoutheast", "australiaeast", "Australia/Melbourne"),
    ("australiacentral", "australiacentral2", "Australia/Sydney"),
    ("australiacentral2", "australiacentral", "Australia/Sydney"),
    ("newzealandnorth", None, "Pacific/Auckland"),
    ("indonesiacentral", None, "Asia/Jakarta"),
    ("malaysiawest", None, "Asia/Kuala_Lumpur"),
)

BUILTIN_REGIONS: Mapping[str, RegionInfo] = MappingProxyType(
    {name: RegionInfo(name, pair, tz) for name, pair, tz in _TABLE}
)


def merge_regions(overrides: Iterable[RegionInfo]) -> Mapping[str, RegionInfo]:
    """The built-in table with a fleet file's own entries laid over it."""
    merged = dict(BUILTIN_REGIONS)
    for info in overrides:
        name = normalize_region(info.name)
        pair = normalize_region(info.paired_region) if info.paired_region else None
        merged[name] = RegionInfo(name, pair, info.time_zone)
    return MappingProxyType(merged)


def pair_graph(regions: Iterable[str], table: Mapping[str, RegionInfo]) -> dict[str, set[str]]:
    """Symmetric pairing among the given regions (a one-way pair binds both ends)."""
    present = set(regions)
    graph: dict[str, set[str]] = {name: set() for name in present}
    for name in present:
        info = table.get(name)
        if info and info.paired_region in present and info.paired_region != name:
            graph[name].add(info.paired_region)
            graph[info.paired_region].add(name)
    return graph
