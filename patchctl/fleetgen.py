"""Typical fleets, generated: for examples, benchmarks and rehearsals of scale.

A "typical" fleet here: several subscriptions; regions drawn in geo-pairs (plus a
small unpaired one); most VMs standalone and spread over three zones, a third in
availability sets (mostly 2-5 VMs, some 10-30) across five update domains;
Windows and Linux, a quarter of Windows VMs hotpatch-enabled; a few not enrolled;
time zones those of their region with some Windows ids of their own; most on the
default window, some with a `patchWindow` tag.
"""

from __future__ import annotations

import random
from typing import Any

from patching.regions import BUILTIN_REGIONS

_REGION_PAIRS = (
    ("eastus", "westus"),
    ("northeurope", "westeurope"),
    ("eastus2", "centralus"),
    ("southeastasia", "eastasia"),
    ("uksouth", "ukwest"),
    ("japaneast", "japanwest"),
    ("australiaeast", "australiasoutheast"),
    ("centralindia", "southindia"),
)
_SMALL_REGION = "swedencentral"
_WINDOWS_ZONES = {
    "eastus": "Eastern Standard Time",
    "westus": "Pacific Standard Time",
    "northeurope": "GMT Standard Time",
    "westeurope": "W. Europe Standard Time",
    "centralindia": "India Standard Time",
    "japaneast": "Tokyo Standard Time",
}
_TAGGED_WINDOWS = ("01:00-05:00", "20:00-04:00", "23:00-07:00", "00:30-06:30")


def generate_fleet(
    vm_count: int,
    *,
    seed: int = 7,
    region_pairs: int | None = None,
    subscription_count: int | None = None,
) -> dict[str, Any]:
    """A fleet document (docs/CONTRACTS.md section 2) of `vm_count` VMs, the same per seed;
    by default a region pair per 400 VMs (at most 8) and a subscription per 2,500 (at least 2)."""
    rng = random.Random(seed)
    pairs = (
        region_pairs
        if region_pairs is not None
        else min(len(_REGION_PAIRS), max(1, vm_count // 400))
    )
    regions = [r for pair in _REGION_PAIRS[:pairs] for r in pair]
    subscriptions = [
        f"{index + 1:08d}-0000-4000-8000-{index + 1:012d}"
        for index in range(
            subscription_count if subscription_count is not None else max(2, vm_count // 2500)
        )
    ]
    vms: list[dict[str, Any]] = []
    small = max(1, vm_count // 200)
    for _ in range(small):
        vms.append(_vm(rng, len(vms), subscriptions[0], _SMALL_REGION, zone=None))
    while len(vms) < vm_count:
        region = rng.choice(regions)
        subscription = rng.choice(subscriptions)
        roll = rng.random()
        if roll < 0.33:
            size = rng.randint(2, 5) if rng.random() < 0.8 else rng.randint(10, 30)
            size = min(size, vm_count - len(vms))
            set_id = (
                f"/subscriptions/{subscription}/resourceGroups/rg-{region}/providers/"
                f"Microsoft.Compute/availabilitySets/as-{len(vms):06d}"
            )
            for member in range(size):
                vm = _vm(rng, len(vms), subscription, region, zone=None)
                vm["availabilitySet"] = set_id
                vm["updateDomain"] = member % 5
                vm["faultDomain"] = member % 2
                vms.append(vm)
        else:
            zone = str(rng.randint(1, 3)) if roll < 0.9 else None
            vms.append(_vm(rng, len(vms), subscription, region, zone=zone))
    used = sorted({vm["location"] for vm in vms})
    return {
        "version": 1,
        "subscriptions": [
            {"id": s, "displayName": f"sub-{i + 1:02d}"} for i, s in enumerate(subscriptions)
        ],
        "regions": [
            {
                "name": r,
                "pairedRegion": BUILTIN_REGIONS[r].paired_region,
                "timeZone": BUILTIN_REGIONS[r].time_zone,
            }
            for r in used
        ],
        "vms": vms,
    }


def _vm(
    rng: random.Random, number: int, subscription: str, region: str, *, zone: str | None
) -> dict[str, Any]:
    windows = rng.random() < 0.7
    vm: dict[str, Any] = {
        "id": (
            f"/subscriptions/{subscription}/resourceGroups/rg-{region}/providers/"
            f"Microsoft.Compute/virtualMachines/vm-{number:06d}"
        ),
        "location": region,
        "osType": "Windows" if windows else "Linux",
        "patchMode": "AutomaticByPlatform"
        if rng.random() < 0.97
        else rng.choice(["Manual", "AutomaticByOS"]),
        "powerState": "running",
    }
    if zone is not None:
        vm["zone"] = zone
    if windows:
        hotpatch = vm["patchMode"] == "AutomaticByPlatform" and rng.random() < 0.25
        vm["enableHotpatching"] = hotpatch
        vm["imageSku"] = "2022-datacenter-azure-edition" + ("-hotpatch" if hotpatch else "")
        if region in _WINDOWS_ZONES and rng.random() < 0.5:
            vm["timeZone"] = _WINDOWS_ZONES[region]
    else:
        vm["imageSku"] = "ubuntu-24_04-lts"
    if rng.random() < 0.15:
        vm["tags"] = {"patchWindow": rng.choice(_TAGGED_WINDOWS)}
    return vm
