"""VM resource ids: parse once, refuse anything that is not a VM id."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VM_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class VmRef:
    subscription_id: str
    resource_group: str
    name: str


def parse_vm_id(vm_id: str) -> VmRef:
    match = _VM_ID.match(vm_id)
    if match is None:
        raise ValueError(
            f"{vm_id!r} is not a VM id (expected /subscriptions/S/resourceGroups/G"
            "/providers/Microsoft.Compute/virtualMachines/NAME)"
        )
    return VmRef(match["subscription"].lower(), match["group"], match["name"])
