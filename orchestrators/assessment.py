"""The assessment round: discovery refresh, selection, then waves of assessments.

`assessment_round` (input `{"scope": [ids] | null}`) refreshes the inventory of each
subscription discovered over a day ago, has the VMs due selected and paced into waves
(at most 100 VMs of one subscription and region, starts spread so each subscription and
region stays under the guest patch operations limit), and hands the waves, in batches,
to `assessment_waves`, which runs one `assessment_wave` per wave: a durable timer to its
start, the starts (a 429 waited out on a durable timer), then a check every two minutes
until every assessment ended or the wave gives up on those still running.

The waves' VM lists stay in the store (`PatchAssessmentWaves`, written by the selection):
the orchestrations pass the round's id, a wave's index and its start, and the activities
take counts and positions back (`from`: the first VM of the wave not started yet), so no
history carries VM ids, whatever the fleet size.

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
)
from patching.timefmt import parse_time

bp = df.Blueprint()

ASSESSMENT_ROUND = "assessment_round"
ASSESSMENT_WAVES = "assessment_waves"
SCHEDULER_INSTANCE = "assessment-scheduler"
ROUND_SPACING = timedelta(hours=1)
LONGEST_SLEEP = timedelta(days=1)
WAVES_PER_BATCH = 200
DISCOVERY_ATTEMPTS = 3
MAX_START_CALLS = 20
MAX_CHECKS = 40
CHECK_EVERY = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(minutes=60)

Orchestration = Generator[Any, Any, dict[str, Any]]


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_scheduler(context: df.DurableOrchestrationContext) -> Orchestration:
    """The periodic rounds, one at a time: a round now, then a durable timer to when the
    next has work (at least `ROUND_SPACING` on, at most `LONGEST_SLEEP`), then again as a
    new execution (continue-as-new keeps the history to one round)."""
    now = context.current_utc_datetime
    outcome: dict[str, Any] = yield context.call_sub_orchestrator(
        ASSESSMENT_ROUND, {"scope": None}, f"assessment-{now:%Y%m%dT%H%M}"
    )
    due = parse_time(outcome["nextDue"]) if outcome["nextDue"] else now
    after = context.current_utc_datetime
    wake = min(max(due, after + ROUND_SPACING), after + LONGEST_SLEEP)
    yield context.create_timer(wake)
    context.continue_as_new(None)
    return outcome


def discover(
    context: df.DurableOrchestrationContext, subscriptions: list[str]
) -> Generator[Any, Any, list[str]]:
    """The subscriptions discovered into the inventory at once, those ARM throttled again
    after its `retryAfter` (a durable timer), `DISCOVERY_ATTEMPTS` times at most; the ones
    still throttled after that."""
    stale = subscriptions
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
    return stale


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_round(context: df.DurableOrchestrationContext) -> Orchestration:
    scope = (context.get_input() or {}).get("scope")
    found = yield context.call_activity(ASSESSMENT_SCOPE, {"scope": scope})
    stale = yield from discover(context, found["refresh"])
    selected = yield context.call_activity(
        SELECT_ASSESSMENT_WAVES, {"scope": scope, "round": context.instance_id}
    )
    waves: list[dict[str, Any]] = selected["waves"]
    batches = [waves[i : i + WAVES_PER_BATCH] for i in range(0, len(waves), WAVES_PER_BATCH)]
    outcomes: list[dict[str, Any]] = []
    if batches:  # the SDK's task_all of nothing gives None
        outcomes = yield context.task_all(
            [
                context.call_sub_orchestrator(
                    ASSESSMENT_WAVES,
                    {"round": context.instance_id, "waves": batch},
                    f"{context.instance_id}-b{index:03d}",
                )
                for index, batch in enumerate(batches)
            ]
        )
    return {
        "due": selected["due"],
        "skippedOff": selected["skippedOff"],
        # A subscription left undiscovered is tried again by the next round, an hour on.
        "nextDue": None if stale else selected["nextDue"],
        "waves": len(waves),
        "ended": sum(outcome["ended"] for outcome in outcomes),
        "leftRunning": sum(outcome["leftRunning"] for outcome in outcomes),
        "undiscovered": stale,
    }


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_waves(context: df.DurableOrchestrationContext) -> Orchestration:
    batch: dict[str, Any] = context.get_input()
    outcomes = yield context.task_all(
        [
            context.call_sub_orchestrator(
                ASSESSMENT_WAVE,
                {"round": batch["round"], **wave},
                f"{context.instance_id}-w{index:03d}",
            )
            for index, wave in enumerate(batch["waves"])
        ]
    )
    return {
        "ended": sum(outcome["ended"] for outcome in outcomes),
        "leftRunning": sum(outcome["leftRunning"] for outcome in outcomes),
    }


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def assessment_wave(context: df.DurableOrchestrationContext) -> Orchestration:
    wave: dict[str, Any] = context.get_input()
    start = parse_time(wave["start"])
    if start > context.current_utc_datetime:
        yield context.create_timer(start)
    where = {"round": wave["round"], "index": wave["index"]}
    running = 0
    answer: dict[str, Any] = {"next": 0, "total": 0}
    for _ in range(MAX_START_CALLS):
        answer = yield context.call_activity(START_ASSESSMENTS, {**where, "from": answer["next"]})
        running += answer["started"]
        if answer["retryAfter"] is None:
            break
        yield context.create_timer(
            context.current_utc_datetime + timedelta(seconds=answer["retryAfter"])
        )
    give_up_at = context.current_utc_datetime + GIVE_UP_AFTER
    wait = CHECK_EVERY
    ended = 0
    for _ in range(MAX_CHECKS):
        if not running:
            break
        yield context.create_timer(context.current_utc_datetime + wait)
        checked = yield context.call_activity(
            CHECK_ASSESSMENTS, {**where, "giveUp": context.current_utc_datetime >= give_up_at}
        )
        # Counted here: a repeated check finds nothing left to end.
        ended += max(0, running - checked["running"])
        running = checked["running"]
        wait = max(CHECK_EVERY, timedelta(seconds=checked["retryAfter"] or 0))
    return {"ended": ended, "leftRunning": running, "notStarted": answer["total"] - answer["next"]}
