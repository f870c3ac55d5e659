"""The clocks every simulated duration is measured on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from fleetsim import ScaledClock, VirtualClock

START = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)


def test_virtual_clock_moves_only_when_told():
    clock = VirtualClock(START)
    assert clock.now() == START
    assert clock.advance(timedelta(days=35)) == START + timedelta(days=35)
    clock.set(START)
    assert clock.now() == START
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        VirtualClock(datetime(2026, 12, 8))


def test_scaled_clock_runs_faster_than_real_time():
    clock = ScaledClock(600, start=START)
    time.sleep(0.05)
    elapsed = clock.now() - START
    assert timedelta(seconds=30) <= elapsed < timedelta(seconds=600)
    assert clock.now().tzinfo is not None
    default = ScaledClock()
    assert abs(default.now() - datetime.now(UTC)) < timedelta(seconds=1)
    with pytest.raises(ValueError):
        ScaledClock(0)
