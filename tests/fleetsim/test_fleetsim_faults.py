"""Injected faults: seeded transient 500/503 answers and slow answers."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from fleetsim_helpers import API, compute, fleet_of, raw_session, vm_id, vm_url, windows_vm

from fleetsim import FaultConfig


def _statuses(sim, count: int) -> list[int]:
    session = raw_session(sim)
    return [session.get(f"{vm_url(sim, 'web-01')}?{API}").status_code for _ in range(count)]


def test_transient_errors_follow_the_seed(simulate):
    faults = FaultConfig(error_rate=0.3, seed=7)
    first = _statuses(simulate(fleet_of(windows_vm("web-01")), faults=faults), 60)
    again = _statuses(simulate(fleet_of(windows_vm("web-01")), faults=faults), 60)
    assert first == again
    assert set(first) == {200, 500, 503}
    assert 8 <= first.count(500) + first.count(503) <= 30
    other_seed = FaultConfig(error_rate=0.3, seed=8)
    assert _statuses(simulate(fleet_of(windows_vm("web-01")), faults=other_seed), 60) != first


def test_sdk_sees_the_error_without_retries_and_recovers_with_them(simulate):
    always = simulate(fleet_of(windows_vm("web-01")), faults=FaultConfig(error_rate=1.0))
    with pytest.raises(HttpResponseError) as failed:
        compute(always, retry_total=0).virtual_machines.get("rg-app", "web-01")
    assert failed.value.status_code in (500, 503)

    flaky = simulate(fleet_of(windows_vm("web-01")), faults=FaultConfig(error_rate=0.5, seed=1))
    client = compute(flaky, retry_total=10, retry_status=10, retry_backoff_factor=0.01)
    for _ in range(10):
        assert client.virtual_machines.get("rg-app", "web-01").id == vm_id("web-01")


def test_a_refused_request_has_no_effect(simulate):
    sim = simulate(fleet_of(windows_vm("web-01")), faults=FaultConfig(error_rate=1.0))
    with pytest.raises(HttpResponseError):
        compute(sim, retry_total=0).virtual_machines.begin_install_patches(
            "rg-app",
            "web-01",
            {
                "maximumDuration": "PT2H",
                "rebootSetting": "IfRequired",
                "windowsParameters": {"classificationsToInclude": ["Security"]},
            },
        )
    assert sim.state.vm(vm_id("web-01")).install_in_progress is False


def test_slow_answers_over_https(serve):
    slow = FaultConfig(slow_rate=1.0, slow_seconds=0.25)
    sim = serve(fleet_of(windows_vm("web-01")), faults=slow)
    client = compute(sim)
    client.virtual_machines.get("rg-app", "web-01")  # connection set up
    started = time.monotonic()
    client.virtual_machines.get("rg-app", "web-01")
    assert time.monotonic() - started >= 0.25


def test_fault_config_is_validated():
    with pytest.raises(ValueError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(slow_seconds=-1)
