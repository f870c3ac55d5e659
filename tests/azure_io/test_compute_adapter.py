"""The compute adapter with the real SDK clients against the fleet simulator.

In process through the simulator's transport (whose `sleep` the tests record
instead of sleeping), and once over HTTPS to show both ways answer alike.
"""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from azure_io.compute import ComputeAdapter
from azure_io.compute_outcomes import (
    ArmCallError,
    HealthState,
    HealthVerdict,
    HotpatchSet,
    InProgress,
    OperationKind,
    Started,
    Throttled,
    VmNotRunning,
    VmUpdateRefused,
)
from azure_io.patch_results import AssessmentResult, InstallRequest, InstallResult
from azure_io.settings import ArmCredentialKind, Settings
from fleetsim import (
    FaultConfig,
    InProcessSimulator,
    RunningSimulator,
    VirtualClock,
    open_simulator,
    start_simulator,
)
from patching.models import OsType, PatchMode, PowerState, RebootSetting, VmTarget

SUB = "11111111-1111-4111-8111-111111111111"
START = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)
AVSET = (
    f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/availabilitySets/as"
)


def vm_id(name: str, rg: str = "rg-web") -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/"
        + name
    )


FLEET: dict[str, Any] = {
    "version": 1,
    "sim": {"pageSize": 2},
    "subscriptions": [{"id": SUB, "displayName": "prod"}],
    "regions": [
        {"name": "eastus", "pairedRegion": "westus", "timeZone": "America/New_York"},
        {"name": "westus", "pairedRegion": "eastus", "timeZone": "America/Los_Angeles"},
    ],
    "vms": [
        {
            "id": vm_id("web-01"),
            "location": "eastus",
            "zone": "2",
            "availabilitySet": AVSET,
            "updateDomain": 1,
            "faultDomain": 0,
            "osType": "Windows",
            "imageSku": "2022-datacenter-azure-edition-hotpatch",
            "patchMode": "AutomaticByPlatform",
            "enableHotpatching": True,
            "timeZone": "Pacific Standard Time",
            "tags": {"patchWindow": "01:00-05:00"},
            "sim": {"installMinutes": 40},
        },
        {
            "id": vm_id("db-01", "rg-data"),
            "location": "westus",
            "osType": "Linux",
            "imageSku": "22_04-lts-gen2",
            "patchMode": "ImageDefault",
            "sim": {"installMinutes": 30},
        },
        {
            "id": vm_id("off-01"),
            "location": "eastus",
            "osType": "Windows",
            "patchMode": "AutomaticByPlatform",
            "powerState": "deallocated",
        },
        {
            "id": vm_id("flaky-01"),
            "location": "eastus",
            "osType": "Windows",
            "imageSku": "2022-datacenter-g2",
            "patchMode": "AutomaticByPlatform",
            "sim": {"installMinutes": 20, "unhealthyAfterInstall": True},
        },
        {
            "id": vm_id("broken-01"),
            "location": "eastus",
            "osType": "Linux",
            "patchMode": "AutomaticByPlatform",
            "sim": {"installMinutes": 20, "installFails": True},
        },
    ],
}


@pytest.fixture
def ops_log(tmp_path: Path) -> Path:
    return tmp_path / "operations.jsonl"


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait of the SDK (retry back-off, polling), recorded instead of slept."""
    return []


@pytest.fixture
def sim(ops_log: Path, sleeps: list[float]) -> Iterator[InProcessSimulator]:
    with open_simulator(
        FLEET, clock=VirtualClock(START), log_path=ops_log, sleep=sleeps.append
    ) as running:
        yield running


def adapter_for(
    sim: InProcessSimulator | RunningSimulator, *, retry_attempts: int = 3
) -> ComputeAdapter:
    settings = Settings(
        subscriptions=(SUB,),
        arm_endpoint=sim.base_url,
        arm_ca_bundle=None if isinstance(sim, InProcessSimulator) else Path(sim.ca_path),
        arm_credential=ArmCredentialKind.STATIC,
        arm_retry_attempts=retry_attempts,
        arm_retry_backoff_seconds=0.0,
    )
    transport = sim.transport if isinstance(sim, InProcessSimulator) else None
    return ComputeAdapter.from_settings(settings, transport=transport)


@pytest.fixture
def adapter(sim: InProcessSimulator) -> Iterator[ComputeAdapter]:
    adapter = adapter_for(sim)
    yield adapter
    adapter.close()


def iso_minutes(duration: str) -> int:
    """Minutes of an ISO 8601 PTnHnMnS duration (the SDK writes PT02H00M00S)."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 60 + minutes + seconds // 60


def logged(ops_log: Path, op: str) -> list[dict[str, Any]]:
    lines = ops_log.read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry["op"] == op]


def test_discovery_maps_every_fact_in_two_paged_lists(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    before = sim.state.requests
    targets = {target.name: target for target in adapter.discover(SUB.upper())}
    # 5 VMs in pages of 2: three pages of the VM list, three of the statusOnly list.
    assert sim.state.requests - before == 6
    assert set(targets) == {"web-01", "db-01", "off-01", "flaky-01", "broken-01"}
    assert targets["web-01"] == VmTarget(
        id=vm_id("web-01"),
        location="eastus",
        os_type=OsType.WINDOWS,
        patch_mode=PatchMode.AUTOMATIC_BY_PLATFORM,
        zone="2",
        availability_set=AVSET,
        update_domain=1,
        fault_domain=0,
        enable_hotpatching=True,
        image_sku="2022-datacenter-azure-edition-hotpatch",
        time_zone="Pacific Standard Time",
        power_state=PowerState.RUNNING,
        tags={"patchWindow": "01:00-05:00"},
    )
    db = targets["db-01"]
    assert (db.os_type, db.patch_mode, db.location) == (
        OsType.LINUX,
        PatchMode.IMAGE_DEFAULT,
        "westus",
    )
    assert (db.zone, db.availability_set, db.enable_hotpatching, db.time_zone) == (
        None,
        None,
        False,
        None,
    )
    assert db.image_sku == "22_04-lts-gen2"
    assert targets["off-01"].power_state is PowerState.DEALLOCATED


def test_discovery_over_https_is_the_same_as_in_process(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    with start_simulator(FLEET, clock=VirtualClock(START)) as served:
        over_https = adapter_for(served)
        try:
            assert over_https.discover(SUB) == adapter.discover(SUB)
            assert over_https.region_pairs(SUB) == adapter.region_pairs(SUB)
        finally:
            over_https.close()
        assert served.state.requests == sim.state.requests == 7


def test_region_pairs(adapter: ComputeAdapter) -> None:
    pairs = adapter.region_pairs(SUB)
    assert pairs["eastus"] == "westus"
    assert pairs["westus"] == "eastus"


def test_assessment_resumes_from_its_status_url_in_a_fresh_adapter(
    sim: InProcessSimulator, adapter: ComputeAdapter, sleeps: list[float]
) -> None:
    started = adapter.start_assessment(vm_id("web-01"))
    assert isinstance(started, Started)
    assert started.kind is OperationKind.ASSESSMENT

    fresh = adapter_for(sim)  # another worker, another process: only the status URL travels
    before = sim.state.requests
    assert fresh.check_assessment(started) == InProgress(vm_id("web-01"), OperationKind.ASSESSMENT)
    assert sim.state.requests - before == 1  # one status request, no waiting

    sim.clock.advance(timedelta(hours=1))
    result = adapter_for(sim).check_assessment(started)
    assert isinstance(result, AssessmentResult)
    assert result.vm_id == vm_id("web-01")
    assert result.status == "Succeeded"
    assert result.critical_and_security_patch_count > 0
    assert result.critical_and_security_patch_count + result.other_patch_count == len(
        result.available_patches
    )
    assert all(patch.kb_id and patch.classifications for patch in result.available_patches)
    assert result.started_at == START
    assert result.error is None
    assert result.activity_id  # ARM's assessmentActivityId
    assert not any(seconds >= 1 for seconds in sleeps)


# web-01 (hotpatch-enabled Windows) lacks, by the simulator's built-in catalog:
HOTPATCH_KB = "5050001"  # Security, NeverReboots (offered because hotpatching is on)
CUMULATIVE_KB = "5050002"  # Security, AlwaysRequiresReboot
STACK_KB = "5050003"  # Critical, CanRequestReboot
MSRT_KB = "5050004"  # Critical, NeverReboots
NOT_CRITICAL_OR_SECURITY = 3  # UpdateRollUp, Definition and Updates KBs
_WEB_SELECTED_KBS = (HOTPATCH_KB, CUMULATIVE_KB, STACK_KB, MSRT_KB)


def states_by_kb(result: InstallResult) -> dict[str | None, str | None]:
    return {patch.kb_id: patch.installation_state for patch in result.patches}


def test_windows_install_sends_windows_parameters_and_completes(
    sim: InProcessSimulator, adapter: ComputeAdapter, ops_log: Path
) -> None:
    request = InstallRequest(
        os_type=OsType.WINDOWS,
        maximum_duration=timedelta(hours=2),
        reboot_setting=RebootSetting.NEVER,
        exclude_kbs_requiring_reboot=True,
        kb_numbers_to_exclude=(MSRT_KB,),
        max_patch_publish_date=START,
    )
    started = adapter.start_install(vm_id("web-01"), request)
    assert isinstance(started, Started)
    assert isinstance(adapter.check_install(started), InProgress)

    sim.clock.advance(timedelta(hours=2))
    result = adapter_for(sim).check_install(started)
    assert isinstance(result, InstallResult)
    assert result.activity_id  # ARM's installationActivityId
    assert result.status == "Succeeded"
    # Only the hotpatch is left once the KB we named and the KBs needing a reboot are
    # excluded, so nothing asks for a restart.
    assert states_by_kb(result) == {
        HOTPATCH_KB: "Installed",
        MSRT_KB: "Excluded",
        CUMULATIVE_KB: "Excluded",
        STACK_KB: "Excluded",
        **{kb: "NotSelected" for kb in states_by_kb(result) if kb not in _WEB_SELECTED_KBS},
    }
    assert (
        result.installed_patch_count,
        result.excluded_patch_count,
        result.not_selected_patch_count,
        result.pending_patch_count,
        result.failed_patch_count,
    ) == (1, 3, NOT_CRITICAL_OR_SECURITY, 0, 0)
    assert result.reboot_status == "NotNeeded"

    [body] = [entry["request"] for entry in logged(ops_log, "installPatches") if entry["request"]][
        :1
    ]
    assert iso_minutes(body["maximumDuration"]) == 120
    assert body["rebootSetting"] == "Never"
    assert body["windowsParameters"]["classificationsToInclude"] == ["Critical", "Security"]
    assert body["windowsParameters"]["excludeKbsRequiringReboot"] is True
    assert body["windowsParameters"]["kbNumbersToExclude"] == [MSRT_KB]
    assert "linuxParameters" not in body


def test_windows_install_that_may_not_reboot_leaves_reboot_kbs_pending(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    request = InstallRequest(
        os_type=OsType.WINDOWS,
        maximum_duration=timedelta(hours=2),
        reboot_setting=RebootSetting.NEVER,
        kb_numbers_to_exclude=(f"KB{MSRT_KB}",),
    )
    started = adapter.start_install(vm_id("web-01"), request)
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(hours=2))
    result = adapter.check_install(started)
    assert isinstance(result, InstallResult)
    # rebootSetting Never: the KBs that need a restart wait for it (docs/DOMAIN.md section 4).
    assert {kb: states_by_kb(result)[kb] for kb in _WEB_SELECTED_KBS} == {
        HOTPATCH_KB: "Installed",
        MSRT_KB: "Excluded",
        CUMULATIVE_KB: "Pending",
        STACK_KB: "Pending",
    }
    assert (result.installed_patch_count, result.excluded_patch_count) == (1, 1)
    assert result.pending_patch_count == 2
    assert result.reboot_status == "Required"


def test_linux_install_sends_linux_parameters(
    sim: InProcessSimulator, adapter: ComputeAdapter, ops_log: Path
) -> None:
    request = InstallRequest(os_type=OsType.LINUX, maximum_duration=timedelta(minutes=90))
    started = adapter.start_install(vm_id("db-01", "rg-data"), request)
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(minutes=90))
    assert isinstance(adapter.check_install(started), InstallResult)  # the log has it once done
    body = next(e["request"] for e in logged(ops_log, "installPatches") if e["request"])
    assert body["linuxParameters"]["classificationsToInclude"] == ["Critical", "Security"]
    assert iso_minutes(body["maximumDuration"]) == 90
    assert "windowsParameters" not in body


def test_failed_install_is_a_typed_result(sim: InProcessSimulator, adapter: ComputeAdapter) -> None:
    request = InstallRequest(os_type=OsType.LINUX, maximum_duration=timedelta(hours=1))
    started = adapter.start_install(vm_id("broken-01"), request)
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(hours=1))
    result = adapter.check_install(started)
    assert isinstance(result, InstallResult)
    assert result.status == "Failed"
    assert result.failed_patch_count > 0
    assert result.error is not None and result.error.code == "PatchInstallationFailure"


def test_vm_that_is_off_is_a_typed_outcome(adapter: ComputeAdapter) -> None:
    request = InstallRequest(os_type=OsType.WINDOWS, maximum_duration=timedelta(hours=1))
    outcome = adapter.start_install(vm_id("off-01"), request)
    assert isinstance(outcome, VmNotRunning)
    assert outcome.code == "OperationNotAllowed"
    assert "deallocated" in outcome.message
    assert isinstance(adapter.start_assessment(vm_id("off-01")), VmNotRunning)


def test_throttling_comes_back_with_retry_after_and_no_sleep(
    sim: InProcessSimulator, adapter: ComputeAdapter, sleeps: list[float]
) -> None:
    # Guest patch operations: a bucket of 6 per VM; the 7th call in the same minute is refused.
    outcomes = [adapter.start_assessment(vm_id("web-01")) for _ in range(7)]
    assert all(isinstance(outcome, Started) for outcome in outcomes[:6])
    throttled = outcomes[6]
    assert isinstance(throttled, Throttled)
    assert throttled.vm_id == vm_id("web-01")
    assert throttled.retry_after_seconds > 0
    assert sim.state.throttled == 1  # asked once, not retried
    assert sleeps == []


def test_hotpatch_is_turned_off_and_on_with_the_flag_alone(
    sim: InProcessSimulator, adapter: ComputeAdapter, ops_log: Path
) -> None:
    web = vm_id("web-01")
    assert adapter.set_hotpatching(web, False) == HotpatchSet(web, False)
    assert not next(vm for vm in adapter.discover(SUB) if vm.id == web).enable_hotpatching
    assert adapter.set_hotpatching(web, True) == HotpatchSet(web, True)
    after = next(vm for vm in adapter.discover(SUB) if vm.id == web)
    assert after.enable_hotpatching
    assert after.patch_mode is PatchMode.AUTOMATIC_BY_PLATFORM
    assert after.tags == {"patchWindow": "01:00-05:00"}  # the update sent nothing else
    updates = logged(ops_log, "virtualMachines.update")
    assert [entry["httpStatus"] for entry in updates] == [200, 200]


def test_hotpatch_arm_refuses_is_a_typed_outcome(adapter: ComputeAdapter) -> None:
    # flaky-01 runs a Windows image that is not Azure Edition; db-01 runs Linux.
    for name in ("flaky-01", "db-01"):
        vm = vm_id(name, "rg-data" if name == "db-01" else "rg-web")
        outcome = adapter.set_hotpatching(vm, True)
        assert isinstance(outcome, VmUpdateRefused), outcome
        assert (outcome.vm_id, outcome.code, outcome.status_code) == (vm, "InvalidParameter", 400)
        assert ("Azure Edition" if name == "flaky-01" else "Linux") in outcome.message


def test_hotpatch_updates_beyond_arm_s_write_limit_are_throttled(
    sim: InProcessSimulator, adapter: ComputeAdapter, sleeps: list[float]
) -> None:
    web = vm_id("web-01")
    outcomes = [adapter.set_hotpatching(web, True) for _ in range(201)]
    assert outcomes[:200] == [HotpatchSet(web, True)] * 200
    throttled = outcomes[200]
    assert isinstance(throttled, Throttled) and throttled.retry_after_seconds > 0
    assert sleeps == []


def test_transient_server_errors_are_retried(sleeps: list[float]) -> None:
    faults = FaultConfig(error_rate=0.4, seed=7)
    with open_simulator(
        FLEET, clock=VirtualClock(START), faults=faults, sleep=sleeps.append
    ) as flaky:
        targets = adapter_for(flaky, retry_attempts=5).discover(SUB)
        assert len(targets) == 5
        assert flaky.state.requests > 6  # some pages needed a second try
    assert all(seconds < 1 for seconds in sleeps)


def test_retries_are_bounded(sleeps: list[float]) -> None:
    with open_simulator(
        FLEET, clock=VirtualClock(START), faults=FaultConfig(error_rate=1.0), sleep=sleeps.append
    ) as down:
        with pytest.raises(ArmCallError, match="HTTP 5") as raised:
            adapter_for(down, retry_attempts=2).discover(SUB)
        assert down.state.requests == 3  # the first try and two retries
    assert raised.value.__cause__ is not None


def test_health_verdicts(sim: InProcessSimulator, adapter: ComputeAdapter) -> None:
    healthy = adapter.check_health(vm_id("web-01"))
    assert isinstance(healthy, HealthVerdict)
    assert healthy.state is HealthState.HEALTHY
    assert (healthy.power_state, healthy.agent_ready, healthy.app_health) == (
        PowerState.RUNNING,
        True,
        "healthy",
    )

    off = adapter.check_health(vm_id("off-01"))
    assert isinstance(off, HealthVerdict)
    assert off.state is HealthState.UNHEALTHY
    assert "deallocated" in off.reason

    request = InstallRequest(os_type=OsType.WINDOWS, maximum_duration=timedelta(hours=1))
    started = adapter.start_install(vm_id("flaky-01"), request)
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(hours=1))
    assert isinstance(adapter.check_install(started), InstallResult)
    sick = adapter.check_health(vm_id("flaky-01"))
    assert isinstance(sick, HealthVerdict)
    assert not sick.healthy
    assert sick.agent_ready is False
    assert "VM agent is not ready" in sick.reason
