"""The ARM operations the adapters call, as the Microsoft.Authorization actions they need.

This is the least-privilege list: `infra/role.json` (the custom role the deployment assigns
at each target subscription) holds exactly these actions, and tests/infra runs the compute
adapter against the fleet simulator to check that every request it sends is one of them.
A new ARM call in `azure_io/compute.py` needs its line here, or the deployed app gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArmOperation:
    action: str  # the Microsoft.Authorization action a role must grant
    request: str  # what is sent, relative to /subscriptions/{sub}
    called_by: str  # the ComputeAdapter method(s) that send it


ARM_OPERATIONS: tuple[ArmOperation, ...] = (
    ArmOperation(
        "Microsoft.Compute/virtualMachines/read",
        "GET providers/Microsoft.Compute/virtualMachines (and statusOnly=true)",
        "discover",
    ),
    ArmOperation(
        "Microsoft.Compute/virtualMachines/instanceView/read",
        "GET resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}/instanceView",
        "check_health",
    ),
    ArmOperation(
        "Microsoft.Compute/virtualMachines/assessPatches/action",
        "POST resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}/assessPatches",
        "start_assessment",
    ),
    ArmOperation(
        "Microsoft.Compute/virtualMachines/installPatches/action",
        "POST resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}/installPatches",
        "start_install",
    ),
    ArmOperation(
        "Microsoft.Compute/virtualMachines/write",
        "PATCH resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
        " (patchSettings.enableHotpatching only)",
        "set_hotpatching",
    ),
    ArmOperation(
        "Microsoft.Compute/locations/operations/read",
        "GET providers/Microsoft.Compute/locations/{location}/operations/{id} (the status URL)",
        "check_assessment, check_install",
    ),
    ArmOperation(
        "Microsoft.Resources/subscriptions/locations/read",
        "GET locations (each region's geo-pair)",
        "region_pairs",
    ),
)

ACTIONS: tuple[str, ...] = tuple(operation.action for operation in ARM_OPERATIONS)
