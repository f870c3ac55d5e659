"""Driving the engine on a virtual clock: run what is runnable, then jump to the next wake-up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from devhost.durable.engine import DurableEngine
from fleetsim.clock import VirtualClock


def run_until(
    engine: DurableEngine,
    clock: VirtualClock,
    until: datetime,
    *,
    wake_sources: Sequence[Callable[[], datetime | None]] = (),
    on_wake: Callable[[datetime], None] | None = None,
) -> None:
    """Run the engine until `until` or until nothing is left to wake for.

    When nothing is runnable the clock jumps to the earliest of the engine's
    next timer, the wake sources (timer triggers, scheduled events, the
    simulator's operation ends) and `until`; `on_wake(now)` then lets the
    host fire what is due. A wake source must move past a time once woken
    for it, or the loop could not advance.
    """
    stalled_at: datetime | None = None
    while True:
        worked = engine.run_ready()
        now = clock.now()
        if now >= until:
            return
        wakes = [engine.next_due(), *(source() for source in wake_sources)]
        pending = [moment for moment in wakes if moment is not None]
        if not pending:
            return
        target = min(min(pending), until)
        if target > now:
            clock.set(target)
            stalled_at = None
        elif not worked:
            if stalled_at == now:
                raise RuntimeError(
                    f"a wake source keeps asking for {target.isoformat()} at "
                    f"{now.isoformat()} and nothing runs: it must move past a time once woken"
                )
            stalled_at = now
        if on_wake is not None:
            on_wake(clock.now())
