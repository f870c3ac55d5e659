"""The one clock seam activities read "now" through.

In Azure it is ``SystemClock``; the local host passes its virtual clock (any object with
the same ``now``), so a rehearsal's activities see the simulated time, never the
machine's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)
