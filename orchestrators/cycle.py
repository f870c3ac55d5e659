"""The monthly cycle: record it, discover the fleet, plan it, then roll it out phase by
phase behind the health gate.

After each phase an activity judges the phase's recorded outcomes against the error
budget. A phase over budget halts the cycle (PatchCycles says `halted` and why, its
summary counts `halts`) until an operator raises `resume` (`{"reason", "halt": n}`: an
event naming an earlier halt is passed over); otherwise the next phase starts at its
planned start, which the planner placed a health gate after the last one's end. A cycle
resumed after the next phase's start re-plans the slots that passed meanwhile from the
moment it resumed.
After the last phase, up to `RETRY_ROUNDS` re-plans give the VMs that missed their slot
(off, busy, failed: `patching.outcomes.is_miss`) later ones.

An unplanned baseline replacing the month's cycle (`replaces`) first marks that cycle
superseded: from then on its groups start no installs and it stops after its phase.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.rollout_payloads import (
    DISCOVER,
    PHASE_ORCHESTRATOR,
    PHASE_VERDICT,
    PLAN,
    REPLAN,
    RESUME_EVENT,
    RETRY_ROUNDS,
    SAVE_CYCLE,
    SUBSCRIPTIONS,
    SUPERSEDE,
    SUPERSEDED,
    phase_instance_id,
    store_cycle_id,
)
from patching.errors import BadInput
from patching.models import ReleaseKind
from patching.timefmt import parse_time

bp = df.Blueprint()

# A throttled or failed discovery is tried again a few minutes later before the cycle fails.
DISCOVERY_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=120_000, max_number_of_attempts=4
)


class CycleInputError(BadInput):
    """A cycle_orchestrator input that is not the contract's."""


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def cycle_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input `{"releaseId", "kind", "releasedAt", "replaces"}`; the instance id names the
    cycle (`cycle-YYYY-MM`, or `cycle-YYYY-MM-baseline`)."""
    release = checked_cycle_input(context.get_input())
    replaces = release.pop("replaces")
    cycle = {"cycle": store_cycle_id(context.instance_id), **release}
    if replaces is not None:
        yield context.call_activity(
            SUPERSEDE, {"cycle": store_cycle_id(replaces), "by": cycle["cycle"]}
        )
    yield context.call_activity(SAVE_CYCLE, {**cycle, "state": "running", "summary": None})
    subscriptions: list[str] = yield context.call_activity(SUBSCRIPTIONS, None)
    discovered: list[dict[str, Any]] = yield context.task_all(
        [
            context.call_activity_with_retry(
                DISCOVER, DISCOVERY_RETRY, {"subscription": s, "cycle": cycle["cycle"]}
            )
            for s in subscriptions
        ]
    )
    # ARM's geo-pairs of every subscription's regions: what the plan keeps apart.
    pairs = {r: p for answer in discovered for r, p in sorted(answer["regionPairs"].items())}
    plan: dict[str, Any] = yield context.call_activity(PLAN, {**cycle, "regionPairs": pairs})
    summary: dict[str, Any] = {key: plan[key] for key in ("assigned", "skipped")} | {
        "phases": _counted(plan["phases"]),
        "failed": 0,
        "unhealthy": 0,
    }
    yield context.call_activity(SAVE_CYCLE, {**cycle, "state": "running", "summary": summary})
    phases: list[dict[str, Any]] = plan["phases"]
    plan_round = retries = 0
    while True:
        resumed = False
        runnable = [phase for phase in phases if phase["groups"]]
        for position, phase in enumerate(runnable):
            if context.current_utc_datetime < parse_time(phase["start"]):
                yield context.create_timer(parse_time(phase["start"]))
            summary, resumed = yield from _run_phase(context, cycle, phase, summary, plan_round)
            if summary.get("superseded"):
                return summary
            upcoming = runnable[position + 1 : position + 2]
            # The halt outlasted the next phase's start: re-plan what is left. A phase due
            # this very minute still starts on time (and the re-plan, which moves only slots
            # that started before now, would find nothing to move).
            if (
                resumed
                and upcoming
                and parse_time(upcoming[0]["start"]) < context.current_utc_datetime
            ):
                break
            resumed = False
        if not resumed:
            if retries == RETRY_ROUNDS:
                break
            retries += 1
        plan_round += 1
        replan = {
            **cycle,
            "regionPairs": pairs,
            "round": plan_round,
            "phases": summary["phases"],
            "resumed": resumed,
        }
        phases = yield context.call_activity(REPLAN, replan)
        if not phases and not resumed:
            break
        summary = {**summary, "phases": _counted(phases), "planRounds": plan_round}
    yield context.call_activity(SAVE_CYCLE, {**cycle, "state": "completed", "summary": summary})
    return summary


def _run_phase(
    context: df.DurableOrchestrationContext,
    cycle: dict[str, Any],
    phase: dict[str, Any],
    summary: dict[str, Any],
    plan_round: int,
) -> Generator[Any, Any, tuple[dict[str, Any], bool]]:
    """The phase's groups, then its health gate; halted, it waits for `resume`. Returns the
    summary with the phase counted (and `superseded` when a baseline replaced the cycle),
    and whether the cycle was halted and resumed."""
    yield context.call_sub_orchestrator(
        PHASE_ORCHESTRATOR,
        {
            "cycleInstance": context.instance_id,
            "cycle": cycle["cycle"],
            "kind": cycle["kind"],
            "phase": phase["index"],
            "groups": phase["groups"],
        },
        phase_instance_id(context.instance_id, phase["index"], plan_round),
    )
    verdict = yield context.call_activity(
        PHASE_VERDICT, {"cycle": cycle["cycle"], "phase": phase["index"], "groups": phase["groups"]}
    )
    summary = {
        **summary,
        "phasesDone": summary.get("phasesDone", 0) + 1,
        "failed": summary["failed"] + verdict["failed"],
        "unhealthy": summary["unhealthy"] + verdict["unhealthy"],
    }
    if verdict["halt"]:
        summary = {**summary, "halts": summary.get("halts", 0) + 1}
    record = {**cycle, "state": "running", "summary": summary}
    if verdict["halt"]:
        reason = f"phase {phase['index']}: {verdict['reason']}"
        state = yield context.call_activity(
            SAVE_CYCLE, {**record, "state": "halted", "haltReason": reason}
        )
        if state == SUPERSEDED:
            return {**summary, "superseded": True}, False
        resumed = yield context.wait_for_external_event(RESUME_EVENT)
        # A resume meant for an earlier halt (raised while the cycle ran) is no answer to
        # this one: Durable keeps an event until it is waited for.
        while not _resumes(resumed, summary["halts"]):
            resumed = yield context.wait_for_external_event(RESUME_EVENT)
        summary = {**summary, "resumed": _resume_reason(resumed)}
        record = {**record, "summary": summary}
    state = yield context.call_activity(SAVE_CYCLE, record)
    if state == SUPERSEDED:
        return {**summary, "superseded": True}, False
    return summary, verdict["halt"]


def _counted(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan's phases as the cycle's summary keeps them: group counts, not ids."""
    return [{**phase, "groups": len(phase["groups"])} for phase in phases]


def checked_cycle_input(raw: Any) -> dict[str, Any]:
    """The release fields of the input, checked; CycleInputError naming the first bad one."""
    if not isinstance(raw, dict):
        raise CycleInputError(f"input is {raw!r}; expected an object with kind and releasedAt")
    kinds = [kind.value for kind in ReleaseKind]
    if raw.get("kind") not in kinds:
        raise CycleInputError(f"kind is {raw.get('kind')!r}; expected one of {kinds}")
    released_at = raw.get("releasedAt")
    if not isinstance(released_at, str):
        raise CycleInputError(f"releasedAt is {released_at!r}; expected an ISO 8601 UTC time")
    parse_time(released_at)
    for name in ("releaseId", "replaces"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise CycleInputError(f"{name} is {raw[name]!r}; expected a string or null")
    return {
        "kind": raw["kind"],
        "releasedAt": released_at,
        "releaseId": raw.get("releaseId"),
        "replaces": raw.get("replaces"),
    }


def _resumes(data: Any, halt: int) -> bool:
    """Whether a `resume` event's data answers the cycle's `halt`-th halt: it names that halt
    (`{"halt": n}`, the count PatchCycles' summary keeps as `halts`) or names none."""
    named = data.get("halt") if isinstance(data, dict) else None
    return not isinstance(named, int) or isinstance(named, bool) or named == halt


def _resume_reason(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("reason"), str):
        return str(data["reason"])
    return "resumed"
