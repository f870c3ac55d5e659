"""Reports to test and look at: a seeded month of a fleet, and hypothesis's random ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from patching.calendar import DEADLINE
from patching.models import Cycle, Phase, RebootSetting, Release, ReleaseKind
from patching.outcomes import VmState
from reporting.model import (
    ArmCounters,
    Attempt,
    DeferredHotpatch,
    DurableCounters,
    Halt,
    HistoryEntry,
    HistoryKind,
    PlannedSlot,
    Report,
    TableCounters,
    VmHistory,
    VmRow,
    VmRun,
)

RELEASED_AT = datetime(2026, 12, 8, 18, tzinfo=UTC)
PHASE_REGIONS = (("westcentralus",), ("eastus", "northeurope"), ("westus", "westeurope"))
HOSTILE_NAME = "<script>alert(1)<"


def vm_id(subscription: str, name: str, group: str = "rg-app") -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def month_report(
    vm_count: int,
    *,
    seed: int = 7,
    halted: bool = False,
    subscriptions: int = 3,
    extra_names: tuple[str, ...] = (),
) -> Report:
    """A hotpatch month of `vm_count` VMs in three phases; with `halted`, phase 2 stops."""
    rng = random.Random(seed)
    subs = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, subscriptions + 1)]
    names = [f"vm-{i:05d}" for i in range(vm_count - len(extra_names))] + list(extra_names)
    halt_at = RELEASED_AT + timedelta(days=9, hours=7) if halted else None
    rows, slots, runs, history, deferred = [], [], [], [], []
    phase_spans: dict[int, list[datetime]] = {}
    for i, name in enumerate(names):
        vm = vm_id(subs[i % len(subs)], name)
        if i % 23 == 5:
            rows.append(VmRow(vm, VmState.SKIPPED, reason="patchMode is Manual"))
            continue
        phase = 0 if i % 40 == 0 else 1 + (i % 2)
        region = rng.choice(PHASE_REGIONS[phase])
        night = phase * 4 + rng.randrange(4 if phase else 1)
        start = RELEASED_AT + timedelta(days=night, hours=4 + rng.randrange(8), minutes=30)
        end = start + timedelta(minutes=90)
        reboot = RebootSetting.NEVER if i % 3 else RebootSetting.IF_REQUIRED
        slots.append(PlannedSlot(vm, phase, region, start, end, reboot))
        phase_spans.setdefault(phase, []).extend((start, end))
        if halt_at is not None and start >= halt_at:
            rows.append(VmRow(vm, VmState.HALTED, reason="cycle halted before its slot"))
            continue
        attempts = [_attempt(rng, start, failed=i % 17 == 3)]
        if attempts[0].failed and i % 2:
            attempts.append(_attempt(rng, start + timedelta(days=1), failed=False))
        runs.append(VmRun(vm, tuple(attempts)))
        final = attempts[-1]
        if final.failed:
            rows.append(VmRow(vm, VmState.FAILED, reason=f"install {final.status}"))
        else:
            rows.append(VmRow(vm, VmState.COMPLIANT, installed_at=final.end))
            if reboot is RebootSetting.NEVER and i % 5 == 0:
                deferred.append(DeferredHotpatch(vm, 1 + i % 3, "2027-01"))
        history.append(
            VmHistory(
                vm,
                (
                    HistoryEntry(
                        start - timedelta(hours=2),
                        HistoryKind.ASSESSMENT,
                        "Succeeded",
                        {"criticalAndSecurity": 3, "other": 1},
                    ),
                    HistoryEntry(
                        final.start,
                        HistoryKind.INSTALL,
                        final.status,
                        {"installed": 0 if final.failed else 3, "failed": int(final.failed)},
                    ),
                ),
            )
        )
    phases = tuple(
        Phase(index, PHASE_REGIONS[index], min(span), max(span))
        for index, span in sorted(phase_spans.items())
    )
    return Report(
        cycle=Cycle(
            "2026-12",
            Release(ReleaseKind.HOTPATCH, RELEASED_AT, "KB-2026-12"),
            RELEASED_AT + DEADLINE,
        ),
        halt=Halt("phase 2 failed 3 of 20 VMs (15% > 10% error budget)", 2, halt_at)
        if halted
        else None,
        vms=tuple(rows),
        durable=DurableCounters(
            instances=vm_count + 4, max_history_events=812, replayed_events=40_112
        ),
        arm=ArmCounters(requests=vm_count * 6, throttled=vm_count // 50),
        tables=TableCounters(rows_written=vm_count * 9),
        phases=phases,
        slots=tuple(slots),
        runs=tuple(runs),
        history=tuple(history),
        deferred=tuple(deferred),
    )


def _attempt(rng: random.Random, start: datetime, *, failed: bool) -> Attempt:
    minutes = rng.randrange(20, 95)
    return Attempt(
        start=start,
        end=start + timedelta(minutes=minutes),
        status="Failed" if failed else "Succeeded",
        rebooted=not failed and rng.random() < 0.3,
        maintenance_window_exceeded=minutes > 90,
        unhealthy=failed and rng.random() < 0.5,
    )


# Hypothesis: any report the model accepts.

_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
# VM id values: anything but a slash, whitespace or a control character; markup included.
_VALUES = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="/\x85"
    ),
    min_size=1,
    max_size=12,
).filter(lambda v: not any(ch.isspace() for ch in v))
_TEXT = st.text(max_size=30)
_COUNTS = st.integers(min_value=0, max_value=10**9)


@st.composite
def reports(draw: st.DrawFn) -> Report:
    halted = draw(st.booleans())
    states = [s for s in VmState if halted or s is not VmState.HALTED]
    names = draw(st.lists(_VALUES, max_size=8, unique_by=str.lower))
    subs = draw(st.lists(_VALUES, min_size=1, max_size=3))
    vms = [vm_id(draw(st.sampled_from(subs)), name) for name in names]
    rows = tuple(
        VmRow(vm, draw(st.sampled_from(states)), draw(st.none() | _TIMES), draw(st.none() | _TEXT))
        for vm in vms
    )
    chosen = draw(st.lists(st.sampled_from(vms), unique=True)) if vms else []
    released = draw(_TIMES)
    return Report(
        cycle=Cycle(
            draw(st.from_regex(r"[0-9]{4}-[0-9]{2}", fullmatch=True)),
            Release(draw(st.sampled_from(ReleaseKind)), released, draw(st.none() | _TEXT)),
            draw(_TIMES),
        ),
        halt=Halt(draw(_TEXT), draw(st.none() | _COUNTS), draw(st.none() | _TIMES))
        if halted
        else None,
        vms=rows,
        durable=DurableCounters(draw(_COUNTS), draw(_COUNTS), draw(_COUNTS)),
        arm=ArmCounters(draw(_COUNTS), draw(_COUNTS)),
        phases=tuple(
            Phase(
                i,
                tuple(draw(st.lists(_TEXT, max_size=3))),
                draw(_TIMES),
                draw(_TIMES),
                draw(st.booleans()),
            )
            for i in range(draw(st.integers(0, 3)))
        ),
        slots=tuple(
            PlannedSlot(
                vm,
                draw(st.integers(0, 3)),
                draw(_TEXT),
                draw(_TIMES),
                draw(_TIMES),
                draw(st.sampled_from(RebootSetting)),
            )
            for vm in chosen
        ),
        runs=tuple(VmRun(vm, tuple(draw(st.lists(_attempts(), max_size=3)))) for vm in chosen),
        history=tuple(
            VmHistory(vm, tuple(draw(st.lists(_entries(), max_size=3)))) for vm in chosen
        ),
        deferred=tuple(
            DeferredHotpatch(vm, draw(_COUNTS), draw(st.none() | _TEXT)) for vm in chosen[:2]
        ),
        tables=draw(st.none() | st.builds(TableCounters, _COUNTS)),
    )


def _attempts() -> st.SearchStrategy[Attempt]:
    return st.builds(
        Attempt,
        _TIMES,
        st.none() | _TIMES,
        st.sampled_from(["Succeeded", "Failed", "InProgress", "CompletedWithWarnings"]),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    )


def _entries() -> st.SearchStrategy[HistoryEntry]:
    return st.builds(
        HistoryEntry,
        _TIMES,
        st.sampled_from(HistoryKind),
        _TEXT,
        st.dictionaries(_TEXT, _COUNTS, max_size=3),
    )
