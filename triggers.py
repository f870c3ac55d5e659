"""What starts the app's orchestrations: the hourly and daily timers and the release event.

- `assessment_timer` (hourly): keeps the singleton `assessment_scheduler` running
  (instance `assessment-scheduler`: started again if it ever ended, failed or was
  terminated), which runs an `assessment_round` (`assessment-YYYYMMDDTHHMM`) whenever VMs
  or inventories fall due, one at a time and at most hourly; and the calendar's
  fallback: on Patch Tuesday 10:00 US Pacific, the month's `cycle_orchestrator` when no
  release opened it.
- `release_published` (Event Grid schema or CloudEvents 1.0, docs/CONTRACTS.md section 6):
  opens the release's cycle. Instance ids come from the cycle, so a repeated delivery
  starts nothing; an unplanned baseline that supersedes the month's hotpatch cycle
  terminates it (what it did stays recorded) and starts `cycle-YYYY-MM-baseline` with
  `replaces`. A malformed event is logged and dropped: the delivery succeeds, so Event
  Grid does not retry it forever.
- `cleanup_timer` (daily, 03:00 UTC): `daily_cleanup_round`, one instance a day.

"Now" is the clock every activity reads (`activities.deps`), so a rehearsal on a virtual
clock sees its own time.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities.deps import deps
from orchestrators.assessment import SCHEDULER_INSTANCE
from patching.calendar import cycle_id_of
from patching.errors import BadInput
from patching.models import Release, ReleaseKind
from patching.releases import (
    cycle_instance_id,
    cycle_opening,
    parse_release,
    scheduled_release_due,
)
from patching.timefmt import format_time, parse_time

log = logging.getLogger(__name__)

bp = df.Blueprint()

RELEASE_EVENT_TYPE = "Patching.ReleasePublished"
CYCLE_ORCHESTRATOR = "cycle_orchestrator"
ASSESSMENT_SCHEDULER = "assessment_scheduler"
CLEANUP_ROUND = "daily_cleanup_round"
CLEANUP_ACTIVITY = "daily_cleanup"
# An instance in these states no longer holds its id: a release may start it again.
_RESTARTABLE = {df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated}
_RUNNING = {
    df.OrchestrationRuntimeStatus.Running,
    df.OrchestrationRuntimeStatus.Pending,
    df.OrchestrationRuntimeStatus.ContinuedAsNew,
}


@bp.timer_trigger(schedule="0 0 * * * *", arg_name="timer")  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
async def assessment_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    now = deps().clock.now()
    scheduler = await _status(client, SCHEDULER_INSTANCE)
    if scheduler is None or scheduler.runtime_status not in _RUNNING:
        await client.start_new(ASSESSMENT_SCHEDULER, SCHEDULER_INSTANCE, None)
    await _open_scheduled_cycle(client, now)


@bp.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
async def cleanup_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    instance_id = f"cleanup-{deps().clock.now():%Y%m%d}"
    if await _status(client, instance_id) is None:
        await client.start_new(CLEANUP_ROUND, instance_id, None)


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def daily_cleanup_round(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, dict[str, int]]:
    removed: dict[str, int] = yield context.call_activity(CLEANUP_ACTIVITY, None)
    return removed


@bp.event_grid_trigger(arg_name="event")  # type: ignore[untyped-decorator]
@bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
async def release_published(
    event: func.EventGridEvent, client: df.DurableOrchestrationClient
) -> None:
    # CloudEvents arrive as the library's CloudEvent, whose type is `type`.
    event_type = getattr(event, "event_type", None) or getattr(event, "type", None)
    if event_type != RELEASE_EVENT_TYPE:
        log.warning("event %s dropped: type %r is not %s", event.id, event_type, RELEASE_EVENT_TYPE)
        return
    try:
        notice = parse_release(event.get_json())
    except (BadInput, ValueError) as error:
        log.warning("event %s dropped: %s", event.id, error)
        return
    await _open_cycle(client, notice.release)


async def _open_scheduled_cycle(client: df.DurableOrchestrationClient, now: datetime) -> None:
    """The calendar's release of the month when none opened its cycle by Patch Tuesday."""
    current = deps()
    cycle_id = cycle_id_of(now)
    month = cycle_instance_id(cycle_id)
    opened = current.store.cycle(cycle_id) is not None
    for instance in (month, f"{month}-baseline"):
        opened = opened or _holds(await _status(client, instance))
    release = scheduled_release_due(
        now,
        opened_cycles={cycle_id} if opened else set(),
        baseline_months=current.settings.planned_baseline_months,
    )
    if release is not None:
        await _open_cycle(client, release)


async def _open_cycle(client: df.DurableOrchestrationClient, release: Release) -> None:
    month = cycle_instance_id(cycle_id_of(release.released_at))
    replacement = await _status(client, f"{month}-baseline")
    if _holds(replacement):
        log.info("release %s: the month's cycle was replaced already", release.release_id)
        return
    month_status = await _status(client, month)
    opening = cycle_opening(
        release, _opened_release(month_status, cycle_id_of(release.released_at))
    )
    if opening.replaces is None:
        if _holds(month_status):
            log.info("release %s: %s runs already", release.release_id, month)
            return
    elif month_status is not None and month_status.runtime_status in _RUNNING:
        await client.terminate(
            opening.replaces, f"replaced by {opening.instance_id} (release {release.release_id})"
        )
    await client.start_new(
        CYCLE_ORCHESTRATOR,
        opening.instance_id,
        {
            "releaseId": release.release_id,
            "kind": release.kind.value,
            "releasedAt": format_time(release.released_at),
            "replaces": opening.replaces,
        },
    )


def _opened_release(status: df.DurableOrchestrationStatus | None, cycle_id: str) -> Release | None:
    """The release that opened the month's cycle: its instance's input, else the store's."""
    started = status.input_ if status is not None else None
    if isinstance(started, dict):
        return Release(
            ReleaseKind(started["kind"]),
            parse_time(started["releasedAt"]),
            started.get("releaseId"),
        )
    record = deps().store.cycle(cycle_id)
    if record is None:
        return None
    return Release(ReleaseKind(record.release_kind), record.released_at, record.release_id)


async def _status(
    client: df.DurableOrchestrationClient, instance_id: str
) -> df.DurableOrchestrationStatus | None:
    status = await client.get_status(instance_id, show_input=True)
    return status if status.runtime_status is not None else None


def _holds(status: df.DurableOrchestrationStatus | None) -> bool:
    return status is not None and status.runtime_status not in _RESTARTABLE
