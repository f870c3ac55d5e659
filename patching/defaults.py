"""The built-in defaults of the app's knobs and the bounds every setting and flag keeps.

One place: the app settings (`azure_io.settings`), the planning policy and the command
line all read these.
"""

from __future__ import annotations

from typing import NamedTuple

from patching.windows import OffPeakWindow


class Bounds(NamedTuple):
    """An inclusive range of accepted values."""

    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low} to {self.high}"


SLOT_MINUTES = 90
HOTPATCH_SLOT_MINUTES = 30
# Azure's limits on an install's maximumDuration: Windows keeps 10 minutes for a reboot and
# starts nothing with under 25 left, so 30 is the shortest useful slot; 3 h 55 min is the
# longest maintenance window Update Manager runs. Every slot, whatever sized it, keeps them.
SLOT_MINUTES_BOUNDS = Bounds(30, 235)

# A fleet file's per-VM expectedInstallMinutes: a minute to a day.
EXPECTED_INSTALL_MINUTES_BOUNDS = Bounds(1, 1440)

# At least a minute: phase k+1 starts after phase k ends (docs/CONTRACTS.md section 3, rule 6),
# and a gate of no time at all would watch no health signal. At most a day.
HEALTH_GATE_MINUTES = 30
HEALTH_GATE_MINUTES_BOUNDS = Bounds(1, 1440)

DEFAULT_WINDOW = OffPeakWindow.parse("22:00-06:00")

PLANNED_BASELINE_MONTHS: tuple[int, ...] = (1, 4, 7, 10)

ASSESSMENT_INTERVAL_HOURS = 72
ASSESSMENT_INTERVAL_HOURS_BOUNDS = Bounds(1, 720)

ERROR_BUDGET_PERCENT = 10.0
ERROR_BUDGET_PERCENT_BOUNDS = Bounds(0, 100)

# The years the calendar plans for: cycle ids and every accepted time (in UTC) fall in
# them. Wide enough for any real cycle, narrow enough that no date arithmetic of a
# cycle (a deadline 30 days on, a plan weeks long) leaves what `datetime` can hold.
FIRST_YEAR = 2000
LAST_YEAR = 2999
