"""Token buckets: guest patch operations per subscription and region, per VM, ARM writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from fleetsim_helpers import API, SUB_A, compute, fleet_of, raw_session, windows_vm

from fleetsim.throttling import OPERATION_POLLING, BucketKey, Throttler


def _assess_url(sim, name: str) -> str:
    return (
        f"{sim.base_url}/subscriptions/{SUB_A}/resourceGroups/rg-app/providers/"
        f"Microsoft.Compute/virtualMachines/{name}/assessPatches?{API}"
    )


def test_burst_of_700_assessments_meets_the_600_bucket(simulate, clock):
    # 140 VMs x 5 assessments: the per-VM bucket (6) never bites.
    sim = simulate(fleet_of(*(windows_vm(f"vm-{i:03}") for i in range(140))))
    session = raw_session(sim)
    statuses = []
    refused = []
    for _ in range(5):
        for i in range(140):
            answer = session.post(_assess_url(sim, f"vm-{i:03}"))
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                refused.append(answer)
    assert statuses[:600] == [202] * 600
    assert statuses[600:] == [429] * 100
    first = refused[0]
    # 200 per minute: the next token is 0.3 s away; Retry-After is whole seconds.
    assert first.headers["Retry-After"] == "1"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert (
        "Microsoft.Compute/GuestPatchOps3Min;0"
        in first.headers["x-ms-ratelimit-remaining-resource"]
    )
    assert sim.state.throttled == 100

    # Thirty seconds refill 100 tokens: exactly 100 more get through.
    clock.advance(timedelta(seconds=30))
    later = [session.post(_assess_url(sim, f"vm-{i:03}")).status_code for i in range(101)]
    assert later == [202] * 100 + [429]


def test_per_vm_bucket_through_the_sdk(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01"), windows_vm("web-02")))
    client = compute(sim, retry_total=0)
    pollers = [client.virtual_machines.begin_assess_patches("rg-app", "web-01") for _ in range(6)]
    assert len(pollers) == 6
    with pytest.raises(HttpResponseError) as throttled:
        client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    assert throttled.value.status_code == 429
    headers = throttled.value.response.headers
    # 2 per minute: one token every 30 seconds.
    assert headers["Retry-After"] == "30"
    assert (
        "Microsoft.Compute/GuestPatchOpsPerVM3Min;0" in headers["x-ms-ratelimit-remaining-resource"]
    )
    # Another VM of the subscription is unaffected.
    client.virtual_machines.begin_assess_patches("rg-app", "web-02")

    clock.advance(timedelta(seconds=29))
    with pytest.raises(HttpResponseError) as still:
        client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    assert still.value.response.headers["Retry-After"] == "1"
    clock.advance(timedelta(seconds=1))
    client.virtual_machines.begin_assess_patches("rg-app", "web-01")


def test_sdk_retries_after_the_throttle_clears(simulate, clock):
    """The real client honours Retry-After; its wait moves the virtual clock."""
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    sim = simulate(fleet_of(windows_vm("web-01")), sleep=wait)
    client = compute(sim, retry_total=3)
    # No pollers for these: background polling would race the clock this test reads.
    for _ in range(6):
        client.virtual_machines.begin_assess_patches("rg-app", "web-01", polling=False)
    clock.advance(timedelta(seconds=29))
    # Refused with Retry-After 1; the client waits that second, then gets through.
    poller = client.virtual_machines.begin_assess_patches("rg-app", "web-01")
    assert poller.status() == "InProgress"
    assert [seconds for seconds in waits if seconds] == [1.0]  # (polls wait 0 s)
    assert sim.state.throttled == 1


def test_arm_write_bucket(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01")))
    session = raw_session(sim)
    url = (
        f"{sim.base_url}/subscriptions/{SUB_A}/resourceGroups/rg-app/providers/"
        f"Microsoft.Compute/virtualMachines/web-01?{API}"
    )
    answers = [session.patch(url, json={"tags": {"n": str(i)}}) for i in range(201)]
    assert [a.status_code for a in answers[:200]] == [200] * 200
    assert answers[0].headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    last = answers[200]
    assert last.status_code == 429
    assert last.headers["Retry-After"] == "1"
    assert last.headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
    assert last.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    clock.advance(timedelta(seconds=1))
    assert session.patch(url, json={"tags": {}}).status_code == 200


def test_operation_polling_bucket_refills_by_the_clock(clock):
    throttler = Throttler(clock)
    key = [BucketKey(OPERATION_POLLING, "sub")]
    assert all(throttler.take(key).allowed for _ in range(5000))
    refused = throttler.take(key)
    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    clock.advance(timedelta(seconds=6))
    allowed = [throttler.take(key).allowed for _ in range(501)]
    assert allowed == [True] * 500 + [False]


def test_arm_read_bucket(simulate, clock):
    sim = simulate(fleet_of(windows_vm("web-01")))
    session = raw_session(sim)
    url = (
        f"{sim.base_url}/subscriptions/{SUB_A}/resourceGroups/rg-app/providers/"
        f"Microsoft.Compute/virtualMachines/web-01/instanceView?{API}"
    )
    answers = [session.get(url) for _ in range(251)]
    assert [a.status_code for a in answers[:250]] == [200] * 250
    assert answers[0].headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    assert answers[250].status_code == 429
    assert answers[250].headers["Retry-After"] == "1"
    clock.advance(timedelta(seconds=2))
    assert [session.get(url).status_code for _ in range(51)] == [200] * 50 + [429]
