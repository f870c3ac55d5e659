"""installPatches semantics: every parameter, every count, reboots, failures, health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from fleetsim_helpers import compute, fleet_of, linux_vm, vm_id, windows_vm

from fleetsim.fleet import default_hotpatch_install_minutes, default_install_minutes

PATCHES = [
    {"kbId": "1000001", "name": "Hotpatch", "classifications": ["Security"],
     "rebootBehavior": "NeverReboots", "publishedDate": "2026-12-08T18:00:00Z"},
    {"kbId": "1000002", "name": "Cumulative", "classifications": ["Security"],
     "rebootBehavior": "AlwaysRequiresReboot", "publishedDate": "2026-12-08T18:00:00Z"},
    {"kbId": "1000003", "name": "Servicing stack", "classifications": ["Critical"],
     "rebootBehavior": "CanRequestReboot", "publishedDate": "2026-11-10T18:00:00Z"},
    {"kbId": "1000004", "name": "Rollup", "classifications": ["UpdateRollUp"],
     "rebootBehavior": "AlwaysRequiresReboot", "publishedDate": "2026-11-10T18:00:00Z"},
    {"kbId": "1000005", "name": "Defender", "classifications": ["Definition"],
     "rebootBehavior": "NeverReboots", "publishedDate": "2026-12-08T18:00:00Z"},
]  # fmt: skip

VM = vm_id("web-01")


def _fleet(**sim: Any) -> dict[str, Any]:
    settings = {"installMinutes": 40, "availablePatches": PATCHES, **sim}
    return fleet_of(windows_vm("web-01", sim=settings))


def _install(sim, clock, body: dict[str, Any], *, minutes: int = 240):
    poller = compute(sim).virtual_machines.begin_install_patches("rg-app", "web-01", body)
    clock.advance(timedelta(minutes=minutes))
    return poller.result()


def _windows(reboot: str = "IfRequired", duration: str = "PT2H", **params: Any) -> dict[str, Any]:
    params.setdefault("classificationsToInclude", ["Critical", "Security"])
    return {"maximumDuration": duration, "rebootSetting": reboot, "windowsParameters": params}


def _states(result) -> dict[str, str]:
    return {p.kb_id: p.installation_state for p in result.patches}


def _counts(result) -> tuple[int, int, int, int, int]:
    return (
        result.installed_patch_count,
        result.failed_patch_count,
        result.pending_patch_count,
        result.excluded_patch_count,
        result.not_selected_patch_count,
    )


def test_classifications_with_reboot_if_required(simulate, clock):
    sim = simulate(_fleet())
    result = _install(sim, clock, _windows())
    assert result.status == "Succeeded"
    assert _states(result) == {
        "1000001": "Installed",
        "1000002": "Installed",
        "1000003": "Installed",
        "1000004": "NotSelected",
        "1000005": "NotSelected",
    }
    assert _counts(result) == (3, 0, 0, 0, 2)
    assert result.reboot_status == "Completed"
    assert result.maintenance_window_exceeded is False
    assert result.installation_activity_id
    vm = sim.state.vm(VM)
    assert vm.installed_kbs == ("1000001", "1000002", "1000003")
    assert vm.reboots == 1
    assert vm.reboot_pending is False


def test_exclude_kbs_requiring_reboot_keeps_only_never_reboots(simulate, clock):
    sim = simulate(_fleet())
    result = _install(sim, clock, _windows("Never", excludeKbsRequiringReboot=True))
    # CanRequestReboot is excluded too, not only AlwaysRequiresReboot.
    assert _states(result) == {
        "1000001": "Installed",
        "1000002": "Excluded",
        "1000003": "Excluded",
        "1000004": "NotSelected",
        "1000005": "NotSelected",
    }
    assert _counts(result) == (1, 0, 0, 2, 2)
    assert result.reboot_status == "NotNeeded"
    assert sim.state.vm(VM).reboots == 0


def test_reboot_never_leaves_kbs_needing_a_restart_pending(simulate, clock):
    # docs/DOMAIN.md section 4: with rebootSetting Never the VM is never restarted; a KB
    # that needs a restart is left pending with rebootStatus Required.
    sim = simulate(_fleet())
    client = compute(sim)
    result = _install(sim, clock, _windows("Never"))
    assert _states(result) == {
        "1000001": "Installed",
        "1000002": "Pending",
        "1000003": "Pending",
        "1000004": "NotSelected",
        "1000005": "NotSelected",
    }
    assert _counts(result) == (1, 0, 2, 0, 2)
    assert result.reboot_status == "Required"
    assert result.maintenance_window_exceeded is False
    vm = sim.state.vm(VM)
    assert vm.installed_kbs == ("1000001",)
    assert vm.reboot_pending is True
    assert vm.reboots == 0

    # The next assessment still finds them, and the pending reboot.
    poller = client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    clock.advance(timedelta(minutes=5))
    assessment = poller.result()
    assert assessment.reboot_pending is True
    assert sorted(p.kb_id for p in assessment.available_patches) == [
        "1000002",
        "1000003",
        "1000004",
        "1000005",
    ]

    # An install that may reboot installs them and takes the reboot.
    later = _install(sim, clock, _windows("IfRequired"))
    assert _counts(later) == (2, 0, 0, 0, 2)
    assert later.reboot_status == "Completed"
    vm = sim.state.vm(VM)
    assert vm.installed_kbs == ("1000001", "1000002", "1000003")
    assert vm.reboot_pending is False
    assert vm.reboots == 1


def test_a_reboot_pending_from_before_is_taken_when_allowed(simulate, clock):
    sim = simulate(_fleet())
    _install(sim, clock, _windows("Never", classificationsToInclude=["Critical"]))
    assert sim.state.vm(VM).reboot_pending is True  # the servicing stack waits for it
    later = _install(sim, clock, _windows("IfRequired", classificationsToInclude=["Definition"]))
    assert _counts(later) == (1, 0, 0, 0, 4)
    assert later.reboot_status == "Completed"
    assert sim.state.vm(VM).reboot_pending is False


def test_reboot_always_reboots_even_without_need(simulate, clock):
    sim = simulate(_fleet())
    result = _install(sim, clock, _windows("Always", classificationsToInclude=["Definition"]))
    assert _counts(result) == (1, 0, 0, 0, 4)
    assert result.reboot_status == "Completed"
    assert sim.state.vm(VM).reboots == 1


@pytest.mark.parametrize("prefix", ["", "KB"], ids=["bare", "kb-prefixed"])
def test_kb_numbers_to_include_and_exclude(simulate, clock, prefix):
    # The fleet may write KB ids with or without "KB"; requests match either way.
    patches = [dict(p, kbId=f"{prefix}{p['kbId']}") for p in PATCHES]
    sim = simulate(_fleet(availablePatches=patches))
    body = _windows(
        classificationsToInclude=["Security"],
        kbNumbersToInclude=["KB1000004"],
        kbNumbersToExclude=["1000002"],
    )
    result = _install(sim, clock, body)
    assert _states(result) == {
        f"{prefix}1000001": "Installed",
        f"{prefix}1000002": "Excluded",
        f"{prefix}1000003": "NotSelected",
        f"{prefix}1000004": "Installed",
        f"{prefix}1000005": "NotSelected",
    }
    assert _counts(result) == (2, 0, 0, 1, 2)


def test_max_patch_publish_date(simulate, clock):
    sim = simulate(_fleet())
    result = _install(sim, clock, _windows(maxPatchPublishDate="2026-12-01T00:00:00Z"))
    assert _states(result)["1000001"] == "NotSelected"
    assert _states(result)["1000002"] == "NotSelected"
    assert _states(result)["1000003"] == "Installed"
    assert _counts(result) == (1, 0, 0, 0, 4)


def test_maximum_duration_leaves_the_rest_pending(simulate, clock):
    # Four selected patches share 100 minutes (25 each); a one-hour window fits two.
    sim = simulate(_fleet(installMinutes=100))
    client = compute(sim)
    body = _windows(
        "IfRequired",
        duration="PT1H",
        classificationsToInclude=["Critical", "Security", "UpdateRollUp"],
    )
    poller = client.virtual_machines.begin_install_patches("rg-app", "web-01", body)
    clock.advance(timedelta(minutes=59))
    assert poller.status() == "InProgress"
    clock.advance(timedelta(minutes=1))
    result = poller.result()
    assert result.status == "CompletedWithWarnings"
    assert result.maintenance_window_exceeded is True
    assert _counts(result) == (2, 0, 2, 0, 1)
    # Critical and security first (then by name): the rollup is left, and one more.
    assert _states(result) == {
        "1000001": "Installed",
        "1000002": "Installed",
        "1000003": "Pending",
        "1000004": "Pending",
        "1000005": "NotSelected",
    }
    assert result.reboot_status == "Completed"  # the cumulative update got in


def test_failing_install(simulate, clock):
    sim = simulate(_fleet(installFails=True, unhealthyAfterInstall=True))
    result = _install(sim, clock, _windows())
    assert result.status == "Failed"
    assert _counts(result) == (0, 3, 0, 0, 2)
    assert result.error.code == "PatchInstallationFailure"
    assert result.reboot_status == "NotNeeded"
    vm = sim.state.vm(VM)
    assert vm.installed_kbs == ()
    assert vm.healthy is True  # nothing was installed that could break it


def test_unhealthy_after_install(simulate, clock):
    sim = simulate(_fleet(unhealthyAfterInstall=True))
    client = compute(sim)
    before = client.virtual_machines.instance_view("rg-app", "web-01")
    assert before.vm_health.status.code == "HealthState/healthy"
    result = _install(sim, clock, _windows("Never", excludeKbsRequiringReboot=True))
    assert result.status == "Succeeded"
    after = client.virtual_machines.instance_view("rg-app", "web-01")
    assert after.vm_health.status.code == "HealthState/unhealthy"
    assert after.vm_agent.statuses[0].display_status == "Not Ready"
    assert after.statuses[1].code == "PowerState/running"
    assert sim.state.vm(VM).healthy is False


def test_linux_classifications_and_package_masks(simulate, clock):
    sim = simulate(fleet_of(linux_vm("db-01")))
    body = {
        "maximumDuration": "PT2H",
        "rebootSetting": "IfRequired",
        "linuxParameters": {
            "classificationsToInclude": ["Security"],
            "packageNameMasksToInclude": ["cur*"],
            "packageNameMasksToExclude": ["linux-image-*"],
        },
    }
    poller = compute(sim).virtual_machines.begin_install_patches("rg-app", "db-01", body)
    clock.advance(timedelta(minutes=30))
    result = poller.result()
    states = {p.name: p.installation_state for p in result.patches}
    assert states == {
        "openssl": "Installed",
        "linux-image-azure": "Excluded",
        "libc6": "NotSelected",
        "curl": "Installed",
        "vim": "NotSelected",
        "tzdata": "NotSelected",
    }
    assert _counts(result) == (2, 0, 0, 1, 3)
    assert all(p.kb_id is None for p in result.patches)
    assert result.reboot_status == "NotNeeded"
    assert sim.state.vm(vm_id("db-01")).installed_kbs == ("curl", "openssl")


def _minutes_to_finish(sim, clock, names: list[str], body: dict[str, Any]) -> dict[str, int]:
    client = compute(sim)
    for name in names:
        client.virtual_machines.begin_install_patches("rg-app", name, body)
    finished_after: dict[str, int] = {}
    for minute in range(1, 71):
        clock.advance(timedelta(minutes=1))
        for name in names:
            if name not in finished_after and not sim.state.vm(vm_id(name)).install_in_progress:
                finished_after[name] = minute
    return finished_after


@pytest.mark.parametrize("hotpatching", [False, True])
def test_default_install_minutes_are_a_deterministic_spread(simulate, clock, hotpatching):
    names = [f"vm-{i}" for i in range(12)]
    vms = (windows_vm(name, enableHotpatching=hotpatching, sim={}) for name in names)
    sim = simulate(fleet_of(*vms))
    body = _windows("IfRequired")
    finished_after = _minutes_to_finish(sim, clock, names, body)
    assert len(finished_after) == 12
    assert all(15 <= minutes <= 70 for minutes in finished_after.values())
    assert len(set(finished_after.values())) >= 6
    assert finished_after["vm-0"] == default_install_minutes(vm_id("vm-0"))


def test_a_hotpatch_install_takes_minutes_and_a_full_one_its_install_time(simulate, clock):
    names = [f"vm-{i}" for i in range(12)]
    sim = simulate(fleet_of(*(windows_vm(name, sim={}) for name in names)))
    hotpatch = _windows("Never", excludeKbsRequiringReboot=True)
    finished_after = _minutes_to_finish(sim, clock, names, hotpatch)
    assert len(finished_after) == 12
    assert all(3 <= minutes <= 12 for minutes in finished_after.values())
    assert len(set(finished_after.values())) >= 4
    assert finished_after["vm-0"] == default_hotpatch_install_minutes(vm_id("vm-0"))
    # The same request on a VM not enabled for hotpatching is a full install.
    plain = simulate(fleet_of(windows_vm("old", enableHotpatching=False, sim={})))
    assert _minutes_to_finish(plain, clock, ["old"], hotpatch)["old"] == default_install_minutes(
        vm_id("old")
    )
    given = simulate(fleet_of(windows_vm("set", sim={"hotpatchInstallMinutes": 7})))
    assert _minutes_to_finish(given, clock, ["set"], hotpatch) == {"set": 7}


def test_invalid_requests_and_concurrent_installs(simulate, clock):
    sim = simulate(_fleet())
    client = compute(sim)
    with pytest.raises(HttpResponseError) as no_params:
        client.virtual_machines.begin_install_patches(
            "rg-app", "web-01", {"maximumDuration": "PT2H", "rebootSetting": "IfRequired"}
        )
    assert no_params.value.status_code == 400
    assert no_params.value.error.code == "InvalidParameter"
    with pytest.raises(HttpResponseError) as too_long:
        client.virtual_machines.begin_install_patches("rg-app", "web-01", _windows(duration="PT5H"))
    assert too_long.value.status_code == 400

    client.virtual_machines.begin_install_patches("rg-app", "web-01", _windows())
    with pytest.raises(ResourceExistsError) as busy:
        client.virtual_machines.begin_install_patches("rg-app", "web-01", _windows())
    assert busy.value.status_code == 409
    assert busy.value.error.code == "OperationNotAllowed"


def test_seven_patches_fill_the_install_time_exactly(simulate, clock):
    # 15 minutes over 7 patches is not a whole number of microseconds; adding up
    # a rounded share overshot, and the last patch "did not fit" in PT4H.
    patches = [
        {"kbId": str(2000000 + i), "name": f"Update {i}", "classifications": ["Security"],
         "rebootBehavior": "NeverReboots", "publishedDate": "2026-12-08T18:00:00Z"}
        for i in range(7)
    ]  # fmt: skip
    sim = simulate(
        fleet_of(windows_vm("web-01", sim={"installMinutes": 15, "availablePatches": patches}))
    )
    poller = compute(sim).virtual_machines.begin_install_patches(
        "rg-app", "web-01", _windows(duration="PT4H")
    )
    clock.advance(timedelta(minutes=15))
    result = poller.result()
    assert result.status == "Succeeded"
    assert result.maintenance_window_exceeded is False
    assert _counts(result) == (7, 0, 0, 0, 0)
    assert len(sim.state.vm(VM).installed_kbs) == 7


def test_a_linux_patch_known_only_by_name_is_assessed_and_installed(simulate, clock):
    patch = {"name": "openssl", "classifications": ["Security"], "rebootBehavior": "NeverReboots"}
    sim = simulate(
        fleet_of(linux_vm("db-01", sim={"installMinutes": 10, "availablePatches": [patch]}))
    )
    client = compute(sim)
    poller = client.virtual_machines.begin_assess_patches("rg-app", "db-01")
    clock.advance(timedelta(minutes=1))
    found = poller.result().available_patches
    assert [(p.name, p.kb_id, p.classifications) for p in found] == [
        ("openssl", None, ["Security"])
    ]
    body = {
        "maximumDuration": "PT1H",
        "rebootSetting": "IfRequired",
        "linuxParameters": {"packageNameMasksToInclude": ["openssl"]},
    }
    poller = client.virtual_machines.begin_install_patches("rg-app", "db-01", body)
    clock.advance(timedelta(minutes=10))
    result = poller.result()
    assert [(p.name, p.installation_state) for p in result.patches] == [("openssl", "Installed")]
    assert sim.state.vm(vm_id("db-01")).installed_kbs == ("openssl",)


_LINUX_BODY = {
    "maximumDuration": "PT1H",
    "rebootSetting": "IfRequired",
    "linuxParameters": {"classificationsToInclude": ["Critical", "Security"]},
}


@pytest.mark.parametrize(
    ("vm", "body", "target"),
    [
        (
            "web-01",
            _windows(classificationsToInclude=["Security", "Other"]),
            "windowsParameters.classificationsToInclude",
        ),
        (
            "web-01",
            _windows(classificationsToInclude=["Securty"]),
            "windowsParameters.classificationsToInclude",
        ),
        (
            "db-01",
            dict(_LINUX_BODY, linuxParameters={"classificationsToInclude": ["Definition"]}),
            "linuxParameters.classificationsToInclude",
        ),
        (
            "web-01",
            {
                "rebootSetting": "Never",
                "windowsParameters": {"classificationsToInclude": ["Security"]},
            },
            "maximumDuration",
        ),
        ("web-01", _windows(duration="2 hours"), "maximumDuration"),
        ("web-01", dict(_windows(), maximumDuration=7200), "maximumDuration"),
        ("web-01", _windows("Sometimes"), "rebootSetting"),
        (
            "web-01",
            dict(_windows(), linuxParameters={"classificationsToInclude": ["Security"]}),
            "linuxParameters",
        ),
        (
            "db-01",
            dict(_LINUX_BODY, windowsParameters={"classificationsToInclude": ["Security"]}),
            "windowsParameters",
        ),
        (
            "db-01",
            dict(
                _LINUX_BODY,
                linuxParameters={
                    "classificationsToInclude": ["Security"],
                    "kbNumbersToInclude": ["5050001"],
                },
            ),
            "linuxParameters.kbNumbersToInclude",
        ),
        (
            "web-01",
            _windows(packageNameMasksToInclude=["openssl"]),
            "windowsParameters.packageNameMasksToInclude",
        ),
    ],
)
def test_install_parameters_are_validated(simulate, clock, vm, body, target):
    sim = simulate(fleet_of(windows_vm("web-01"), linux_vm("db-01")))
    client = compute(sim)
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_machines.begin_install_patches("rg-app", vm, body)
    assert refused.value.status_code == 400
    assert refused.value.error.code == "InvalidParameter"
    assert refused.value.error.target == target
    assert refused.value.error.message
    assert sim.state.vm(vm_id(vm)).install_in_progress is False


def test_classifications_are_compared_without_case(simulate, clock):
    sim = simulate(_fleet())
    result = _install(sim, clock, _windows(classificationsToInclude=["security", "CRITICAL"]))
    assert _counts(result) == (3, 0, 0, 0, 2)


def test_assessment_and_install_do_not_run_at_once_on_a_vm(simulate, clock):
    sim = simulate(
        fleet_of(
            windows_vm("web-01", sim={"installMinutes": 40, "assessMinutes": 5}),
            windows_vm("web-02"),
        )
    )
    client = compute(sim)
    client.virtual_machines.begin_install_patches("rg-app", "web-01", _windows())
    with pytest.raises(ResourceExistsError) as assess_busy:
        client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    assert assess_busy.value.status_code == 409
    assert assess_busy.value.error.code == "OperationNotAllowed"
    assert "in progress" in assess_busy.value.error.message
    # Another VM is not concerned.
    client.virtual_machines.begin_assess_patches("rg-app", "web-02")

    clock.advance(timedelta(minutes=40))  # the install ends
    assessment = client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    with pytest.raises(ResourceExistsError) as install_busy:
        client.virtual_machines.begin_install_patches("rg-app", "web-01", _windows())
    assert install_busy.value.status_code == 409
    assert install_busy.value.error.code == "OperationNotAllowed"
    assert "in progress" in install_busy.value.error.message
    assert sim.state.vm(VM).install_in_progress is False

    clock.advance(timedelta(minutes=5))  # the assessment ends
    assert assessment.result().status == "Succeeded"
    client.virtual_machines.begin_install_patches("rg-app", "web-01", _windows())
    assert sim.state.vm(VM).install_in_progress is True


def test_an_expected_install_duration_is_the_planners_and_changes_nothing_here(simulate, clock):
    # The fleet file's expectedInstallMinutes sizes the slot; sim.installMinutes is what runs.
    vm = windows_vm(
        "web-01", expectedInstallMinutes=5, sim={"installMinutes": 40, "availablePatches": PATCHES}
    )
    sim = simulate(fleet_of(vm))
    poller = compute(sim).virtual_machines.begin_install_patches("rg-app", "web-01", _windows())
    clock.advance(timedelta(minutes=39))
    assert poller.status() == "InProgress"
    clock.advance(timedelta(minutes=1))
    assert poller.result().status == "Succeeded"
