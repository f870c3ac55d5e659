"""The virtual-clock loop: jumping to durable timers and to the host's own wake-ups."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from devhost.durable.driver import run_until
from tests.devhost.durable_support import START, engine_on_virtual_clock, status_of


def test_the_clock_jumps_to_each_timer_and_stops_when_nothing_is_left() -> None:
    with engine_on_virtual_clock() as (engine, clock):
        short = engine.start_new("wait_a_while", input=90)
        long = engine.start_new("wait_a_while", input=3600)
        woken: list[datetime] = []
        run_until(engine, clock, START + timedelta(days=1), on_wake=woken.append)
        assert woken == [START + timedelta(seconds=90), START + timedelta(hours=1)]
        assert clock.now() == START + timedelta(hours=1)
        assert [status_of(engine, i)["runtimeStatus"] for i in (short, long)] == ["Completed"] * 2


def test_wake_sources_move_the_clock_and_on_wake_can_start_work() -> None:
    schedule = [START + timedelta(minutes=m) for m in (5, 10)]

    def next_tick() -> datetime | None:
        return schedule[0] if schedule else None

    with engine_on_virtual_clock() as (engine, clock):
        started: list[str] = []

        def on_wake(now: datetime) -> None:
            if schedule and schedule[0] <= now:
                schedule.pop(0)
                started.append(engine.start_new("wait_a_while", input=60))

        run_until(
            engine, clock, START + timedelta(hours=1), wake_sources=[next_tick], on_wake=on_wake
        )
        assert clock.now() == START + timedelta(minutes=11)
        assert len(started) == 2
        assert [status_of(engine, i)["output"][0] for i in started] == [
            (START + timedelta(minutes=5)).isoformat(),
            (START + timedelta(minutes=10)).isoformat(),
        ]


def test_the_loop_stops_at_until_with_timers_still_pending() -> None:
    with engine_on_virtual_clock() as (engine, clock):
        instance_id = engine.start_new("wait_a_while", input=7200)
        run_until(engine, clock, START + timedelta(hours=1))
        assert clock.now() == START + timedelta(hours=1)
        assert status_of(engine, instance_id)["runtimeStatus"] == "Running"
        assert engine.next_due() == START + timedelta(hours=2)


def test_a_wake_source_that_never_moves_on_is_reported() -> None:
    with (
        engine_on_virtual_clock() as (engine, clock),
        pytest.raises(RuntimeError, match="must move past a time"),
    ):
        run_until(engine, clock, START + timedelta(hours=1), wake_sources=[lambda: START])
