"""How long a VM's install slot is: sized to the work, inside Azure's limits (docs/PLANNER.md 1).

- A VM with an expected install duration e gets ceil_to_5(max(e + 10, 1.25 e)) minutes:
  a margin of a quarter, and at least 10 minutes, over what it usually takes.
- Else a hotpatch-enabled VM in a hotpatch month (no reboot, rule 7) gets the hotpatch slot.
- Else the install slot.
- Always 30 to 235 minutes (`defaults.SLOT_MINUTES_BOUNDS`), and never longer than the
  VM's off-peak window; a window shorter than 30 minutes cannot hold an install at all.

The expected duration is what the app learns from the VM's past installs
(`learned_install_minutes`), or the fleet file's `expectedInstallMinutes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

from patching import defaults
from patching.models import ReleaseKind, Skip, VmTarget
from patching.policy import installs_as_hotpatch
from patching.windows import OffPeakWindow

SHORTEST_SLOT_MINUTES = defaults.SLOT_MINUTES_BOUNDS.low
LONGEST_SLOT_MINUTES = defaults.SLOT_MINUTES_BOUNDS.high
# The margin over an expected duration: a quarter of it, and never under 10 minutes, so a
# VM that installs a little slower than usual still finishes.
MARGIN_MINUTES = 10
# Nearest-rank percentile of the recent installs the expected duration is taken from.
LEARNED_PERCENTILE = 90
# After an install ran out of window with Critical or Security still pending, the next slot is
# at least this much longer than the one it ran out of (numerator, denominator).
EXCEEDED_GROWTH = (3, 2)


def slot_minutes(
    vm: VmTarget,
    kind: ReleaseKind,
    window: OffPeakWindow,
    *,
    install_slot: int,
    hotpatch_slot: int,
) -> int | None:
    """The VM's slot (its install's maximumDuration) in minutes, or None when its window is
    shorter than the shortest slot (`short_window_reason` says why it is skipped)."""
    if window.nominal_minutes < SHORTEST_SLOT_MINUTES:
        return None
    if vm.expected_install_minutes is not None:
        expected = vm.expected_install_minutes
        wanted = _ceil_to_5(max(expected + MARGIN_MINUTES, -(-expected * 5 // 4)))
    elif installs_as_hotpatch(vm, kind):
        wanted = hotpatch_slot
    else:
        wanted = install_slot
    clamped = min(max(wanted, SHORTEST_SLOT_MINUTES), LONGEST_SLOT_MINUTES)
    return min(clamped, window.nominal_minutes)


def short_window_reason(window: OffPeakWindow) -> str:
    return (
        f"off-peak window {window} is {window.nominal_minutes} minutes; "
        f"an install needs at least {SHORTEST_SLOT_MINUTES}"
    )


# The reason is all a plan file keeps of a skip, so a plan read back is counted by it.
_SHORT_WINDOW = re.compile(
    r"off-peak window \d\d:\d\d-\d\d:\d\d is \d+ minutes; "
    rf"an install needs at least {SHORTEST_SLOT_MINUTES}"
)


def short_window_skips(skipped: Iterable[Skip]) -> int:
    """How many enrolled VMs a plan skipped because their window cannot hold an install."""
    return sum(1 for skip in skipped if _SHORT_WINDOW.fullmatch(skip.reason))


def learned_install_minutes(
    durations: Sequence[timedelta], *, window_exceeded: bool, previous_slot_minutes: int | None
) -> int | None:
    """A VM's expected install duration from its recent installs of the same kind of month.

    The 90th percentile (nearest rank) of `durations`, rounded up to whole minutes; None
    without any. When the last install ran out of window with Critical or Security patches
    still pending (`window_exceeded`), at least 1.5 times the slot it had, so the slot that
    follows is longer. Always within `defaults.EXPECTED_INSTALL_MINUTES_BOUNDS`.
    """
    if not durations:
        return None
    if any(d < timedelta(0) for d in durations):
        raise ValueError(
            "an install duration is negative; expected each install's end after its start"
        )
    ordered = sorted(durations)
    rank = -(-len(ordered) * LEARNED_PERCENTILE // 100)
    minutes = -(-ordered[rank - 1] // timedelta(minutes=1))
    if window_exceeded and previous_slot_minutes is not None:
        grow, over = EXCEEDED_GROWTH
        minutes = max(minutes, -(-previous_slot_minutes * grow // over))
    low, high = defaults.EXPECTED_INSTALL_MINUTES_BOUNDS
    return min(max(minutes, low), high)


def _ceil_to_5(minutes: int) -> int:
    return -(-minutes // 5) * 5
