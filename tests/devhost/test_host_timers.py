"""Timer triggers on their six-field NCRONTAB schedules, by the host's virtual clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devhost.app_loader import AppLoadError, loaded
from devhost.functions.timers import next_occurrence
from devhost.host import LocalHost
from fleetsim.clock import ScaledClock, VirtualClock
from tests.devhost.host_apps import schedules

TUESDAY_0930 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@pytest.fixture
def host() -> Iterator[tuple[LocalHost, VirtualClock]]:
    clock = VirtualClock(TUESDAY_0930)
    schedules.clock = clock
    schedules.calls.clear()
    with LocalHost(loaded(schedules.app), clock=clock) as host:
        yield host, clock


def test_timers_fire_at_their_occurrences_as_the_clock_jumps(
    host: tuple[LocalHost, VirtualClock],
) -> None:
    local, clock = host
    local.run_until(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))

    hourly = [when for name, when, _, _ in schedules.calls if name == "hourly"]
    weekly = [when for name, when, _, _ in schedules.calls if name == "tuesday_ten"]
    first_hour = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert hourly == [first_hour + timedelta(hours=n) for n in range(7 * 24 + 2)]
    assert weekly == [first_hour, first_hour + timedelta(days=7)]
    assert not any(past_due for _, _, past_due, _ in schedules.calls)
    assert clock.now() == datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


def test_the_timer_request_carries_the_schedule_status(
    host: tuple[LocalHost, VirtualClock],
) -> None:
    local, _ = host
    local.run_until(datetime(2026, 12, 8, 10, 0, tzinfo=UTC))

    status = [status for name, _, _, status in schedules.calls if name == "tuesday_ten"][-1]
    assert status["Last"] == "2026-12-01T10:00:00+00:00"
    assert status["Next"] == "2026-12-15T10:00:00+00:00"


def test_a_clock_past_several_occurrences_fires_once_past_due(
    host: tuple[LocalHost, VirtualClock],
) -> None:
    local, clock = host
    clock.set(datetime(2026, 12, 1, 13, 20, tzinfo=UTC))

    # hourly missed 10:00 to 13:00, tuesday_ten missed 10:00: each runs once.
    assert local.fire_due_timers(clock.now()) == 2
    assert sorted((name, past_due) for name, _, past_due, _ in schedules.calls) == [
        ("hourly", True),
        ("tuesday_ten", True),
    ]
    assert local.next_timer_due() == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def test_on_a_scaled_clock_timers_fire_by_themselves() -> None:
    # An hour of the host's clock lasts a second.
    clock = ScaledClock(3_600, start=datetime(2026, 12, 1, 9, 50, tzinfo=UTC))
    schedules.clock = clock
    schedules.calls.clear()
    with LocalHost(loaded(schedules.app), clock=clock):
        deadline = time.monotonic() + 10
        while len(schedules.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)

    following = [status["Next"] for name, _, _, status in schedules.calls if name == "hourly"]
    assert following[:2] == ["2026-12-01T11:00:00+00:00", "2026-12-01T12:00:00+00:00"]
    assert ("tuesday_ten", False) in [(name, late) for name, _, late, _ in schedules.calls]
    first_hourly = next(when for name, when, _, _ in schedules.calls if name == "hourly")
    assert (
        datetime(2026, 12, 1, 10, tzinfo=UTC)
        <= first_hourly
        < datetime(2026, 12, 1, 11, tzinfo=UTC)
    )


def test_a_schedule_that_is_not_six_fields_is_refused_at_start() -> None:
    app = func.FunctionApp()

    @app.timer_trigger(schedule="0 * * * *", arg_name="timer")
    def five_fields(timer: func.TimerRequest) -> None:
        pass

    with pytest.raises(AppLoadError, match=r"'five_fields'.*six fields"):
        LocalHost(loaded(app), clock=VirtualClock(TUESDAY_0930))


@given(moments)
def test_an_hourly_schedule_falls_on_the_next_whole_hour(moment: datetime) -> None:
    following = next_occurrence("0 0 * * * *", moment)
    whole_hour = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert following == whole_hour


@given(moments)
def test_a_weekly_schedule_falls_on_the_next_tuesday_at_ten(moment: datetime) -> None:
    following = next_occurrence("0 0 10 * * 2", moment)
    assert following > moment
    assert following - moment <= timedelta(days=7)
    assert (following.weekday(), following.hour, following.minute, following.second) == (
        1,
        10,
        0,
        0,
    )
