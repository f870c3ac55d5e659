"""report.json: the contract's fields exactly, additions optional, and a lossless round trip."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from report_samples import RELEASED_AT, month_report, reports, vm_id

from patching.calendar import DEADLINE
from patching.models import Cycle, Release, ReleaseKind
from reporting import from_report_json, to_report_json
from reporting.model import ArmCounters, DurableCounters, Report, ReportError, VmRow, VmState

SUB = "00000001-0000-4000-8000-000000000001"

CONTRACT_FIELDS = {
    "cycle",
    "release",
    "halted",
    "haltReason",
    "compliance",
    "vms",
    "durable",
    "arm",
}
ADDITIONS = {
    "deadline",
    "haltedPhase",
    "haltedAt",
    "phases",
    "slots",
    "runs",
    "history",
    "deferred",
    "tables",
}


@settings(max_examples=150, deadline=None)
@given(reports())
def test_round_trip_through_json_text(report: Report) -> None:
    document = json.loads(json.dumps(to_report_json(report)))
    assert from_report_json(document) == report


@settings(max_examples=100, deadline=None)
@given(reports())
def test_fields_are_the_contracts_plus_optional_additions(report: Report) -> None:
    document = to_report_json(report)
    assert CONTRACT_FIELDS <= document.keys() <= CONTRACT_FIELDS | ADDITIONS
    counts = {"enrolled", "compliant", "pending", "failed", "skipped"}
    # shortWindowSkips: an addition, present when the plan skipped VMs for their window.
    assert counts <= set(document["compliance"]) <= counts | {"shortWindowSkips"}
    assert set(document["durable"]) == {"instances", "maxHistoryEvents", "replayedEvents"}
    assert set(document["arm"]) == {"requests", "throttled"}
    assert all(set(vm) == {"vm", "state", "installedAt", "reason"} for vm in document["vms"])
    assert document["halted"] is report.halted
    assert (document["haltReason"] is None) is (not report.halted)
    contract_only = {key: document[key] for key in CONTRACT_FIELDS}
    contract_only["compliance"] = document["compliance"]
    rebuilt = from_report_json(contract_only)
    assert rebuilt.vms == report.vms and rebuilt.halt == (
        None if report.halt is None else type(report.halt)(report.halt.reason)
    )


def test_times_are_utc_with_a_trailing_z() -> None:
    document = to_report_json(month_report(30, halted=True))
    times = [document["release"]["releasedAt"], document["deadline"], document["haltedAt"]]
    times += [vm["installedAt"] for vm in document["vms"] if vm["installedAt"]]
    times += [slot["start"] for slot in document["slots"]]
    assert times and all(t.endswith("Z") and len(t) == len("2026-12-08T18:00:00Z") for t in times)
    assert document["release"]["releasedAt"] == "2026-12-08T18:00:00Z"


def test_counts_add_up_and_halted_vms_are_pending() -> None:
    report = month_report(200, halted=True)
    counts = to_report_json(report)["compliance"]
    states = [row.state for row in report.vms]
    assert counts["enrolled"] == counts["compliant"] + counts["pending"] + counts["failed"]
    assert counts["enrolled"] + counts["skipped"] == len(report.vms)
    assert counts["pending"] == states.count(VmState.PENDING) + states.count(VmState.HALTED) > 0
    assert counts["failed"] == states.count(VmState.FAILED) > 0


def _refusal(document: dict[str, Any]) -> str:
    with pytest.raises(ReportError) as refused:
        from_report_json(document)
    return str(refused.value)


def test_refusals_name_the_field() -> None:
    good = to_report_json(month_report(30, halted=True))
    cases = [
        (("compliance", "failed"), 999, "compliance.failed"),
        (("vms", 0, "state"), "sleeping", "vms[0].state"),
        (("vms", 1, "vm"), "web-01", "vms[1]"),
        (("release", "releasedAt"), "2026-12-08 18:00", "release.releasedAt"),
        (("haltReason",), None, "haltReason"),
        (("durable", "instances"), -1, "durable.instances"),
        (("arm", "requests"), True, "arm.requests"),
        (("tables", "rowsWritten"), -3, "tables.rowsWritten"),
        (("runs", 0, "attempts", 0, "rebooted"), "no", "runs[0].attempts[0].rebooted"),
    ]
    for path, value, named in cases:
        document = copy.deepcopy(good)
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        assert named in _refusal(document), (path, _refusal(document))
    assert "report" in _refusal([])  # type: ignore[arg-type]


def test_a_report_that_contradicts_itself_is_refused() -> None:
    vm = vm_id("sub-1", "web-01")
    good = to_report_json(month_report(5))
    with pytest.raises(ReportError, match="not halted"):
        from_report_json(
            {**good, "vms": [{"vm": vm, "state": "halted", "installedAt": None, "reason": None}]}
        )
    with pytest.raises(ReportError, match="more than once"):
        replace(
            month_report(5), vms=(VmRow(vm, VmState.PENDING), VmRow(vm.upper(), VmState.FAILED))
        )
    with pytest.raises(ReportError, match=r"slots: .* is not one of the report's vms"):
        replace(month_report(40), vms=(VmRow(vm, VmState.PENDING),))
    planned = month_report(40)
    with pytest.raises(ReportError, match="slots: a VM appears more than once"):
        replace(planned, slots=(*planned.slots, planned.slots[0]))


def test_subscriptions_are_counted_without_regard_to_case() -> None:
    rows = (
        VmRow(vm_id("AbC-1", "web-01"), VmState.COMPLIANT),
        VmRow(vm_id("abc-1", "web-02"), VmState.FAILED),
        VmRow(vm_id("def-2", "web-03"), VmState.SKIPPED),
    )
    bare = replace(month_report(1), slots=(), runs=(), history=(), deferred=())
    per_sub = replace(bare, vms=rows).compliance_by_subscription()
    assert {sub: (c.enrolled, c.failed, c.skipped) for sub, c in per_sub.items()} == {
        "abc-1": (2, 1, 0),
        "def-2": (0, 0, 1),
    }


def test_days_to_full_compliance_count_from_the_release_to_the_last_install() -> None:
    release = RELEASED_AT
    cycle = Cycle("2026-12", Release(ReleaseKind.HOTPATCH, release, None), release + DEADLINE)

    def report(*rows: VmRow) -> Report:
        return Report(cycle, None, rows, DurableCounters(0, 0, 0), ArmCounters(0, 0))

    a, b = vm_id(SUB, "a"), vm_id(SUB, "b")
    done = report(
        VmRow(a, VmState.COMPLIANT, release + timedelta(hours=6)),
        VmRow(b, VmState.COMPLIANT, release + timedelta(days=2, hours=12)),
    )
    assert done.days_to_full_compliance() == 2.5
    waiting = report(VmRow(a, VmState.COMPLIANT, release), VmRow(b, VmState.PENDING))
    assert waiting.days_to_full_compliance() is None
    assert report(VmRow(a, VmState.COMPLIANT)).days_to_full_compliance() == 0.0
    assert report(VmRow(a, VmState.SKIPPED)).days_to_full_compliance() is None
