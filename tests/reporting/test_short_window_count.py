"""The report counts the enrolled VMs skipped because their off-peak window cannot hold an
install (docs/PLANNER.md section 1), in the model, in report.json and on the page."""

from __future__ import annotations

import json

import pytest
from page_checks import parse_page
from report_samples import RELEASED_AT, vm_id

from patching.calendar import DEADLINE
from patching.models import Cycle, Release, ReleaseKind
from patching.outcomes import VmState
from patching.slots import short_window_reason
from patching.windows import OffPeakWindow
from reporting import from_report_json, render_html, to_report_json
from reporting.model import ArmCounters, DurableCounters, Report, VmRow

SUB = "00000001-0000-4000-8000-000000000001"
SHORT_WINDOWS = ("22:00-22:20", "23:50-00:10", "03:00-03:29")
OTHER_SKIPS = (
    "patchMode is Manual, not AutomaticByPlatform",
    "VM is deallocated",
    # Says "off-peak window" but not that it is too short: not one of the count's.
    "off-peak window tag '25:00-26:00' is not a window HH:MM-HH:MM (24-hour clock)",
    "",
)


def report_with(short: int, others: int = len(OTHER_SKIPS)) -> Report:
    """A report with `short` VMs skipped for a short window, `others` skipped for other
    reasons, and two that are enrolled."""
    rows = [
        VmRow(
            vm_id(SUB, f"short-{i}"),
            VmState.SKIPPED,
            reason=short_window_reason(OffPeakWindow.parse(SHORT_WINDOWS[i % len(SHORT_WINDOWS)])),
        )
        for i in range(short)
    ]
    rows += [
        VmRow(vm_id(SUB, f"other-{i}"), VmState.SKIPPED, reason=OTHER_SKIPS[i] or None)
        for i in range(others)
    ]
    rows += [
        VmRow(vm_id(SUB, "done"), VmState.COMPLIANT, installed_at=RELEASED_AT),
        VmRow(vm_id(SUB, "waiting"), VmState.PENDING),
    ]
    return Report(
        cycle=Cycle("2026-12", Release(ReleaseKind.HOTPATCH, RELEASED_AT), RELEASED_AT + DEADLINE),
        halt=None,
        vms=tuple(rows),
        durable=DurableCounters(instances=1, max_history_events=10, replayed_events=20),
        arm=ArmCounters(requests=5, throttled=0),
    )


def test_every_short_window_reason_is_under_thirty_minutes() -> None:
    # Guards the fixture: each window really is too short for an install.
    assert all(OffPeakWindow.parse(w).nominal_minutes < 30 for w in SHORT_WINDOWS)


@pytest.mark.parametrize("short", [0, 1, 3, 7])
def test_only_short_window_skips_are_counted(short: int) -> None:
    report = report_with(short)
    assert report.compliance.skipped == short + len(OTHER_SKIPS)
    assert report.short_window_skips == short


def test_a_short_window_vm_that_is_not_skipped_is_not_counted() -> None:
    report = report_with(0)
    reason = short_window_reason(OffPeakWindow.parse("22:00-22:20"))
    failed = VmRow(vm_id(SUB, "failed"), VmState.FAILED, reason=reason)
    report = Report(
        cycle=report.cycle,
        halt=None,
        vms=(*report.vms, failed),
        durable=report.durable,
        arm=report.arm,
    )
    assert report.short_window_skips == 0


@pytest.mark.parametrize("short", [1, 3])
def test_report_json_says_how_many_and_still_loads(short: int) -> None:
    report = report_with(short)
    document = json.loads(json.dumps(to_report_json(report)))
    assert document["compliance"]["shortWindowSkips"] == short
    assert document["compliance"]["skipped"] == short + len(OTHER_SKIPS)

    loaded = from_report_json(document)
    assert loaded == report
    assert loaded.short_window_skips == short


def test_report_json_leaves_the_count_out_when_there_is_none() -> None:
    report = report_with(0)
    document = to_report_json(report)
    assert "shortWindowSkips" not in document["compliance"]
    assert from_report_json(json.loads(json.dumps(document))) == report


def test_the_count_read_back_is_the_one_the_rows_give() -> None:
    # The count is derived from the rows: a document is read by its vms, not its count.
    document = json.loads(json.dumps(to_report_json(report_with(2))))
    document["compliance"]["shortWindowSkips"] = 40
    assert from_report_json(document).short_window_skips == 2


@pytest.mark.parametrize("short", [1, 3, 1234])
def test_the_page_says_how_many(short: int) -> None:
    page = parse_page(render_html(report_with(short, others=1)))
    (count,) = page.by_class("short-window-count")
    assert count.text() == f"{short:,}"


def test_the_page_says_nothing_when_there_is_none() -> None:
    html = render_html(report_with(0))
    assert parse_page(html).by_class("short-window-count") == []
    assert "short-window-count" not in html
