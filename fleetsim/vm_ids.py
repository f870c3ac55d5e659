"""VM resource ids: the one parser and builder the simulator uses.

ARM compares the segment names (`subscriptions`, `resourceGroups`, ...) without
regard to case; the values are kept as written.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A value: anything but a slash, whitespace or a control character (C0, DEL, C1).
_VALUE = r"[^/\s\x00-\x1f\x7f-\x9f]+"
_VM_ID = re.compile(
    rf"/subscriptions/(?P<subscription>{_VALUE})/resourceGroups/(?P<group>{_VALUE})"
    rf"/providers/Microsoft\.Compute/virtualMachines/(?P<name>{_VALUE})",
    re.IGNORECASE,
)


class VmIdParts(NamedTuple):
    subscription: str
    resource_group: str
    name: str


def parse_vm_id(text: str) -> VmIdParts | None:
    """The parts of a VM id, or None for anything that is not exactly one."""
    match = _VM_ID.fullmatch(text)
    if match is None:
        return None
    return VmIdParts(match["subscription"], match["group"], match["name"])


def vm_id(subscription: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )
