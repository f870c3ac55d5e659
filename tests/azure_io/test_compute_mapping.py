"""ARM's JSON to the app's values: discovery's VM rules and an operation's status body."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azure_io.compute_outcomes import InProgress, OperationFailed, OperationKind, Started
from azure_io.patch_results import OperationError
from azure_io.vm_mapping import (
    OperationOutput,
    assessment_result,
    install_result,
    operation_status,
    vm_target,
)
from patching.models import OsType, PatchMode, PowerState

SUB = "11111111-1111-4111-8111-111111111111"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
STARTED = Started(VM, OperationKind.INSTALL, f"https://management.azure.com{VM}/operations/1")


def listed(properties: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"id": VM, "location": "eastus", "properties": properties, **top}


def windows(patch_settings: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    settings = {} if patch_settings is None else {"patchSettings": patch_settings}
    return {"osProfile": {"windowsConfiguration": {**settings, **config}}}


def test_default_patch_modes_are_arms_per_os() -> None:
    assert vm_target(listed(windows()), None).patch_mode is PatchMode.AUTOMATIC_BY_OS
    linux = listed({"osProfile": {"linuxConfiguration": {}}})
    assert vm_target(linux, None).patch_mode is PatchMode.IMAGE_DEFAULT
    assert vm_target(listed({}), None).patch_mode is PatchMode.IMAGE_DEFAULT


def test_a_patch_mode_this_app_does_not_know_is_manual() -> None:
    target = vm_target(listed(windows({"patchMode": "SomethingNew"})), None)
    assert target.patch_mode is PatchMode.MANUAL


def test_the_os_disk_decides_the_os_type_before_the_configuration() -> None:
    disk_says_linux = windows({"patchMode": "AutomaticByPlatform"})
    disk_says_linux["storageProfile"] = {"osDisk": {"osType": "Linux"}}
    target = vm_target(listed(disk_says_linux), None)
    assert (target.os_type, target.patch_mode) == (OsType.LINUX, PatchMode.IMAGE_DEFAULT)
    assert vm_target(listed(windows()), None).os_type is OsType.WINDOWS


def test_placement_hotpatch_image_time_zone_power_and_tags() -> None:
    properties = windows({"enableHotpatching": True}, timeZone="UTC")
    properties["storageProfile"] = {"imageReference": {"sku": "2022-datacenter"}}
    properties["availabilitySet"] = {"id": "/subscriptions/s/resourceGroups/rg/as/a"}
    view = {
        "platformUpdateDomain": 3,
        "platformFaultDomain": 1,
        "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/stopped"}],
    }
    target = vm_target(listed(properties, zones=["3"], tags={"team": "web"}), view)
    assert (target.zone, target.availability_set) == (
        "3",
        "/subscriptions/s/resourceGroups/rg/as/a",
    )
    assert (target.update_domain, target.fault_domain) == (3, 1)
    assert (target.enable_hotpatching, target.image_sku, target.time_zone) == (
        True,
        "2022-datacenter",
        "UTC",
    )
    assert target.power_state is PowerState.STOPPED
    assert dict(target.tags) == {"team": "web"}
    assert vm_target(listed(properties), None).power_state is PowerState.UNKNOWN


@pytest.mark.parametrize(
    ("vm", "field"),
    [
        ({"location": "eastus"}, "id"),
        (listed({"osProfile": "windows"}), "osProfile"),
        (listed(windows({"patchMode": 3})), "patchMode"),
        ({**listed({}), "location": None}, "location"),
    ],
)
def test_a_vm_not_as_arm_documents_it_is_refused_naming_the_field(
    vm: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        vm_target(vm, None)


def test_an_instance_view_not_as_arm_documents_it_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="platformFaultDomain"):
        vm_target(listed({}), {"platformFaultDomain": "one"})


def test_succeeded_is_the_operations_output() -> None:
    output = {"status": "Failed", "installedPatchCount": 0}  # the install's own status
    body = {"status": "Succeeded", "properties": {"output": output}}
    assert operation_status(STARTED, body) == OperationOutput(output, None)


def test_succeeded_keeps_when_the_operation_ended() -> None:
    output = {"status": "Succeeded", "startDateTime": "2026-12-09T02:00:00Z"}
    body = {
        "status": "Succeeded",
        "startTime": "2026-12-09T02:00:00Z",
        "endTime": "2026-12-09T02:41:30+00:00",
        "properties": {"output": output},
    }
    finished = operation_status(STARTED, body)
    assert isinstance(finished, OperationOutput)
    assert finished.ended_at == datetime(2026, 12, 9, 2, 41, 30, tzinfo=UTC)
    result = install_result(VM, finished.output, ended_at=finished.ended_at)
    assert result.ended_at - result.started_at == timedelta(minutes=41, seconds=30)


def test_an_end_time_that_is_not_one_is_refused_naming_the_field() -> None:
    body = {"status": "Succeeded", "endTime": "soon", "properties": {"output": {}}}
    with pytest.raises(ValueError, match="endTime"):
        operation_status(STARTED, body)


def test_succeeded_without_an_output_is_refused() -> None:
    with pytest.raises(ValueError, match=r"properties\.output"):
        operation_status(STARTED, {"status": "Succeeded"})


def test_failed_and_canceled_carry_the_bodys_error() -> None:
    failed = {
        "status": "Failed",
        "error": {"code": "VMAgentStatusCommunicationError", "message": "no"},
    }
    assert operation_status(STARTED, failed) == OperationFailed(
        VM, OperationKind.INSTALL, "VMAgentStatusCommunicationError", "no"
    )
    canceled = operation_status(STARTED, {"status": "Canceled"})
    assert isinstance(canceled, OperationFailed)
    assert (canceled.code, canceled.http_status) == ("Canceled", None)
    assert "Canceled" in canceled.message


@given(
    st.text().filter(lambda s: s.lower() not in {"succeeded", "failed", "canceled", "cancelled"})
)
def test_any_other_status_is_in_progress(status: str) -> None:
    assert operation_status(STARTED, {"status": status}) == InProgress(VM, OperationKind.INSTALL)


ASSESSMENT_OUTPUT: dict[str, Any] = {
    "status": "Succeeded",
    "assessmentActivityId": "68f8b292-dfc2-4646-9781-33cc88631968",
    "rebootPending": True,
    "criticalAndSecurityPatchCount": 1,
    "otherPatchCount": 2,
    "startDateTime": "2026-12-08T19:00:00.5+00:00",
    "availablePatches": [
        {
            "name": "2026-12 Cumulative Update",
            "kbId": "5048654",
            "classifications": ["Security"],
            "rebootBehavior": "CanRequestReboot",
            "publishedDate": "2026-12-08T18:00:00Z",
        }
    ],
    "error": None,
}


def test_an_assessment_output_maps_every_field() -> None:
    result = assessment_result("vm", ASSESSMENT_OUTPUT)
    assert (result.status, result.reboot_pending) == ("Succeeded", True)
    assert (result.critical_and_security_patch_count, result.other_patch_count) == (1, 2)
    assert result.started_at == datetime(2026, 12, 8, 19, 0, 0, 500_000, tzinfo=UTC)
    [patch] = result.available_patches
    assert (patch.kb_id, patch.classifications, patch.reboot_behavior) == (
        "5048654",
        ("Security",),
        "CanRequestReboot",
    )
    assert patch.published_date == datetime(2026, 12, 8, 18, tzinfo=UTC)
    assert result.error is None
    assert result.activity_id == "68f8b292-dfc2-4646-9781-33cc88631968"


def test_an_install_output_maps_every_field() -> None:
    output = {
        "status": "CompletedWithWarnings",
        "installationActivityId": "a",
        "rebootStatus": "NotNeeded",
        "maintenanceWindowExceeded": True,
        "installedPatchCount": 3,
        "failedPatchCount": 1,
        "pendingPatchCount": 2,
        "excludedPatchCount": 4,
        "notSelectedPatchCount": 5,
        "startDateTime": "2026-12-08T22:00:00Z",
        "patches": [
            {
                "kbId": "1",
                "name": "p",
                "classifications": ["Critical"],
                "installationState": "Failed",
            }
        ],
        "error": {"code": "PatchInstallationFailed", "message": "one patch failed"},
    }
    result = install_result("vm", output)
    counts = (
        result.installed_patch_count,
        result.failed_patch_count,
        result.pending_patch_count,
        result.excluded_patch_count,
        result.not_selected_patch_count,
    )
    assert counts == (3, 1, 2, 4, 5)
    assert (result.status, result.reboot_status) == ("CompletedWithWarnings", "NotNeeded")
    assert result.maintenance_window_exceeded is True
    assert [(p.kb_id, p.installation_state) for p in result.patches] == [("1", "Failed")]
    assert result.error == OperationError("PatchInstallationFailed", "one patch failed")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startDateTime", "yesterday"),
        ("criticalAndSecurityPatchCount", "3"),
        ("availablePatches", {"kbId": "1"}),
        ("status", 7),
    ],
)
def test_an_output_not_as_arm_documents_it_is_refused_naming_the_field(
    field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=field):
        assessment_result("vm", {**ASSESSMENT_OUTPUT, field: value})
