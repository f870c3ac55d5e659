"""The on-demand install (every requested VM at once, not availability-first) and the
hotpatch change.

`ondemand_install` (input: the POST /installations body, docs/CONTRACTS.md section 5)
has the whole request checked before anything starts, then runs one
`ondemand_install_group` per 100 VMs, the groups' starts a minute apart so that at most
100 installs start a minute (under the 200 guest patch operations a minute of a
subscription and region). A group starts its installs (a 429 waited out on a durable
timer), checks them every five minutes, and gives up on those still running half an
hour after their maximum duration.

History sizes at 10,000 VMs (two events per activity, timer or sub-orchestration, two
more per episode): the parent holds 2 + 4 + 100 groups x 4 = 406 events; a group at
most 20 starts and 60 checks (4 h 30 min of checks every 5 minutes is 54), each after a
timer: (20 + 60) x 8 + 6 = 646 events.

`ondemand_hotpatch` (input: the Windows VMs POST /hotpatch checked, the flag, and how many
VMs it left out as `notWindows`: no Linux VM has hotpatch to turn off) sets the flag on its
VMs a hundred per activity call, a 429 waited out on a durable timer, then
discovers their subscriptions again (`orchestrators.assessment.discover`) so the inventory
(the plan preview, the next cycle) shows the change at once. At its 1,000 VMs: 10 calls,
each at most 20 times after a timer, and the discoveries: under 500 events.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from orchestrators.assessment import discover
from orchestrators.assessment_payloads import (
    CHECK_ONDEMAND_INSTALLS,
    ONDEMAND_INSTALL_GROUP,
    SET_HOTPATCHING,
    START_ONDEMAND_INSTALLS,
    VALIDATE_ONDEMAND_INSTALL,
    hotpatch_payload,
    parse_install_duration,
)
from patching.fanout import GROUP_VMS
from patching.resource_ids import VmId
from patching.timefmt import format_time, parse_time

bp = df.Blueprint()

GROUP_SPACING = timedelta(minutes=1)
CHECK_EVERY = timedelta(minutes=5)
GRACE = timedelta(minutes=30)
MAX_START_CALLS = 20
MAX_CHECKS = 60
REFUSALS_SHOWN = 50

Orchestration = Generator[Any, Any, dict[str, Any]]


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def ondemand_install(context: df.DurableOrchestrationContext) -> Orchestration:
    body: dict[str, Any] = context.get_input()
    yield context.call_activity(VALIDATE_ONDEMAND_INSTALL, body)
    vms: list[str] = body["vms"]
    now = context.current_utc_datetime
    outcomes = yield context.task_all(
        [
            context.call_sub_orchestrator(
                ONDEMAND_INSTALL_GROUP,
                {
                    "request": {**body, "vms": vms[offset : offset + GROUP_VMS]},
                    "start": format_time(now + GROUP_SPACING * index),
                },
                f"{context.instance_id}-g{index:03d}",
            )
            for index, offset in enumerate(range(0, len(vms), GROUP_VMS))
        ]
    )
    return {key: sum(outcome[key] for outcome in outcomes) for key in _COUNTS}


_COUNTS = ("started", "refused", "ended", "leftRunning", "notStarted")


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def ondemand_install_group(context: df.DurableOrchestrationContext) -> Orchestration:
    group: dict[str, Any] = context.get_input()
    request: dict[str, Any] = group["request"]
    start = parse_time(group["start"])
    if start > context.current_utc_datetime:
        yield context.create_timer(start)
    answers, pending = yield from _until_not_throttled(
        context,
        START_ONDEMAND_INSTALLS,
        lambda vms: {"request": {**request, "vms": vms}},
        request["vms"],
    )
    started = sum(answer["started"] for answer in answers)
    refused = sum(answer["refused"] for answer in answers)
    duration = parse_install_duration(request.get("maximumDuration", "PT2H"))
    give_up_at = context.current_utc_datetime + duration + GRACE
    running = [vm for vm in request["vms"] if vm not in set(pending)]
    ended = 0
    wait = CHECK_EVERY
    for _ in range(MAX_CHECKS):
        if not running:
            break
        yield context.create_timer(context.current_utc_datetime + wait)
        checked = yield context.call_activity(
            CHECK_ONDEMAND_INSTALLS,
            {"vms": running, "giveUp": context.current_utc_datetime >= give_up_at},
        )
        # Counted here: a repeated check finds nothing left to end.
        ended += len(running) - len(checked["running"])
        running = checked["running"]
        wait = max(CHECK_EVERY, timedelta(seconds=checked["retryAfter"] or 0))
    return {
        "started": started,
        "refused": refused,
        "ended": ended,
        "leftRunning": len(running),
        "notStarted": len(pending),
    }


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def ondemand_hotpatch(context: df.DurableOrchestrationContext) -> Orchestration:
    body: dict[str, Any] = context.get_input()
    vms: list[str] = body["vms"]
    changed = 0
    refused: list[dict[str, str]] = []
    not_changed: list[str] = []
    for offset in range(0, len(vms), GROUP_VMS):
        answers, pending = yield from _until_not_throttled(
            context,
            SET_HOTPATCHING,
            lambda batch: hotpatch_payload(batch, body["enableHotpatching"]),
            vms[offset : offset + GROUP_VMS],
        )
        changed += sum(answer["changed"] for answer in answers)
        refused += [refusal for answer in answers for refusal in answer["refused"]]
        not_changed += pending
    subscriptions = sorted({VmId.parse(vm).subscription_id.lower() for vm in vms})
    still_throttled = yield from discover(context, subscriptions)
    return {
        "enableHotpatching": body["enableHotpatching"],
        "changed": changed,
        "notWindows": body.get("notWindows", 0),
        "refused": len(refused),
        "notChanged": len(not_changed),
        "refusals": refused[:REFUSALS_SHOWN],
        "rediscoveredSubscriptions": len(subscriptions) - len(still_throttled),
    }


def _until_not_throttled(
    context: df.DurableOrchestrationContext,
    activity: str,
    payload: Callable[[list[str]], dict[str, Any]],
    vms: list[str],
) -> Generator[Any, Any, tuple[list[dict[str, Any]], list[str]]]:
    """`activity` called on `vms`, then on what it left `pending` after its `retryAfter`
    (ARM's 429, waited out on a durable timer), at most MAX_START_CALLS times: its answers
    and the VMs still pending."""
    answers: list[dict[str, Any]] = []
    pending = vms
    for _ in range(MAX_START_CALLS):
        answer = yield context.call_activity(activity, payload(pending))
        answers.append(answer)
        pending = answer["pending"]
        if not pending:
            break
        yield context.create_timer(
            context.current_utc_datetime + timedelta(seconds=answer["retryAfter"])
        )
    return answers, pending
