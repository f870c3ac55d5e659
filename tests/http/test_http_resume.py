"""POST /cycles/{cycle}/resume on a cycle the real orchestration halted: a failing canary
stops it at the health gate, the route raises `resume` naming that halt, the cycle goes on,
and a second resume is a 409 because the cycle no longer is halted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from patchctl.fleetgen import generate_fleet
from tests.app.rollout_support import (
    CYCLE_ID,
    CYCLE_INSTANCE,
    RELEASE,
    cycle_input,
    expected_plan,
    failing_canary,
)
from tests.http.api_support import Api, api_host

FLEET = generate_fleet(12, seed=7, region_pairs=1)
PLAN = expected_plan(FLEET)


def run_until_halted(api: Api) -> None:
    give_up = RELEASE + timedelta(days=4)
    while (record := api.store.cycle(CYCLE_ID)) is None or record.state != "halted":
        assert api.clock.now() < give_up, f"the cycle never halted: {record}"
        api.host.run_until(api.clock.now() + timedelta(hours=1))


# 0: resumed in the minute it halted, when the next phase is due that very minute.
@pytest.mark.parametrize("looked_for_minutes", [0, 10])
def test_a_halted_cycle_resumes_through_the_api_once(
    tmp_path: Path, looked_for_minutes: int
) -> None:
    fleet, canary = failing_canary(FLEET, PLAN)
    with api_host(fleet, RELEASE, tmp_path) as api:
        api.host.engine.start_new("cycle_orchestrator", CYCLE_INSTANCE, cycle_input())
        run_until_halted(api)
        halted = api.store.cycle(CYCLE_ID)
        api.clock.set(api.clock.now() + timedelta(minutes=looked_for_minutes))

        answer = api.call(
            "POST", f"/cycles/{CYCLE_ID}/resume", json_body={"reason": "canary fixed"}
        )
        api.host.run_until(api.clock.now() + timedelta(minutes=30))
        resumed = api.store.cycle(CYCLE_ID)
        again = api.call("POST", f"/cycles/{CYCLE_ID}/resume", json_body={"reason": "twice"})
        status = api.session.get(answer.json()["statusQueryGetUri"], timeout=30).json()

    assert canary
    assert halted is not None and (halted.plan_summary or {})["halts"] == 1
    assert answer.status_code == 202, answer.text
    assert answer.json()["halt"] == 1
    assert answer.json()["reason"] == "canary fixed"
    assert answer.headers["location"] == answer.json()["statusQueryGetUri"]
    assert resumed is not None and resumed.state != "halted"
    assert (resumed.plan_summary or {})["resumed"] == "canary fixed"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CycleNotHalted"
    assert status["instanceId"] == CYCLE_INSTANCE
    assert status["runtimeStatus"] == "Running", status.get("output")
