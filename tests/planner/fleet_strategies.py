"""Hypothesis strategies: random fleet documents in the contract's format."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Built-in regions with pairs (one-way ones included) and an unpaired one, plus
# fleet-defined regions whose pairs form a triangle, which two phases cannot hold.
BUILTIN_GROUPS = (
    ("eastus", "westus", "westus3"),
    ("northeurope", "westeurope"),
    ("centralindia", "southindia", "westindia"),
    ("swedencentral",),
)
CUSTOM_REGIONS = (
    {"name": "lab-a", "pairedRegion": "lab-b", "timeZone": "Asia/Kathmandu"},
    {"name": "lab-b", "pairedRegion": "lab-c", "timeZone": "Pacific/Chatham"},
    {"name": "lab-c", "pairedRegion": "lab-a", "timeZone": "America/St_Johns"},
)
WINDOWS_ZONES = (
    None,
    "Pacific Standard Time",
    "GMT Standard Time",
    "India Standard Time",
    "Nepal Standard Time",
    "Chatham Islands Standard Time",
    "AUS Eastern Standard Time",
    "Newfoundland Standard Time",
    "UTC",
)
TIGHT_WINDOWS = (
    None,
    "22:00-06:00",
    "01:00-05:00",
    "23:30-02:00",
    "01:30-03:00",
    "00:15-04:45",
    "02:00-02:45",
    # Too short for an install: the VM is skipped with that reason.
    "03:00-03:20",
    "23:55-00:15",
)
GENEROUS_WINDOWS = (None, "22:00-06:00", "20:00-04:00", "18:30-05:15")


@st.composite
def fleets(draw: st.DrawFn, *, max_vms: int = 90, generous: bool = False) -> dict[str, Any]:
    use_custom = draw(st.booleans())
    pool = [r for group in BUILTIN_GROUPS for r in group]
    if use_custom:
        pool += [r["name"] for r in CUSTOM_REGIONS]
    regions = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5, unique=True))
    subscriptions = [
        f"0000000{i}-0000-4000-8000-00000000000{i}" for i in range(1, draw(st.integers(1, 3)) + 1)
    ]
    windows = GENEROUS_WINDOWS if generous else TIGHT_WINDOWS
    budget = draw(st.integers(1, max_vms))
    vms: list[dict[str, Any]] = []

    def new_vm(region: str, subscription: str) -> dict[str, Any]:
        number = len(vms)
        os_type = draw(st.sampled_from(["Windows", "Linux"]))
        vm: dict[str, Any] = {
            "id": f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm{number}",
            "location": region,
            "osType": os_type,
            "patchMode": draw(
                st.sampled_from(
                    ["AutomaticByPlatform"] * 6 + ["Manual", "AutomaticByOS", "ImageDefault"]
                )
            ),
        }
        if os_type == "Windows":
            vm["enableHotpatching"] = draw(st.booleans())
            zone = draw(st.sampled_from(WINDOWS_ZONES))
            if zone:
                vm["timeZone"] = zone
        window = draw(st.sampled_from(windows))
        if window:
            vm["tags"] = {"patchWindow": window}
        # Some VMs have an install history: slots of mixed lengths, up to the longest.
        if draw(st.integers(0, 2)) == 0:
            vm["expectedInstallMinutes"] = draw(st.integers(1, 240))
        return vm

    while len(vms) < budget:
        region = draw(st.sampled_from(regions))
        subscription = draw(st.sampled_from(subscriptions))
        if draw(st.integers(0, 3)) == 0:
            size = draw(st.integers(1, min(50, budget - len(vms))))
            domains = draw(st.integers(1, 5))
            # Azure keeps sets out of zones, but a fleet file may say both: plan it anyway.
            zoned = draw(st.integers(0, 4)) == 0
            set_id = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/as{len(vms)}"
            for member in range(size):
                vm = new_vm(region, subscription)
                vm["availabilitySet"] = set_id
                vm["updateDomain"] = draw(st.integers(0, domains - 1)) if member else 0
                if zoned:
                    vm["zone"] = draw(st.sampled_from(["1", "2", "3"]))
                vms.append(vm)
        else:
            vm = new_vm(region, subscription)
            zone = draw(st.sampled_from([None, "1", "2", "3"]))
            if zone:
                vm["zone"] = zone
            vms.append(vm)
    document: dict[str, Any] = {"version": 1, "vms": vms}
    if use_custom:
        document["regions"] = [dict(r) for r in CUSTOM_REGIONS]
    return document


cycles = st.builds(
    lambda year, month: f"{year}-{month:02d}", st.integers(2026, 2028), st.integers(1, 12)
)
