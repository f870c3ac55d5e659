"""One fan-out group of a phase (at most 100 VMs of one subscription and region), batch
after batch: wait for the batch's slot, start its installs, wait for the slot's end, poll
what is still running, then check health and record every result.

Installs are started and checked by activities that return at once; every wait (the slot,
a 429's Retry-After, the next poll) is a durable timer. An execution runs at most
`batches_per_execution()` batches, then continues as new from the next one, so no history
grows past the limit whatever the group's length.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from orchestrators.rollout_payloads import (
    CHECK_INSTALLS,
    GROUP_BATCHES,
    POLL_INTERVAL,
    RECORD_INSTALLS,
    START_INSTALLS,
    THROTTLE_ROUNDS,
    batches_per_execution,
)
from patching.fanout import POLLS_PER_BATCH
from patching.timefmt import parse_time

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def rollout_group(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input `{"cycle", "kind", "group", "fromBatch"}`; returns the batches it ran."""
    request: dict[str, Any] = context.get_input()
    group = {key: request[key] for key in ("cycle", "kind", "group")}
    batches: list[dict[str, str]] = yield context.call_activity(GROUP_BATCHES, group)
    first = int(request.get("fromBatch", 0))
    last = min(len(batches), first + batches_per_execution())
    for index in range(first, last):
        yield from _run_batch(context, {**group, "batch": index}, batches[index])
    if last < len(batches):
        context.continue_as_new({**group, "fromBatch": last})
        return None
    return {"group": group["group"], "batches": len(batches)}


def _run_batch(
    context: df.DurableOrchestrationContext, batch: dict[str, Any], times: dict[str, str]
) -> Generator[Any, Any, None]:
    start, end = parse_time(times["start"]), parse_time(times["end"])
    if context.current_utc_datetime < start:
        yield context.create_timer(start)
    started = yield context.call_activity(START_INSTALLS, {**batch, "vms": None, "last": False})
    for round_number in range(1, THROTTLE_ROUNDS + 1):
        if not started["refused"]:
            break
        wait = timedelta(seconds=float(started["retryAfterSeconds"]))
        yield context.create_timer(context.current_utc_datetime + wait)
        retry = {**batch, "vms": started["refused"], "last": round_number == THROTTLE_ROUNDS}
        started = yield context.call_activity(START_INSTALLS, retry)
    if context.current_utc_datetime < end:
        yield context.create_timer(end)
    finished: list[str] = []
    running: list[str] | None = None  # None: every operation the batch started
    for poll in range(POLLS_PER_BATCH):
        if poll:
            yield context.create_timer(context.current_utc_datetime + POLL_INTERVAL)
        checked = yield context.call_activity(CHECK_INSTALLS, {**batch, "vms": running})
        finished += checked["finished"]
        running = checked["running"]
        if not running:
            break
    yield context.call_activity(
        RECORD_INSTALLS, {**batch, "vms": finished, "unfinished": running or []}
    )
