"""What the compute adapter sends: how many requests, where to, and what comes back.

The real SDK clients against the fleet simulator, which counts every request it serves.
"""

import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from test_compute_adapter import FLEET, START, SUB, adapter_for, vm_id

from azure_io.compute import ComputeAdapter
from azure_io.compute_outcomes import (
    ArmCallError,
    ArmThrottledError,
    InProgress,
    OperationFailed,
    OperationKind,
    Started,
    Throttled,
    VmNotRunning,
)
from azure_io.patch_results import AssessmentResult, InstallRequest, InstallResult
from azure_io.settings import ArmCredentialKind, Settings
from fleetsim import InProcessSimulator, VirtualClock, open_simulator, start_simulator
from patching.models import OsType, PowerState

WINDOWS_INSTALL = InstallRequest(os_type=OsType.WINDOWS, maximum_duration=timedelta(hours=1))
LINUX_INSTALL = InstallRequest(os_type=OsType.LINUX, maximum_duration=timedelta(hours=1))


@pytest.fixture
def sim() -> Iterator[InProcessSimulator]:
    with open_simulator(FLEET, clock=VirtualClock(START)) as running:
        yield running


@pytest.fixture
def adapter(sim: InProcessSimulator) -> Iterator[ComputeAdapter]:
    adapter = adapter_for(sim)
    yield adapter
    adapter.close()


def fleet_of(count: int, *, page_size: int, off: frozenset[int] = frozenset()) -> dict[str, Any]:
    return {
        **FLEET,
        "sim": {"pageSize": page_size},
        "vms": [
            {
                "id": vm_id(f"vm-{index:03}"),
                "location": "eastus",
                "osType": "Linux",
                "patchMode": "AutomaticByPlatform",
                **({"powerState": "deallocated"} if index in off else {}),
            }
            for index in range(count)
        ],
    }


def test_an_assessment_started_and_checked_once_it_ended_costs_two_requests(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    before = sim.state.requests
    started = adapter.start_assessment(vm_id("web-01"))
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(hours=1))
    result = adapter.check_assessment(started)
    assert isinstance(result, AssessmentResult)
    assert result.status == "Succeeded" and result.available_patches
    assert sim.state.requests - before == 2  # the POST and one status GET


def test_an_install_started_and_checked_once_it_ended_costs_two_requests(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    before = sim.state.requests
    started = adapter.start_install(vm_id("web-01"), WINDOWS_INSTALL)
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(hours=1))
    result = adapter.check_install(started)
    assert isinstance(result, InstallResult)
    assert result.status == "Succeeded" and result.installed_patch_count > 0
    assert sim.state.requests - before == 2


def test_the_status_url_is_arms_async_operation_url(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    started = adapter.start_install(vm_id("db-01", "rg-data"), LINUX_INSTALL)
    assert isinstance(started, Started)
    assert started.status_url.startswith(f"{sim.base_url}/subscriptions/{SUB}/providers/")
    assert "/operations/" in started.status_url and "monitor" not in started.status_url


def test_starting_and_checking_start_no_thread(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    started_threads: list[str] = []

    def first_event_of_a_new_thread(frame: FrameType, event: str, arg: object) -> None:
        started_threads.append(threading.current_thread().name)
        sys.setprofile(None)

    threading.setprofile(first_event_of_a_new_thread)
    try:
        assessment = adapter.start_assessment(vm_id("web-01"))
        install = adapter.start_install(vm_id("db-01", "rg-data"), LINUX_INSTALL)
        assert isinstance(assessment, Started) and isinstance(install, Started)
        assert isinstance(adapter.check_assessment(assessment), InProgress)
        assert isinstance(adapter.check_install(install), InProgress)
    finally:
        threading.setprofile(None)
    assert started_threads == []


def test_discovery_follows_next_links_and_gets_every_vm_once() -> None:
    fleet = fleet_of(23, page_size=5, off=frozenset({21}))
    with open_simulator(fleet, clock=VirtualClock(START)) as big:
        adapter = adapter_for(big)
        targets = adapter.discover(SUB)
        # 23 VMs in pages of 5: five pages of each list.
        assert big.state.requests == 10
    assert sorted(target.name for target in targets) == [f"vm-{i:03}" for i in range(23)]
    states = {target.name: target.power_state for target in targets}
    assert states.pop("vm-021") is PowerState.DEALLOCATED  # joined from the fifth status page
    assert set(states.values()) == {PowerState.RUNNING}


def test_a_next_link_to_another_host_is_not_followed() -> None:
    with start_simulator(fleet_of(5, page_size=2), clock=VirtualClock(START)) as served:
        # The same server by another name: its nextLink names 127.0.0.1, not localhost.
        settings = Settings(
            subscriptions=(SUB,),
            arm_endpoint=served.base_url.replace("127.0.0.1", "localhost"),
            arm_ca_bundle=Path(served.ca_path),
            arm_credential=ArmCredentialKind.STATIC,
            arm_retry_attempts=0,
        )
        adapter = ComputeAdapter.from_settings(settings)
        try:
            with pytest.raises(ArmCallError, match="outside the ARM endpoint"):
                adapter.discover(SUB)
        finally:
            adapter.close()
        assert served.state.requests == 1  # the first page only


@pytest.mark.parametrize(
    "status_url",
    [
        "https://elsewhere.example/subscriptions/s/providers/Microsoft.Compute/operations/op",
        "http://fleetsim.invalid/subscriptions/s/providers/Microsoft.Compute/operations/op",
        "https://fleetsim.invalid:8443/subscriptions/s/providers/Microsoft.Compute/operations/op",
        "https://fleetsim.invalid@elsewhere.example/operations/op",
        "https://user@fleetsim.invalid/operations/op",
        "/subscriptions/s/providers/Microsoft.Compute/operations/op",
    ],
)
def test_a_status_url_off_the_arm_endpoint_is_refused_without_a_request(
    sim: InProcessSimulator, adapter: ComputeAdapter, status_url: str
) -> None:
    assert sim.base_url == "https://fleetsim.invalid"
    before = sim.state.requests
    with pytest.raises(ArmCallError, match="outside the ARM endpoint"):
        adapter.check_assessment(Started(vm_id("web-01"), OperationKind.ASSESSMENT, status_url))
    with pytest.raises(ArmCallError, match="outside the ARM endpoint"):
        adapter.check_install(Started(vm_id("web-01"), OperationKind.INSTALL, status_url))
    assert sim.state.requests == before


def test_a_throttled_check_comes_back_with_retry_after(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    started = adapter.start_assessment(vm_id("web-01"))
    assert isinstance(started, Started)
    # Compute's status bucket holds 5000 a minute per subscription; the clock stands still.
    outcomes = [adapter.check_assessment(started) for _ in range(5001)]
    assert all(isinstance(outcome, InProgress) for outcome in outcomes[:5000])
    throttled = outcomes[5000]
    assert isinstance(throttled, Throttled)
    assert throttled.vm_id == vm_id("web-01")
    assert throttled.retry_after_seconds > 0
    assert sim.state.throttled == 1


def test_a_throttled_discovery_raises_with_retry_after() -> None:
    # Pages of one VM: 2 x 130 reads, beyond the 250 of ARM's subscription read bucket.
    with open_simulator(fleet_of(130, page_size=1), clock=VirtualClock(START)) as small_pages:
        with pytest.raises(ArmThrottledError, match="ARM throttled listing the VMs") as raised:
            adapter_for(small_pages).discover(SUB)
        assert small_pages.state.throttled == 1
    assert raised.value.retry_after_seconds > 0


def test_a_failed_install_carries_its_error_code_and_message(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    started = adapter.start_install(vm_id("broken-01"), LINUX_INSTALL)
    assert isinstance(started, Started)
    sim.clock.advance(timedelta(hours=1))
    result = adapter.check_install(started)
    assert isinstance(result, InstallResult)
    assert result.status == "Failed"
    assert result.error is not None
    assert result.error.code == "PatchInstallationFailure"
    assert "failed to install" in result.error.message


def test_checking_an_operation_arm_does_not_know_is_a_refusal(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    unknown = (
        f"{sim.base_url}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus"
        "/operations/00000000-0000-4000-8000-000000000000?api-version=2026-04-01"
    )
    outcome = adapter.check_install(Started(vm_id("web-01"), OperationKind.INSTALL, unknown))
    assert isinstance(outcome, OperationFailed)
    assert (outcome.http_status, outcome.code) == (404, "NotFound")
    assert "was not found" in outcome.message


def test_a_vm_that_is_off_at_start_costs_one_request_and_starts_nothing(
    sim: InProcessSimulator, adapter: ComputeAdapter
) -> None:
    before = sim.state.requests
    outcome = adapter.start_install(vm_id("off-01"), WINDOWS_INSTALL)
    assert isinstance(outcome, VmNotRunning)
    assert outcome.vm_id == vm_id("off-01")
    assert outcome.code == "OperationNotAllowed"
    assert sim.state.requests - before == 1
    assessment = adapter.start_assessment(vm_id("off-01"))
    assert isinstance(assessment, VmNotRunning)
    assert sim.state.requests - before == 2
