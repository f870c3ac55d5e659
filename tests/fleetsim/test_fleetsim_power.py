"""VMs deallocated during sim.offDuring: power state, and patch operations refused as on Azure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.core.exceptions import ResourceExistsError
from fleetsim_helpers import START, compute, fleet_of, vm_id, windows_vm

OFF = {"from": "2026-12-09T04:00:00Z", "to": "2026-12-09T06:00:00Z"}
INSTALL = {
    "maximumDuration": "PT2H",
    "rebootSetting": "IfRequired",
    "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
}


def test_off_period_deallocates_and_patch_operations_fail_with_409(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01", sim={"offDuring": [OFF]})))
    client = compute(sim)
    assert START.hour == 3

    def power() -> str:
        return client.virtual_machines.instance_view("rg-app", "web-01").statuses[1].code

    assert power() == "PowerState/running"
    clock.advance(timedelta(hours=1))
    assert power() == "PowerState/deallocated"
    assert sim.state.vm(vm_id("web-01")).power_state == "deallocated"
    listed = next(iter(client.virtual_machines.list_all(status_only="true")))
    assert listed.instance_view.statuses[1].code == "PowerState/deallocated"

    with pytest.raises(ResourceExistsError) as assess:
        client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    assert assess.value.status_code == 409
    assert assess.value.error.code == "OperationNotAllowed"
    assert "not running" in assess.value.error.message
    with pytest.raises(ResourceExistsError) as install:
        client.virtual_machines.begin_install_patches("rg-app", "web-01", INSTALL)
    assert install.value.error.code == "OperationNotAllowed"

    clock.advance(timedelta(hours=2))
    assert power() == "PowerState/running"
    poller = client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    clock.advance(timedelta(minutes=1))
    assert poller.result().status == "Succeeded"


def test_fleet_power_state_stopped_vm(simulate):
    sim = simulate(fleet_of(windows_vm("web-01", powerState="stopped")))
    client = compute(sim)
    assert client.virtual_machines.instance_view("rg-app", "web-01").statuses[1].code == (
        "PowerState/stopped"
    )
    with pytest.raises(ResourceExistsError):
        client.virtual_machines.begin_assess_patches("rg-app", "web-01")


def test_install_stopped_by_deallocation_fails_with_what_it_finished(simulate, clock):
    # Four Critical/Security patches at 25 minutes each; the VM goes off after 60.
    sim = simulate(fleet_of(windows_vm("web-01", sim={"installMinutes": 100, "offDuring": [OFF]})))
    poller = compute(sim).virtual_machines.begin_install_patches("rg-app", "web-01", INSTALL)
    clock.advance(timedelta(minutes=59))
    assert sim.state.vm(vm_id("web-01")).install_in_progress
    clock.advance(timedelta(minutes=1))
    result = poller.result()
    assert result.status == "Failed"
    assert result.error.code == "PatchInstallationInterrupted"
    assert (result.installed_patch_count, result.pending_patch_count) == (2, 2)
    assert result.maintenance_window_exceeded is False
    assert result.reboot_status == "Required"  # the cumulative update got in, no reboot
    vm = sim.state.vm(vm_id("web-01"))
    assert vm.installed_kbs == ("5050002", "5050004")
    assert vm.power_state == "deallocated"
    assert vm.reboots == 0
