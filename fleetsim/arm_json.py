"""The ARM JSON of subscriptions, locations, VMs, instance views and patch results."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from fleetsim.errors import TENANT_ID
from fleetsim.fleet import FleetSpec, SubscriptionSpec
from fleetsim.install import InstallationState
from fleetsim.oplog import iso
from fleetsim.state import ASSESS, Operation, VmRuntime
from patching.regions import BUILTIN_REGIONS

VM_TYPE = "Microsoft.Compute/virtualMachines"

_POWER_DISPLAY = {
    "running": "VM running",
    "deallocated": "VM deallocated",
    "stopped": "VM stopped",
    "starting": "VM starting",
    "stopping": "VM stopping",
    "deallocating": "VM deallocating",
}


def _stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256("|".join(parts).encode()).digest()[:16]))


def subscription_json(sub: SubscriptionSpec) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub.id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": sub.id,
        "tenantId": TENANT_ID,
        "displayName": sub.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


_DISPLAY_WORDS = ("north", "south", "east", "west", "central")
_UPPER_WORDS = {"us": "US", "uk": "UK", "uae": "UAE"}


def display_name(region: str) -> str:
    """'eastus2' -> 'East US 2', 'westeurope' -> 'West Europe' (good enough for a simulator)."""
    words: list[str] = []
    rest = region.lower()
    while rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits:
            words.append(rest[:digits])
            rest = rest[digits:]
            continue
        word = next((w for w in _DISPLAY_WORDS if rest.startswith(w)), None)
        if word is None:
            split = next((i for i, ch in enumerate(rest) if ch.isdigit()), len(rest))
            for w in _DISPLAY_WORDS:
                at = rest.find(w, 1)
                if 0 < at < split:
                    split = at
            word = rest[:split]
        words.append(_UPPER_WORDS.get(word, word.capitalize()))
        rest = rest[len(word) :]
    return " ".join(words)


def region_pairs(fleet: FleetSpec) -> dict[str, str | None]:
    """Every region to list, with its pair: the fleet's own, else the project's table."""
    pairs: dict[str, str | None] = {
        name.lower(): (info.paired_region.lower() if info.paired_region else None)
        for name, info in BUILTIN_REGIONS.items()
    }
    for vm in fleet.vms:
        pairs.setdefault(vm.location, None)
    for name, region in fleet.regions.items():
        pairs[name] = region.paired_region
    for paired in [p for p in pairs.values() if p is not None]:
        pairs.setdefault(paired, None)
    return dict(sorted(pairs.items()))


def location_json(subscription_id: str, name: str, paired: str | None) -> dict[str, Any]:
    location_id = f"/subscriptions/{subscription_id}/locations/{name}"
    shown = display_name(name)
    metadata: dict[str, Any] = {
        "regionType": "Physical",
        "regionCategory": "Recommended",
        "geography": shown,
        "geographyGroup": shown,
        "longitude": "0",
        "latitude": "0",
        "physicalLocation": shown,
        "pairedRegion": []
        if paired is None
        else [{"name": paired, "id": f"/subscriptions/{subscription_id}/locations/{paired}"}],
    }
    return {
        "id": location_id,
        "name": name,
        "type": "Region",
        "displayName": shown,
        "regionalDisplayName": shown,
        "metadata": metadata,
    }


def operation_output(op: Operation, now: datetime) -> dict[str, Any]:
    """An assessPatches or installPatches result as ARM writes it (InProgress until its end)."""
    done = now >= op.end
    if op.kind == ASSESS:
        return {
            "status": "Succeeded" if done else "InProgress",
            "assessmentActivityId": op.activity_id,
            "rebootPending": op.reboot_pending_at_start,
            "criticalAndSecurityPatchCount": sum(1 for p in op.found if p.is_critical_or_security),
            "otherPatchCount": sum(1 for p in op.found if not p.is_critical_or_security),
            "startDateTime": iso(op.start),
            "availablePatches": [
                {
                    "patchId": p.patch_id,
                    "name": p.name,
                    "version": p.version,
                    **({"kbId": p.kb_id} if p.kb_id is not None else {}),
                    "classifications": list(p.classifications),
                    "rebootBehavior": p.reboot_behavior,
                    "activityId": op.activity_id,
                    "publishedDate": iso(p.published),
                    "lastModifiedDateTime": iso(op.start),
                    "assessmentState": "Available",
                }
                for p in op.found
            ],
        }
    assert op.outcome is not None
    outcome = op.outcome
    # While running, every patch the install will touch is still Pending.
    states = [
        (
            p,
            s
            if done or s not in (InstallationState.INSTALLED, InstallationState.FAILED)
            else InstallationState.PENDING,
        )
        for p, s in outcome.states
    ]

    def count(state: InstallationState) -> int:
        return sum(1 for _, s in states if s is state)

    result: dict[str, Any] = {
        "status": outcome.status if done else "InProgress",
        "installationActivityId": op.activity_id,
        "rebootStatus": outcome.reboot_status if done else "Unknown",
        "maintenanceWindowExceeded": outcome.maintenance_window_exceeded if done else False,
        "excludedPatchCount": count(InstallationState.EXCLUDED),
        "notSelectedPatchCount": count(InstallationState.NOT_SELECTED),
        "pendingPatchCount": count(InstallationState.PENDING),
        "installedPatchCount": count(InstallationState.INSTALLED),
        "failedPatchCount": count(InstallationState.FAILED),
        "patches": [
            {
                "patchId": p.patch_id,
                "name": p.name,
                "version": p.version,
                **({"kbId": p.kb_id} if p.kb_id is not None else {}),
                "classifications": list(p.classifications),
                "installationState": s.value,
            }
            for p, s in states
        ],
        "startDateTime": iso(op.start),
    }
    if done and outcome.error is not None:
        result["error"] = dict(outcome.error)
    return result


def _status(
    code: str, display: str, *, level: str = "Info", time: datetime | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {"code": code, "level": level, "displayStatus": display}
    if time is not None:
        status["time"] = iso(time)
    return status


def _assessment_summary(op: Operation, now: datetime) -> dict[str, Any]:
    result = operation_output(op, now)
    return {
        "status": result["status"],
        "assessmentActivityId": op.activity_id,
        "rebootPending": result["rebootPending"],
        "criticalAndSecurityPatchCount": result["criticalAndSecurityPatchCount"],
        "otherPatchCount": result["otherPatchCount"],
        "startTime": iso(op.start),
        "lastModifiedTime": iso(op.end),
    }


def _installation_summary(op: Operation, now: datetime) -> dict[str, Any]:
    result = operation_output(op, now)
    summary = {
        "status": result["status"],
        "installationActivityId": op.activity_id,
        "maintenanceWindowExceeded": result["maintenanceWindowExceeded"],
        "notSelectedPatchCount": result["notSelectedPatchCount"],
        "excludedPatchCount": result["excludedPatchCount"],
        "pendingPatchCount": result["pendingPatchCount"],
        "installedPatchCount": result["installedPatchCount"],
        "failedPatchCount": result["failedPatchCount"],
        "startTime": iso(op.start),
        "lastModifiedTime": iso(min(now, op.end)),
    }
    if "error" in result:
        summary["error"] = result["error"]
    return summary


def instance_view_json(vm: VmRuntime, now: datetime) -> dict[str, Any]:
    spec = vm.spec
    power = vm.power_state(now)
    view: dict[str, Any] = {
        "platformUpdateDomain": spec.update_domain,
        "platformFaultDomain": spec.fault_domain,
        "computerName": spec.name,
        "osName": "Windows Server 2022 Datacenter: Azure Edition" if spec.is_windows else "ubuntu",
        "osVersion": "10.0.20348" if spec.is_windows else "22.04",
        "hyperVGeneration": "V2",
        "statuses": [
            _status("ProvisioningState/succeeded", "Provisioning succeeded", time=now),
            _status(f"PowerState/{power}", _POWER_DISPLAY.get(power, f"VM {power}")),
        ],
        # As reported by the Application Health extension every fleet VM is given.
        "vmHealth": {
            "status": _status("HealthState/healthy", "The VM is healthy")
            if vm.healthy
            else _status("HealthState/unhealthy", "The VM is unhealthy", level="Error")
        },
    }
    if power == "running":
        agent_status = (
            _status("ProvisioningState/succeeded", "Ready", time=now)
            if vm.healthy
            else _status("ProvisioningState/Unavailable", "Not Ready", level="Warning", time=now)
        )
        if not vm.healthy:
            agent_status["message"] = "VM Agent is unresponsive."
        view["vmAgent"] = {"vmAgentVersion": "2.7.41491.1176", "statuses": [agent_status]}
    patch_status: dict[str, Any] = {
        "configurationStatuses": [
            _status(
                "PatchModeConfigurationState/Succeeded",
                "Provisioning succeeded",
                time=now,
            )
        ]
    }
    if vm.last_assessment is not None:
        patch_status["availablePatchSummary"] = _assessment_summary(vm.last_assessment, now)
    latest_install = vm.running_install or vm.last_install
    if latest_install is not None:
        patch_status["lastPatchInstallationSummary"] = _installation_summary(latest_install, now)
    view["patchStatus"] = patch_status
    return view


def vm_json(vm: VmRuntime, now: datetime, *, with_instance_view: bool) -> dict[str, Any]:
    spec = vm.spec
    if spec.is_windows:
        image = {
            "publisher": "MicrosoftWindowsServer",
            "offer": "WindowsServer",
            "sku": spec.reported_image_sku,
            "version": "latest",
        }
        patch_settings: dict[str, Any] = {
            "patchMode": vm.patch_mode,
            "enableHotpatching": vm.enable_hotpatching,
            "assessmentMode": "AutomaticByPlatform"
            if vm.patch_mode == "AutomaticByPlatform"
            else "ImageDefault",
        }
        windows: dict[str, Any] = {
            "provisionVMAgent": True,
            "enableAutomaticUpdates": vm.patch_mode != "Manual",
            "patchSettings": patch_settings,
            "enableVMAgentPlatformUpdates": False,
        }
        if spec.time_zone is not None:
            windows["timeZone"] = spec.time_zone
        os_config: dict[str, Any] = {"windowsConfiguration": windows}
    else:
        image = {
            "publisher": "Canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": spec.reported_image_sku,
            "version": "latest",
        }
        os_config = {
            "linuxConfiguration": {
                "disablePasswordAuthentication": True,
                "provisionVMAgent": True,
                "patchSettings": {
                    "patchMode": vm.patch_mode,
                    "assessmentMode": "AutomaticByPlatform"
                    if vm.patch_mode == "AutomaticByPlatform"
                    else "ImageDefault",
                },
                "enableVMAgentPlatformUpdates": False,
            }
        }
    nic_id = (
        f"/subscriptions/{spec.subscription_id}/resourceGroups/{spec.resource_group}"
        f"/providers/Microsoft.Network/networkInterfaces/{spec.name}-nic"
    )
    properties: dict[str, Any] = {
        "vmId": _stable_uuid("vm", spec.key),
        "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
        "storageProfile": {
            "imageReference": image,
            "osDisk": {
                "osType": spec.os_type,
                "name": f"{spec.name}_OsDisk_1",
                "createOption": "FromImage",
                "caching": "ReadWrite",
                "managedDisk": {"storageAccountType": "Premium_LRS"},
                "deleteOption": "Delete",
                "diskSizeGB": 127 if spec.is_windows else 30,
            },
            "dataDisks": [],
        },
        "osProfile": {
            "computerName": spec.name,
            "adminUsername": "azureuser",
            **os_config,
            "secrets": [],
            "allowExtensionOperations": True,
            "requireGuestProvisionSignal": True,
        },
        "networkProfile": {"networkInterfaces": [{"id": nic_id}]},
        "provisioningState": "Succeeded",
        "timeCreated": "2026-01-05T09:00:00Z",
    }
    if spec.availability_set is not None:
        properties["availabilitySet"] = {"id": spec.availability_set}
    if with_instance_view:
        properties["instanceView"] = instance_view_json(vm, now)
    body: dict[str, Any] = {
        "name": spec.name,
        "id": spec.id,
        "type": VM_TYPE,
        "location": spec.location,
        "tags": dict(vm.tags),
        "properties": properties,
    }
    if spec.zone is not None:
        body["zones"] = [spec.zone]
    return body
