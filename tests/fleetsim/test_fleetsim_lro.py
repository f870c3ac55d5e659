"""assessPatches and installPatches as long-running operations, both ways of polling."""

from __future__ import annotations

import threading
from datetime import timedelta

from azure.mgmt.compute import models
from fleetsim_helpers import (
    API,
    START,
    compute,
    fleet_of,
    operations_url,
    raw_session,
    vm_id,
    vm_url,
    windows_vm,
)

HOTPATCH_INSTALL = {
    "maximumDuration": "PT2H",
    "rebootSetting": "Never",
    "windowsParameters": {
        "classificationsToInclude": ["Critical", "Security"],
        "excludeKbsRequiringReboot": True,
    },
}


def test_assess_answers_202_with_both_status_urls(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01", sim={"assessMinutes": 3})))
    session = raw_session(sim)
    accepted = session.post(f"{vm_url(sim, 'web-01')}/assessPatches?{API}")
    assert accepted.status_code == 202
    async_url = accepted.headers["Azure-AsyncOperation"]
    location = accepted.headers["Location"]
    assert async_url.startswith(operations_url(sim) + "/")
    assert "monitor=true" in location

    status = session.get(async_url).json()
    assert status["status"] == "InProgress"
    assert session.get(location).status_code == 202

    clock.advance(timedelta(minutes=3))
    done = session.get(async_url).json()
    assert done["status"] == "Succeeded"
    assert done["properties"]["output"]["status"] == "Succeeded"
    final = session.get(location)
    assert final.status_code == 200
    assert (
        final.json()["assessmentActivityId"] == done["properties"]["output"]["assessmentActivityId"]
    )


def test_assess_poller_to_completion_gives_every_field(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01")))
    poller = compute(sim).virtual_machines.begin_assess_patches("rg-app", "web-01")
    assert poller.status() == "InProgress"
    clock.advance(timedelta(minutes=1))
    result = poller.result()

    assert result.status == "Succeeded"
    assert result.assessment_activity_id
    assert result.reboot_pending is False
    assert result.start_date_time == START
    # Built-in Windows catalog, hotpatch-enabled VM: the hotpatch is offered.
    assert result.critical_and_security_patch_count == 4
    assert result.other_patch_count == 3
    patches = {p.kb_id: p for p in result.available_patches}
    hotpatch = patches["5050001"]
    assert hotpatch.reboot_behavior == "NeverReboots"
    assert hotpatch.classifications == ["Security"]
    assert patches["5050002"].reboot_behavior == "AlwaysRequiresReboot"
    for patch in result.available_patches:
        assert patch.patch_id and patch.name and patch.version
        assert patch.activity_id == result.assessment_activity_id
        assert patch.published_date < START
        assert patch.last_modified_date_time == START
        assert patch.assessment_state == "Available"


def test_poller_waits_for_the_clock_over_https(serve, clock):
    sim = serve(fleet_of(windows_vm("web-01", sim={"hotpatchInstallMinutes": 45})))
    poller = compute(sim).virtual_machines.begin_install_patches(
        "rg-app", "web-01", HOTPATCH_INSTALL
    )
    # Someone else drives time: the poller keeps polling until the install ends.
    ticker = threading.Timer(0.3, clock.advance, args=(timedelta(minutes=45),))
    ticker.start()
    result = poller.result(timeout=10)
    ticker.join()
    assert result.status == "Succeeded"
    assert clock.now() == START + timedelta(minutes=45)


def test_install_in_progress_until_its_minutes_have_passed(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01", sim={"hotpatchInstallMinutes": 40})))
    client = compute(sim)
    poller = client.virtual_machines.begin_install_patches("rg-app", "web-01", HOTPATCH_INSTALL)
    clock.advance(timedelta(minutes=39, seconds=59))
    view = client.virtual_machines.instance_view("rg-app", "web-01")
    summary = view.patch_status.last_patch_installation_summary
    assert summary.status == "InProgress"
    assert sim.state.vm(vm_id("web-01")).install_in_progress
    assert sim.state.vm(vm_id("web-01")).installed_kbs == ()

    clock.advance(timedelta(seconds=1))
    result = poller.result()
    assert result.status == "Succeeded"
    assert sim.state.vm(vm_id("web-01")).installed_kbs == ("5050001", "5050004")
    summary = client.virtual_machines.instance_view("rg-app", "web-01").patch_status
    assert summary.last_patch_installation_summary.installed_patch_count == 2


def test_continuation_token_resumes_in_a_fresh_client(simulate, clock):
    # Two VMs: a VM runs no assessment while it installs (409, as on Azure).
    sim = simulate(fleet_of(windows_vm("web-01"), windows_vm("web-02")))
    first = compute(sim).virtual_machines.begin_install_patches(
        "rg-app", "web-01", HOTPATCH_INSTALL
    )
    token = first.continuation_token()
    assessing = compute(sim).virtual_machines.begin_assess_patches("rg-app", "web-02")
    assess_token = assessing.continuation_token()
    del first, assessing

    clock.advance(timedelta(hours=1))
    fresh = compute(sim)
    install = fresh.virtual_machines.begin_install_patches(
        "rg-app", "web-01", None, continuation_token=token
    ).result()
    assert isinstance(install, models.VirtualMachineInstallPatchesResult)
    assert install.status == "Succeeded"
    assert install.installed_patch_count == 2
    assess = fresh.virtual_machines.begin_assess_patches(
        "rg-app", "web-02", continuation_token=assess_token
    ).result()
    assert assess.status == "Succeeded"
    assert assess.critical_and_security_patch_count == 4


def test_operation_status_of_unknown_operation_is_404(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    url = f"{operations_url(sim)}/nope?{API}"
    answer = raw_session(sim).get(url)
    assert answer.status_code == 404
