"""Which VMs the periodic assessment takes now, and when each one's operation may start.

The compute limit counts guest patch operations (assessments and installs together) per
subscription and region: 200 a minute refilled, bursts up to 600 (docs/DOMAIN.md section 5).
`pace_operations` keeps assessments to `per_minute - reserved` in every 60-second window
of a subscription and region, leaving `reserved` a minute to the installs that run at the
same time, and starts them in waves of at most `GROUP_VMS` VMs (the fan-out group size)
and at most `burst` operations. The waves of a (subscription, region) repeat one minute's
pattern (k waves spread evenly over the minute, `per_minute - reserved` operations in all),
so any 60-second window holds each position of the pattern once and never more than the
minute's operations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from patching.errors import BadInput
from patching.fanout import GROUP_VMS
from patching.models import PowerState, Skip, VmTarget
from patching.timefmt import check_in_range

OPERATIONS_PER_MINUTE = 200
OPERATIONS_BURST = 600
MINUTE = timedelta(minutes=1)


class PacingError(BadInput):
    """An interval or a rate the assessment cannot pace by."""


@dataclass(frozen=True, slots=True)
class AssessmentDue:
    due: tuple[VmTarget, ...]
    skipped_off: tuple[Skip, ...]
    # When the first of the VMs not due yet will be (None: every VM is due now, or none).
    next_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class Wave:
    """Operations of one subscription and region that start together."""

    start: datetime
    subscription: str
    region: str
    vms: tuple[str, ...]


def due_for_assessment(
    targets: Iterable[VmTarget],
    last_assessed: Mapping[str, datetime],
    *,
    now: datetime,
    interval: timedelta,
) -> AssessmentDue:
    """VMs never assessed (by id) and then the oldest first; `last_assessed` is keyed by the
    lowercased VM id. A VM due but not running is set aside with its power state."""
    if interval <= timedelta(0):
        raise PacingError(f"interval {interval} must be positive")
    now = check_in_range(now, "now")
    never: list[VmTarget] = []
    stale: list[tuple[datetime, VmTarget]] = []
    off: list[Skip] = []
    next_due: datetime | None = None
    for vm in sorted(targets, key=lambda t: t.key):
        last = last_assessed.get(vm.key)
        if last is not None and now - last < interval:
            next_due = min(next_due or last + interval, last + interval)
            continue
        if vm.power_state is not PowerState.RUNNING:
            off.append(Skip(vm.id, f"not assessed: power state is {vm.power_state.value}"))
        elif last is None:
            never.append(vm)
        else:
            stale.append((last, vm))
    stale.sort(key=lambda pair: pair[0])
    return AssessmentDue((*never, *(vm for _, vm in stale)), tuple(off), next_due)


def pace_operations(
    due: Sequence[VmTarget],
    *,
    now: datetime,
    per_minute: int = OPERATIONS_PER_MINUTE,
    burst: int = OPERATIONS_BURST,
    reserved: int = 0,
) -> tuple[Wave, ...]:
    """Every VM of `due` in one wave, in `due`'s order within its subscription and region;
    waves ordered by start, subscription and region."""
    if burst < 1 or not 0 <= reserved < per_minute:
        raise PacingError(
            f"per_minute {per_minute}, burst {burst}, reserved {reserved}: expected "
            "burst >= 1 and 0 <= reserved < per_minute"
        )
    now = check_in_range(now, "now")
    rate = per_minute - reserved
    size = min(GROUP_VMS, burst, rate)
    per_cycle = ceil(rate / size)
    lanes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for vm in due:
        lanes[(vm.subscription_id, vm.region)].append(vm.id)
    waves: list[Wave] = []
    for (subscription, region), vms in lanes.items():
        position = 0
        for minute in range(ceil(len(vms) / rate)):
            left_in_minute = rate
            for k in range(per_cycle):
                chunk = vms[position : position + min(size, left_in_minute)]
                if not chunk:
                    break
                start = now + minute * MINUTE + MINUTE * k / per_cycle
                waves.append(Wave(start, subscription, region, tuple(chunk)))
                position += len(chunk)
                left_in_minute -= len(chunk)
    return tuple(sorted(waves, key=lambda w: (w.start, w.subscription, w.region)))
