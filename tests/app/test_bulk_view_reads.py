"""The activities read the recorded views of many VMs in bulk: one store read per
subscription, never one per VM (on Table Storage each read is a request)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from azure_io.memory_store import MemoryPatchStore
from azure_io.patch_views import VmView
from tests.app.assessment_support import SUB, one_lane_fleet, rig
from tests.app.rollout_support import CYCLE_ID, FLEET, rehearsal, run_cycle

START = datetime(2026, 12, 3, 9, 10, tzinfo=UTC)


@pytest.fixture
def view_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts the store's view reads: `vm_view` calls, and `vm_views` calls by subscription."""
    reads: Counter[str] = Counter()
    one, many = MemoryPatchStore.vm_view, MemoryPatchStore.vm_views

    def vm_view(store: MemoryPatchStore, vm_id: str) -> VmView | None:
        reads["vm_view"] += 1
        return one(store, vm_id)

    def vm_views(store: MemoryPatchStore, subscription_id: str) -> dict[str, VmView]:
        reads[subscription_id.lower()] += 1
        return many(store, subscription_id)

    monkeypatch.setattr(MemoryPatchStore, "vm_view", vm_view)
    monkeypatch.setattr(MemoryPatchStore, "vm_views", vm_views)
    yield reads


def test_assessment_rounds_read_views_once_per_subscription(
    tmp_path: Path, view_reads: Counter[str]
) -> None:
    fleet = one_lane_fleet(40)
    with rig(fleet, START, tmp_path) as run:
        run.host.run_until(START + timedelta(hours=3))
        during_rounds = Counter(view_reads)
        views = [run.store.vm_view(vm["id"]) for vm in fleet["vms"]]

    assert all(view and view.latest_assessment for view in views)  # the rounds ran
    assert during_rounds.pop("vm_view", 0) == 0
    assert set(during_rounds) == {SUB}
    # Three hourly selections and each wave's checks, not one read per VM.
    assert during_rounds[SUB] < len(fleet["vms"])


def test_a_cycle_reads_views_once_per_subscription(
    tmp_path: Path, view_reads: Counter[str]
) -> None:
    with rehearsal(FLEET, tmp_path) as run:
        run_cycle(run)
        during_cycle = Counter(view_reads)
        record = run.store.cycle(CYCLE_ID)

    assert record is not None and record.state == "completed"
    assert during_cycle.pop("vm_view", 0) == 0
    assert during_cycle  # the gates, the install records and re-planning read in bulk
    assert set(during_cycle) <= {s["id"].lower() for s in FLEET["subscriptions"]}
