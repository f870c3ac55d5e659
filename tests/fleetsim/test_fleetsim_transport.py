"""The in-process transport: the SDK's pipeline unchanged, no socket."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseTimeoutError
from azure.mgmt.compute import ComputeManagementClient
from fleetsim_helpers import SUB_A, compute, fleet_of, vm_id, windows_vm

from fleetsim import FaultConfig
from fleetsim.transport import IN_PROCESS_BASE_URL

SLOW = FaultConfig(slow_rate=1.0, slow_seconds=30)


def test_only_the_simulators_base_url_is_served(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")))
    assert sim.base_url == IN_PROCESS_BASE_URL
    assert sim.base_url.startswith("https://")  # the bearer policy sends tokens only over https
    elsewhere = ComputeManagementClient(
        sim.credential,
        SUB_A,
        base_url="https://management.azure.com",
        transport=sim.transport,
        retry_total=0,
    )
    with pytest.raises(ServiceRequestError, match=r"serves https://fleetsim\.invalid only"):
        elsewhere.virtual_machines.get("rg-app", "web-01")
    assert sim.state.requests == 0


def test_a_slow_answer_waits_through_the_transports_sleep(simulate):
    waits: list[float] = []
    sim = simulate(fleet_of(windows_vm("web-01")), faults=SLOW, sleep=waits.append)
    assert compute(sim).virtual_machines.get("rg-app", "web-01").id == vm_id("web-01")
    assert waits == [30]


def test_a_slow_answer_past_the_read_timeout_times_out_after_it_was_done(simulate):
    waits: list[float] = []
    sim = simulate(fleet_of(windows_vm("web-01")), faults=SLOW, sleep=waits.append)
    client = compute(sim, retry_total=0)
    with pytest.raises(ServiceResponseTimeoutError):
        client.virtual_machines.begin_update(
            "rg-app", "web-01", {"tags": {"team": "web"}}, read_timeout=5
        )
    assert waits == [5]
    # As over a socket: the server did the work; only the answer came too late.
    assert sim.state.requests == 1
    assert sim.state.find_vm(SUB_A, "rg-app", "web-01").tags == {"team": "web"}


def test_stop_logs_unfinished_work_once_and_answers_nothing_more(simulate, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = simulate(fleet_of(windows_vm("web-01")), log_path=log)
    client = compute(sim, retry_total=0)
    client.virtual_machines.begin_assess_patches("rg-app", "web-01", polling=False)
    sim.stop()
    sim.stop()
    with pytest.raises(ServiceRequestError, match="stopped"):
        client.virtual_machines.get("rg-app", "web-01")
    assert sim.state.requests == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    assert '"status":"InProgress"' in lines[0]
