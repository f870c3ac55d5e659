"""The HTML page: well-formed, self-contained, escaped, and saying what the report says."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from page_checks import Element, outside_references, parse_page, svg_part
from report_samples import HOSTILE_NAME, PHASE_REGIONS, month_report, reports, vm_id

from reporting import render_html
from reporting.model import Attempt, Report, VmRow, VmRun, VmState
from reporting.timeline import PER_VM_LIMIT
from reporting.vm_table import TABLE_LIMIT

HOSTILE_NAMES = (HOSTILE_NAME, 'x"onmouseover="alert(1)', "a&amp;b", "<svg", "'><img")


def _number(element: Element) -> int:
    return int(element.text().replace(",", ""))


def _state_counts(page: Element) -> dict[str, int]:
    return {
        li.attrs["data-state"]: _number(li.by_class("num")[0])
        for li in page.by_tag("li")
        if "data-state" in li.attrs
    }


@settings(max_examples=60, deadline=None)
@given(reports())
def test_any_report_renders_a_well_formed_self_contained_page(report: Report) -> None:
    page = render_html(report)
    tree = parse_page(page)
    assert outside_references(page) == []
    assert "<script" not in page.lower()
    assert len(tree.by_tag("title")) >= 1 and tree.by_tag("h1")
    if report.slots or report.runs:
        ET.fromstring(svg_part(page))
    assert _state_counts(tree) == {
        state: getattr(report.compliance, state)
        for state in ("compliant", "pending", "failed", "skipped")
    }


def test_hostile_vm_names_are_escaped_everywhere() -> None:
    report = month_report(40, halted=True, extra_names=HOSTILE_NAMES)
    page = render_html(report)
    tree = parse_page(page)
    assert page.count("<svg") == 1 and "<script" not in page and "<img" not in page
    assert not [name for e in tree.iter() for name in e.attrs if name.startswith("on")]
    shown = {e.text() for e in tree.by_class("name")}
    assert set(HOSTILE_NAMES) <= shown  # each reads back as the user wrote it
    ET.fromstring(svg_part(page))


def test_halt_banner_shows_the_reason_only_when_halted() -> None:
    halted = month_report(60, halted=True)
    tree = parse_page(render_html(halted))
    (banner,) = tree.by_class("halt")
    assert halted.halt is not None and halted.halt.reason in banner.text()
    assert banner.attrs["role"] == "alert"
    assert tree.by_class("halt-line"), "the timeline marks the halt"
    calm = parse_page(render_html(month_report(60)))
    assert calm.by_class("halt") == [] and calm.by_class("halt-line") == []
    assert calm.by_class("deadline-line")


def test_each_phase_band_names_its_regions() -> None:
    for vm_count in (60, 2_000):
        report = month_report(vm_count)
        labels = [e.text() for e in parse_page(render_html(report)).by_class("band-label")]
        assert labels == [
            f"Phase {phase.index}: {', '.join(phase.regions)}" for phase in report.phases
        ]
        assert [p.regions for p in report.phases] == list(PHASE_REGIONS)


def test_failures_are_marked_by_shape_and_word() -> None:
    report = month_report(60)
    failed_attempts = sum(a.failed for run in report.runs for a in run.attempts)
    assert failed_attempts > 0
    tree = parse_page(render_html(report))
    assert len(tree.by_class("fail")) == failed_attempts
    assert len(tree.by_class("fail-mark")) == failed_attempts
    failed_rows = [tr for tr in tree.by_tag("tr") if tr.attrs.get("data-state") == "failed"]
    assert len(failed_rows) == report.compliance.failed
    assert all("\u2715 failed" in tr.text() for tr in failed_rows)


def test_numbers_shown_equal_the_counts() -> None:
    report = month_report(300, halted=True, subscriptions=4)
    tree = parse_page(render_html(report))
    counts = report.compliance
    assert _state_counts(tree) == {
        "compliant": counts.compliant,
        "pending": counts.pending,
        "failed": counts.failed,
        "skipped": counts.skipped,
    }
    assert _number(tree.by_class("enrolled")[0]) == counts.enrolled
    assert _number(tree.by_class("halted-count")[0]) == counts.halted > 0
    per_sub = report.compliance_by_subscription()
    table = {
        tr.by_tag("th")[0].text(): [_number(td) for td in tr.by_tag("td")[:5]]
        for tr in tree.by_tag("tr")
        if tr.by_tag("th") and tr.by_tag("td")
    }
    assert table == {
        sub: [c.enrolled, c.compliant, c.pending, c.failed, c.skipped] for sub, c in per_sub.items()
    }
    assert _number(tree.by_class("deferred-count")[0]) == len(report.deferred) > 0
    assert "deferred to the next baseline (2027-01)" in tree.by_class("deferred")[0].text()


def test_ten_thousand_vms_aggregate_and_stay_small_and_fast() -> None:
    report = month_report(10_000, halted=True, subscriptions=12)
    started = time.perf_counter()
    page = render_html(report)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0 and len(page.encode()) < 3_000_000
    tree = parse_page(page)
    lanes = tree.by_class("row-detail")
    regions = sum(len(p.regions) for p in report.phases)
    assert len(lanes) == len(tree.by_class("row-label")) == regions < PER_VM_LIMIT
    in_lanes = sum(int(e.text().split(" VMs")[0].replace(",", "")) for e in lanes)
    assert in_lanes == len(report.slots)
    failed_installs = sum(
        int(e.text().split(", ")[1].split(" ")[0].replace(",", "")) for e in lanes
    )
    assert failed_installs == sum(a.failed for run in report.runs for a in run.attempts) > 0
    rows = [tr for tr in tree.by_tag("tr") if "data-state" in tr.attrs]
    assert len(rows) == TABLE_LIMIT
    order = {"failed": 0, "halted": 1, "pending": 2, "compliant": 3, "skipped": 4}
    ranks = [order[tr.attrs["data-state"]] for tr in rows]
    assert ranks == sorted(ranks) and ranks[0] == 0
    shown_failed = ranks.count(0)
    assert shown_failed == report.compliance.failed
    assert _number(tree.by_class("not-shown")[0]) == len(report.vms) - TABLE_LIMIT


def test_a_small_fleet_gets_one_timeline_row_per_vm() -> None:
    report = month_report(60)
    tree = parse_page(render_html(report))
    labels = [e.text().split(" \u00b7 ")[0] for e in tree.by_class("row-label")]
    assert sorted(labels) == sorted(slot.vm.rsplit("/", 1)[1] for slot in report.slots)


def test_an_install_still_running_and_one_outside_the_plan_are_drawn() -> None:
    base = month_report(12)
    extra = vm_id("00000001-0000-4000-8000-000000000001", "adhoc-01")
    slot = base.slots[0]
    report = replace(
        base,
        vms=(*base.vms, VmRow(extra, VmState.PENDING)),
        runs=(
            *(r for r in base.runs if r.vm != slot.vm),
            VmRun(slot.vm, (Attempt(slot.start, None, "InProgress"),)),
            VmRun(extra, (Attempt(slot.start + timedelta(hours=3), None, "InProgress"),)),
        ),
    )
    tree = parse_page(render_html(report))
    assert len(tree.by_class("running")) == 2
    assert "Ran without a planned slot" in [e.text() for e in tree.by_class("band-label")]
    assert sum("still running" in td.text() for td in tree.by_tag("td")) == 2
