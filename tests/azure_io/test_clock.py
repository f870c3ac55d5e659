"""The clock seam activities read "now" through."""

from datetime import UTC, datetime, timedelta

from azure_io.clock import Clock, SystemClock
from fleetsim.clock import VirtualClock


def test_the_system_clock_tells_the_current_time_in_utc() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert before <= now <= datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)


def test_the_simulators_virtual_clock_fits_the_seam() -> None:
    start = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)
    virtual = VirtualClock(start)
    seam: Clock = virtual  # what mypy would check, checked here at run time too
    assert isinstance(seam, Clock)
    virtual.advance(timedelta(days=3))
    assert seam.now() == start + timedelta(days=3)
    assert not isinstance(object(), Clock)
