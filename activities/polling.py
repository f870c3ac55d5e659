"""One look at each long-running operation in flight: what the polling activities share.

Each operation gets one status request. A 429 ends the round at once (the operations
not yet looked at count as running, and its Retry-After goes back to the
orchestrator, which waits it out with a durable timer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from azure_io.compute_outcomes import InProgress, Started, Throttled
from azure_io.rollout_records import OperationInFlight

Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class CheckRound(Generic[Outcome]):
    ended: list[tuple[OperationInFlight, Outcome]]
    running: list[OperationInFlight]
    retry_after: float | None  # seconds, when a 429 ended the round


def check_round(
    in_flight: Sequence[OperationInFlight],
    check: Callable[[Started], Outcome | InProgress | Throttled],
) -> CheckRound[Outcome]:
    ended: list[tuple[OperationInFlight, Outcome]] = []
    running: list[OperationInFlight] = []
    for position, operation in enumerate(in_flight):
        outcome = check(operation.started)
        if isinstance(outcome, Throttled):
            running.extend(in_flight[position:])
            return CheckRound(ended, running, outcome.retry_after_seconds)
        if isinstance(outcome, InProgress):
            running.append(operation)
        else:
            ended.append((operation, outcome))
    return CheckRound(ended, running, None)
