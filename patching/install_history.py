"""A VM's recent installs, and the install duration the next plan expects of it
(docs/PLANNER.md section 1).

Installs are told apart by what they do, which is what decides how long they take: a
hotpatch install (a hotpatch-enabled VM in a hotpatch month: no reboot, reboot-needing KBs
excluded) or a full one (everything else, a reboot when needed). A VM keeps the last
`KEPT_PER_KIND` of each; the expected duration of the next is learned from those of its kind
(`patching.slots.learned_install_minutes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from patching.models import ReleaseKind, VmTarget
from patching.policy import installs_as_hotpatch
from patching.slots import learned_install_minutes

# Ten, so that of a VM's last ten installs of a kind one slow one does not stretch its slot
# (the 90th percentile by nearest rank is the ninth), while two do.
KEPT_PER_KIND = 10


class InstallKind(StrEnum):
    HOTPATCH = "hotpatch"
    FULL = "full"


def install_kind(vm: VmTarget, kind: ReleaseKind) -> InstallKind:
    """What the VM's install in a month of this kind does (rule 7's install settings)."""
    if installs_as_hotpatch(vm, kind):
        return InstallKind.HOTPATCH
    return InstallKind.FULL


@dataclass(frozen=True, slots=True)
class PastInstall:
    """One finished install: its kind, start, length in whole minutes (rounded up), and
    whether it ran out of window with Critical or Security patches still pending, in a slot
    of `slot_minutes` (None when not known)."""

    kind: InstallKind
    started_at: datetime
    minutes: int
    ran_out: bool = False
    slot_minutes: int | None = None

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        if self.minutes < 0:
            raise ValueError(f"minutes must be 0 or more, not {self.minutes}")


def past_install(
    kind: InstallKind,
    started_at: datetime,
    ended_at: datetime,
    *,
    ran_out: bool,
    slot_minutes: int | None,
) -> PastInstall:
    """The install that ran from `started_at` to `ended_at`; ValueError if it ended first."""
    if ended_at < started_at:
        raise ValueError(f"an install ended at {ended_at} before it started at {started_at}")
    minutes = -(-(ended_at - started_at) // timedelta(minutes=1))
    return PastInstall(kind, started_at, minutes, ran_out, slot_minutes)


def with_install(recent: Iterable[PastInstall], new: PastInstall) -> tuple[PastInstall, ...]:
    """`recent` with `new` in it, oldest first, the last `KEPT_PER_KIND` of each kind kept.
    An install already there (same kind and start) is replaced, so recording one twice
    keeps it once."""
    others = [p for p in recent if (p.kind, p.started_at) != (new.kind, new.started_at)]
    ordered = sorted([*others, new], key=lambda p: (p.started_at, p.kind.value))
    kept: list[PastInstall] = []
    for kind in InstallKind:
        kept += [p for p in ordered if p.kind is kind][-KEPT_PER_KIND:]
    return tuple(sorted(kept, key=lambda p: (p.started_at, p.kind.value)))


def expected_install_minutes(recent: Iterable[PastInstall], kind: InstallKind) -> int | None:
    """How long the VM's next install of `kind` is expected to take, from its recent ones of
    that kind; None without any. After one that ran out of window, longer than its slot."""
    of_kind = sorted((p for p in recent if p.kind is kind), key=lambda p: p.started_at)
    if not of_kind:
        return None
    last = of_kind[-1]
    return learned_install_minutes(
        [timedelta(minutes=p.minutes) for p in of_kind],
        window_exceeded=last.ran_out,
        previous_slot_minutes=last.slot_minutes if last.slot_minutes is not None else last.minutes,
    )
