"""The cycle in force now: this month's once its release is out (a replacing baseline
before the hotpatch cycle it replaced), else last month's; as recorded when it opened, else
as the calendar has it."""

from __future__ import annotations

from datetime import datetime

from azure_io.ports import PatchStore
from azure_io.settings import Settings
from azure_io.table_rows import CycleRecord
from patching.calendar import cycle_id_of, make_cycle, patch_tuesday
from patching.models import Cycle, Release, ReleaseKind

BASELINE_SUFFIX = "-baseline"


def current_cycle_record(store: PatchStore, now: datetime) -> tuple[str | None, CycleRecord | None]:
    """This month's cycle (a replacing baseline before the hotpatch cycle it replaced),
    else last month's; (None, None) when neither is recorded."""
    for cycle_id in (cycle_id_of(now), previous_month(now)):
        for store_id in (f"{cycle_id}{BASELINE_SUFFIX}", cycle_id):
            record = store.cycle(store_id)
            if record is not None:
                return store_id, record
    return None, None


def current_cycle(store: PatchStore, settings: Settings, now: datetime) -> Cycle:
    return cycle_of(current_cycle_record(store, now)[1], settings, now)


def cycle_of(record: CycleRecord | None, settings: Settings, now: datetime) -> Cycle:
    if record is None:
        # Before this month's Patch Tuesday, last month's cycle is the current one.
        month = cycle_id_of(now)
        if now < patch_tuesday(now.year, now.month):
            month = previous_month(now)
        return make_cycle(month, baseline_months=settings.planned_baseline_months)
    return Cycle(
        id=record.cycle_id.removesuffix(BASELINE_SUFFIX),
        release=Release(
            kind=ReleaseKind(record.release_kind),
            released_at=record.released_at,
            release_id=record.release_id,
        ),
        deadline=record.deadline,
    )


def previous_month(now: datetime) -> str:
    january = now.month == 1
    return f"{now.year - january:04d}-{12 if january else now.month - 1:02d}"
