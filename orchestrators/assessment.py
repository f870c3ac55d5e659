"""The assessment round: discovery refresh, selection, then waves of assessments.

`assessment_round` (input `{"scope": [ids] | null}`) refreshes the inventory of each
subscription discovered over a day ago, has the VMs due selected and paced into waves
(at most 100 VMs of one subscription and region, starts spread so each subscription and
region stays under the guest patch operations limit), and hands the waves, in batches,
to `assessment_waves`, which runs one `assessment_wave` per wave: a durable timer to its
start, the starts (a 429 waited out on a durable timer), then a check every two minutes
until every assessment ended or the wave gives up on those still running.

History sizes at 10,000 VMs (an activity or sub-orchestration is two events, a timer two,
and each episode that follows a completion adds two; worst case one episode each):
- `assessment_wave`: at most `MAX_START_CALLS` starts and `MAX_CHECKS` checks, each
  after a timer: (20 + 40) x 8 + 6 = 486 events.
- `assessment_waves`: at most `WAVES_PER_BATCH` = 200 waves x 4 + 6 = 806 events.
- `assessment_round`: 2 + 4 per subscription discovered (x 3 attempts at most, with their
  timers: 50 subscriptions -> <= 1,000 in the very worst case, 200 usually) + 4 for the
  selection + 4 per batch; 10,000 VMs make at most 10,000 waves (one VM per subscription
  and region), 50 batches: 200 events. Every instance stays under 2,000.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from orchestrators.assessment_payloads import (
    ASSESSMENT_SCOPE,
    ASSESSMENT_WAVE,
    CHECK_ASSESSMENTS,
    DISCOVER_SUBSCRIPTION,
    SELECT_ASSESSMENT_WAVES,
    START_ASSESSMENTS,
    WaveDescriptor,
)

bp = df.Blueprint()

ASSESSMENT_WAVES = "assessment_waves"
WAVES_PER_BATCH = 200
DISCOVERY_ATTEMPTS = 3
MAX_START_CALLS = 20
MAX_CHECKS = 40
CHECK_EVERY = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(minutes=60)

Orchestration = Generator[Any, Any, dict[str, Any]]


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_round(context: df.DurableOrchestrationContext) -> Orchestration:
    scope = (context.get_input() or {}).get("scope")
    found = yield context.call_activity(ASSESSMENT_SCOPE, {"scope": scope})
    stale: list[str] = found["refresh"]
    for _ in range(DISCOVERY_ATTEMPTS):
        if not stale:
            break
        answers = yield context.task_all(
            [context.call_activity(DISCOVER_SUBSCRIPTION, s) for s in stale]
        )
        waits = [a["retryAfter"] for a in answers if "retryAfter" in a]
        stale = [s for s, a in zip(stale, answers, strict=True) if "retryAfter" in a]
        if stale:
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=max(waits)))
    selected = yield context.call_activity(SELECT_ASSESSMENT_WAVES, {"scope": scope})
    waves: list[dict[str, Any]] = selected["waves"]
    batches = [waves[i : i + WAVES_PER_BATCH] for i in range(0, len(waves), WAVES_PER_BATCH)]
    outcomes: list[dict[str, Any]] = []
    if batches:  # the SDK's task_all of nothing gives None
        outcomes = yield context.task_all(
            [
                context.call_sub_orchestrator(
                    ASSESSMENT_WAVES, {"waves": batch}, f"{context.instance_id}-b{index:03d}"
                )
                for index, batch in enumerate(batches)
            ]
        )
    return {
        "due": selected["due"],
        "skippedOff": selected["skippedOff"],
        "waves": len(waves),
        "ended": sum(outcome["ended"] for outcome in outcomes),
        "leftRunning": sum(outcome["leftRunning"] for outcome in outcomes),
        "undiscovered": stale,
    }


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_waves(context: df.DurableOrchestrationContext) -> Orchestration:
    waves: list[dict[str, Any]] = context.get_input()["waves"]
    outcomes = yield context.task_all(
        [
            context.call_sub_orchestrator(
                ASSESSMENT_WAVE, wave, f"{context.instance_id}-w{index:03d}"
            )
            for index, wave in enumerate(waves)
        ]
    )
    return {
        "ended": sum(outcome["ended"] for outcome in outcomes),
        "leftRunning": sum(outcome["leftRunning"] for outcome in outcomes),
    }


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_wave(context: df.DurableOrchestrationContext) -> Orchestration:
    wave = WaveDescriptor.from_json(context.get_input())
    if wave.start > context.current_utc_datetime:
        yield context.create_timer(wave.start)
    pending = list(wave.vms)
    for _ in range(MAX_START_CALLS):
        answer = yield context.call_activity(START_ASSESSMENTS, {"vms": pending})
        pending = answer["pending"]
        if not pending:
            break
        yield context.create_timer(
            context.current_utc_datetime + timedelta(seconds=answer["retryAfter"])
        )
    give_up_at = context.current_utc_datetime + GIVE_UP_AFTER
    running = [vm for vm in wave.vms if vm not in set(pending)]
    wait = CHECK_EVERY
    ended = 0
    for _ in range(MAX_CHECKS):
        if not running:
            break
        yield context.create_timer(context.current_utc_datetime + wait)
        checked = yield context.call_activity(
            CHECK_ASSESSMENTS,
            {"vms": running, "giveUp": context.current_utc_datetime >= give_up_at},
        )
        # Counted here: a repeated check finds nothing left to end.
        ended += len(running) - len(checked["running"])
        running = checked["running"]
        retry_after = checked["retryAfter"]
        wait = max(CHECK_EVERY, timedelta(seconds=retry_after or 0))
    return {"ended": ended, "leftRunning": len(running), "notStarted": len(pending)}
