"""Clocks the simulator measures every simulated duration on.

A rehearsal drives a `VirtualClock` (35 days in seconds); the command line runs
a `ScaledClock` (real time, optionally faster).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current simulated time, timezone-aware UTC."""
        ...


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"clock times must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


class VirtualClock:
    """Time that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a virtual clock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = _require_aware(moment)


class ScaledClock:
    """Real time running `speed` times faster, from `start` (default: now)."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed
        self._origin = _require_aware(start) if start is not None else datetime.now(UTC)
        self._origin_monotonic = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin_monotonic) * self.speed
        return self._origin + timedelta(seconds=elapsed)
