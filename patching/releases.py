"""Releases that open cycles: the release event's data, and the calendar when none comes.

A release opens its month's cycle (`YYYY-MM` of `releasedAt`, in UTC), run by one
singleton orchestration per cycle, `cycle-YYYY-MM`, so a repeated delivery starts nothing
new. An unplanned baseline that supersedes the month's hotpatch (`calendar.supersedes`)
runs as `cycle-YYYY-MM-baseline` and replaces the hotpatch cycle's orchestration; one
replacement a month, as the release calendar has one baseline a month.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patching.calendar import cycle_id_of, patch_tuesday, scheduled_kind, supersedes
from patching.defaults import PLANNED_BASELINE_MONTHS
from patching.errors import BadInput
from patching.models import Classification, Release, ReleaseKind
from patching.timefmt import TimeFormatError, check_in_range, parse_time

_RELEASE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_KB_NUMBER = re.compile(r"\d{1,10}", re.ASCII)


class ReleaseError(BadInput):
    """Release event data refused: the message names the field and what was expected."""


@dataclass(frozen=True, slots=True)
class ReleaseNotice:
    release_id: str
    kind: ReleaseKind
    released_at: datetime
    kb_numbers: tuple[str, ...]
    classifications: tuple[Classification, ...]

    @property
    def release(self) -> Release:
        return Release(self.kind, self.released_at, self.release_id)

    @property
    def cycle_id(self) -> str:
        return cycle_id_of(self.released_at)


@dataclass(frozen=True, slots=True)
class CycleOpening:
    """What a release starts: the cycle, its orchestration, and the one it stops, if any."""

    cycle_id: str
    instance_id: str
    replaces: str | None = None


def parse_release(data: Any) -> ReleaseNotice:
    """The data of a `Patching.ReleasePublished` event (docs/CONTRACTS.md section 6)."""
    if not isinstance(data, Mapping):
        raise ReleaseError(f"release data is {type(data).__name__}; expected a JSON object")
    release_id = _string(data, "releaseId")
    if not _RELEASE_ID.fullmatch(release_id):
        raise ReleaseError(f"releaseId {release_id!r}: expected 1 to 64 letters, digits or '._-'")
    kind_text = _string(data, "kind")
    try:
        kind = ReleaseKind(kind_text)
    except ValueError as error:
        expected = ", ".join(k.value for k in ReleaseKind)
        raise ReleaseError(f"kind {kind_text!r}: expected one of {expected}") from error
    try:
        released_at = check_in_range(parse_time(_string(data, "releasedAt")))
    except TimeFormatError as error:
        raise ReleaseError(f"releasedAt: {error}") from error
    kb_numbers = _strings(data, "kbNumbers")
    for kb in kb_numbers:
        if not _KB_NUMBER.fullmatch(kb):
            raise ReleaseError(f"kbNumbers: {kb!r} is not a KB number (digits, e.g. 5048654)")
    classifications: list[Classification] = []
    for text in _strings(data, "classifications"):
        try:
            classifications.append(Classification(text))
        except ValueError as error:
            expected = ", ".join(c.value for c in Classification)
            raise ReleaseError(f"classifications: {text!r} is not one of {expected}") from error
    return ReleaseNotice(release_id, kind, released_at, kb_numbers, tuple(classifications))


def cycle_instance_id(cycle_id: str) -> str:
    return f"cycle-{cycle_id}"


def cycle_opening(incoming: Release, opened: Release | None) -> CycleOpening:
    """What `incoming` starts, given the release that opened its month's cycle, if any."""
    cycle_id = cycle_id_of(incoming.released_at)
    month = cycle_instance_id(cycle_id)
    if opened is not None and supersedes(incoming, opened):
        return CycleOpening(cycle_id, f"{month}-baseline", replaces=month)
    return CycleOpening(cycle_id, month)


def scheduled_release_due(
    now: datetime,
    *,
    opened_cycles: Collection[str],
    baseline_months: Collection[int] = PLANNED_BASELINE_MONTHS,
) -> Release | None:
    """The calendar's release of this month when Patch Tuesday 10:00 US Pacific has come and
    no release opened the month's cycle."""
    now = check_in_range(now, "now")
    due = patch_tuesday(now.year, now.month)
    if now < due or cycle_id_of(due) in opened_cycles:
        return None
    return Release(scheduled_kind(now.month, baseline_months), due)


def _string(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ReleaseError(f"{name} is {value!r}; expected a non-empty string")
    return value


def _strings(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ReleaseError(f"{name} is {value!r}; expected a list of strings")
    return tuple(value)
