"""What the rollout's orchestrators and activities say to each other: names, instance ids,
the small JSON payloads, and the history budget a group orchestrator keeps to.

Orchestrators call activities by these names (never by importing them); the activity
modules register functions of the same names. Payloads carry ids, indexes, times and
counts; plans, slots and VM lists live in the store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from patching.fanout import HISTORY_EVENTS_LIMIT, POLLS_PER_BATCH

CYCLE_ORCHESTRATOR: Final = "cycle_orchestrator"
PHASE_ORCHESTRATOR: Final = "rollout_phase"
GROUP_ORCHESTRATOR: Final = "rollout_group"
RESUME_EVENT: Final = "resume"
# The PatchCycles state of a cycle an unplanned baseline replaced: it starts no more installs.
SUPERSEDED: Final = "superseded"

SAVE_CYCLE: Final = "rollout_save_cycle"
SUBSCRIPTIONS: Final = "rollout_subscriptions"
SUPERSEDE: Final = "rollout_supersede"
DISCOVER: Final = "rollout_discover"
PLAN: Final = "rollout_plan"
REPLAN: Final = "rollout_replan"
PHASE_VERDICT: Final = "rollout_phase_verdict"
GROUP_BATCHES: Final = "rollout_group_batches"
START_INSTALLS: Final = "rollout_start_installs"
CHECK_INSTALLS: Final = "rollout_check_installs"
RECORD_INSTALLS: Final = "rollout_record_installs"

ACTIVITY_NAMES: Final = (
    SAVE_CYCLE,
    SUBSCRIPTIONS,
    SUPERSEDE,
    DISCOVER,
    PLAN,
    REPLAN,
    PHASE_VERDICT,
    GROUP_BATCHES,
    START_INSTALLS,
    CHECK_INSTALLS,
    RECORD_INSTALLS,
)

# How long after a batch's slot end a still-running install is looked at again.
POLL_INTERVAL: Final = timedelta(minutes=20)
# Rounds of 429s a batch waits out before its refused VMs count as missed.
THROTTLE_ROUNDS: Final = 5
# A single task the orchestrator waits on costs at most four events: the task's scheduled
# and completed events and the episode (OrchestratorStarted/OrchestratorCompleted) it wakes.
EVENTS_PER_WAIT: Final = 4
# Waits of one batch at worst: the timer to its start, the first start and each throttled
# round's timer and retry, the timer to its end and first check, each further poll's timer
# and check, the recording.
WAITS_PER_BATCH: Final = 2 + 2 * THROTTLE_ROUNDS + 2 + 2 * (POLLS_PER_BATCH - 1) + 1
# ExecutionStarted, the first episode's pair, the slot load and ExecutionCompleted.
GROUP_OVERHEAD_EVENTS: Final = 4 + EVENTS_PER_WAIT


def store_cycle_id(instance_id: str) -> str:
    """`cycle-2026-03` -> `2026-03` (and `cycle-2026-03-baseline` -> `2026-03-baseline`):
    the cycle's key in the store (PatchCycles, PatchPlan)."""
    return instance_id.removeprefix("cycle-")


# Rounds of re-planning after the last phase: VMs that missed their slot get a later one.
RETRY_ROUNDS: Final = 2


def phase_instance_id(cycle_instance: str, phase: int, retry_round: int = 0) -> str:
    return (
        f"{cycle_instance}-t{retry_round}-p{phase}" if retry_round else f"{cycle_instance}-p{phase}"
    )


def retry_group_id(retry_round: int, group_id: str) -> str:
    """A re-plan's group ids are the planner's prefixed with the round, so they never meet
    the earlier rounds' in the plan table or as instance ids."""
    return f"t{retry_round}-{group_id}"


def retry_round_of(group_id: str) -> int:
    """The re-planning round that made the group (0 for the cycle's first plan)."""
    prefix, _, _ = group_id.partition("-")
    return int(prefix[1:]) if prefix.startswith("t") else 0


def group_instance_id(cycle_instance: str, group_id: str) -> str:
    return f"{cycle_instance}-{group_id}"


def batches_per_execution(limit: int = HISTORY_EVENTS_LIMIT) -> int:
    """The batches one execution of a group orchestrator may run before it continues as
    new, so that even every batch at its worst keeps the history within `limit`."""
    return max(1, (limit - GROUP_OVERHEAD_EVENTS) // (WAITS_PER_BATCH * EVENTS_PER_WAIT))
