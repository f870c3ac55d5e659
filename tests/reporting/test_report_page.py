"""`GET /api/report`: the report built from the app's tables alone (`live_report`) says what
the rehearsal that filled those tables says, and the route serves the one page with a
function key, a 503 with the error body when the tables fail."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from page_checks import outside_references, parse_page

from activities.deps import Deps, reset_deps, use_deps
from azure_io.compute import ComputeAdapter
from azure_io.compute_outcomes import OperationKind, Started
from azure_io.memory_store import MemoryPatchStore
from azure_io.patch_results import AssessmentResult, InstallResult, OperationError
from azure_io.rollout_records import OperationInFlight, PlanGroupRows
from azure_io.settings import Settings
from azure_io.table_rows import ComplianceRecord, CycleRecord
from azure_io.tables import PatchTables
from devhost.app_loader import loaded
from devhost.azurite import dev_connection_string, free_port
from devhost.host import LocalHost
from fleetsim.clock import VirtualClock
from fleetsim.transport import open_simulator
from http_api import report_page
from http_api.report_page import StoreReadError, live_report
from patchctl.fleetgen import generate_fleet
from patchctl.rehearsal import rehearse
from patchctl.rehearsal_spec import RehearsalSpec
from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.models import Assignment, RebootSetting, ReleaseKind
from patching.outcomes import VmState
from reporting import render_html
from reporting.model import HistoryKind, Report

FLEET = generate_fleet(30, seed=11, region_pairs=2)
SUBSCRIPTIONS = tuple(sub["id"] for sub in FLEET["subscriptions"])
SETTINGS = Settings(subscriptions=SUBSCRIPTIONS)
DAYS = 5


@dataclass(frozen=True)
class Rehearsed:
    rehearsal: Report  # what the rehearsal reported
    live: Report  # what the tables it filled give, read at its end
    store: MemoryPatchStore
    end: datetime


def _rehearsed(fleet: dict[str, Any], tmp_path: Path) -> Rehearsed:
    """December 2026 (a hotpatch month) of `fleet` for DAYS days on the real app; its tables."""
    store = MemoryPatchStore()
    spec = RehearsalSpec(
        fleet_document=fleet,
        fleet=parse_fleet(fleet),
        cycle=make_cycle("2026-12"),
        days=DAYS,
        settings=Settings(),
        log_path=tmp_path / "operations.jsonl",
    )
    rehearsal = rehearse(spec, store=store)
    return Rehearsed(rehearsal, live_report(store, SETTINGS, spec.end), store, spec.end)


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    return _rehearsed(FLEET, tmp_path_factory.mktemp("calm"))


@pytest.fixture(scope="module")
def halted(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    failing = copy.deepcopy(FLEET)
    for vm in failing["vms"]:
        vm["sim"] = {**vm.get("sim", {}), "installFails": True}
    return _rehearsed(failing, tmp_path_factory.mktemp("halted"))


def _rows(report: Report) -> dict[str, tuple[VmState, str | None]]:
    return {row.vm_id.key: (row.state, row.reason) for row in report.vms}


def test_the_tables_of_a_rehearsed_month_give_the_rehearsals_rows_slots_and_runs(
    calm: Rehearsed,
) -> None:
    live, rehearsal = calm.live, calm.rehearsal
    assert _rows(live) == _rows(rehearsal)
    assert live.compliance == rehearsal.compliance and live.compliance.compliant > 20
    assert {row.vm_id.key: row.installed_at for row in live.vms} == {
        row.vm_id.key: row.installed_at for row in rehearsal.vms
    }
    assert live.slots == rehearsal.slots and live.slots
    assert {r.vm: r.attempts for r in live.runs} == {r.vm: r.attempts for r in rehearsal.runs}
    assert live.runs
    assert live.cycle == rehearsal.cycle and live.halt is None
    record = calm.store.cycle("2026-12")
    assert record is not None and record.plan_summary is not None
    assert live.snapshot is not None and live.snapshot.cycle_state == record.state
    summary_phases = record.plan_summary["phases"]
    assert [(p.index, list(p.regions)) for p in live.phases] == [
        (p["index"], p["regions"]) for p in summary_phases
    ]
    assert {s.phase for s in live.slots} <= {p.index for p in live.phases}


def test_each_vms_history_is_its_last_30_days_of_assessments_and_installs(
    calm: Rehearsed,
) -> None:
    histories = {h.vm.lower(): h.entries for h in calm.live.history}
    assert len(histories) == len(calm.live.vms)  # every VM was assessed in the month
    for row in calm.live.vms:
        recorded = calm.store.history(row.vm, now=calm.end)
        entries = histories[row.vm_id.key]
        assert [(e.time, e.kind.value, e.status) for e in entries] == [
            (r.at, r.kind.value, (r.assessment or r.install).status)  # type: ignore[union-attr]
            for r in recorded
        ]
        installs = [e for e in entries if e.kind is HistoryKind.INSTALL]
        ran = next((run.attempts for run in calm.live.runs if run.vm == row.vm), ())
        assert len(installs) == len(ran)
        assert all(e.detail == "cycle 2026-12" for e in installs)


def test_hotpatch_vms_with_reboot_patches_left_for_the_baseline_are_said_to_be_deferred(
    calm: Rehearsed,
) -> None:
    deferred = {d.vm.lower(): d for d in calm.live.deferred}
    expected = {
        row.vm_id.key
        for row in calm.live.vms
        if row.state is VmState.COMPLIANT and "deferred to the next baseline" in (row.reason or "")
    }
    assert set(deferred) == expected and expected
    assert {d.until_cycle for d in deferred.values()} == {"2027-01"}  # baselines: 1,4,7,10
    assert all(d.reboot_patches >= 1 for d in deferred.values())
    page = parse_page(render_html(calm.live))
    assert int(page.by_class("deferred-count")[0].text()) == len(expected)


def test_a_halted_cycle_says_why_where_and_when_and_holds_back_the_later_phases(
    halted: Rehearsed,
) -> None:
    live = halted.live
    record = halted.store.cycle("2026-12")
    assert record is not None and record.state == "halted" and record.halt_reason
    assert live.halt is not None
    assert live.halt.reason == record.halt_reason and live.halt.reason.startswith("phase 0:")
    assert live.halt.phase == 0 and live.halt.at == record.recorded_at
    # The same counts as the rehearsal's; the VMs it calls pending by their assessment
    # are said to be held back by the halt.
    assert live.compliance.pending == halted.rehearsal.compliance.pending
    assert live.compliance.failed == halted.rehearsal.compliance.failed > 0
    canary = {s.vm.lower() for s in live.slots if s.phase == 0}
    states = {row.vm_id.key: row.state for row in live.vms}
    assert {vm for vm, state in states.items() if state is VmState.FAILED} == canary
    held = {s.vm.lower() for s in live.slots} - canary
    assert held and all(states[vm] is VmState.HALTED for vm in held)
    assert live.compliance.halted == len(held)
    reasons = {row.reason for row in live.vms if row.state is VmState.HALTED}
    assert all(
        r and r.startswith("the cycle halted before the VM's slot; assessment: ") for r in reasons
    )
    assert all(a.failed for run in live.runs for a in run.attempts)
    page = parse_page(render_html(live))
    (banner,) = page.by_class("halt")
    assert record.halt_reason in banner.text()
    assert "halted after it" in page.by_class("phases")[0].text()
    assert page.by_class("halt-line")


def test_the_page_is_self_contained_and_has_its_sections(calm: Rehearsed) -> None:
    page = render_html(calm.live)
    assert outside_references(page) == []
    assert "<script" not in page.lower()
    tree = parse_page(page)
    headings = {e.attrs.get("id"): e.text() for e in tree.by_tag("h2")}
    assert {"compliance-h", "timeline-h", "phases-h", "vms-h", "history-h"} <= set(headings)
    assert "run-h" not in headings, "a live page has no rehearsal counters"
    assert "From the app's tables at 2026-12-13 18:00 UTC; the cycle has completed" in (
        tree.by_class("snapshot")[0].text()
    )
    links = [a.attrs["href"] for a in tree.by_tag("a")]
    assert links[0] == "#main" and all(href.startswith("#") for href in links)
    targets = {e.attrs["id"] for e in tree.iter() if "id" in e.attrs}
    assert {href[1:] for href in links} <= targets
    assert len(tree.by_tag("svg")) == 1
    subscriptions = [tr for tr in tree.by_tag("tr") if tr.by_tag("th") and tr.by_tag("td")]
    assert {tr.by_tag("th")[0].text() for tr in subscriptions} == set(SUBSCRIPTIONS)
    history_groups = tree.by_class("vm-history")
    assert len(history_groups) == len(calm.live.history)


# A store filled by hand, the way the app's activities write it.

NOW = datetime(2027, 1, 20, 12, tzinfo=UTC)
RELEASED = datetime(2027, 1, 12, 18, tzinfo=UTC)
SUB = "00000001-0000-4000-8000-000000000001"


def _vm(name: str) -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def _install(vm: str, at: datetime, status: str, **fields: Any) -> InstallResult:
    values: dict[str, Any] = {
        "vm_id": vm,
        "status": status,
        "started_at": at,
        "reboot_status": "NotNeeded",
        "maintenance_window_exceeded": False,
        "installed_patch_count": 3 if status == "Succeeded" else 0,
        "failed_patch_count": 0 if status == "Succeeded" else 2,
        "pending_patch_count": 0,
        "excluded_patch_count": 0,
        "not_selected_patch_count": 0,
        "ended_at": at + timedelta(minutes=40),
    }
    return InstallResult(**(values | fields))


def _filled_store() -> MemoryPatchStore:
    """January 2027 (a planned baseline), halted after phase 0: `ok` installed, `bad`
    failed and was unhealthy, `busy` is installing now, `later` waits in phase 1, `gone`
    was patched in phase 0 and deleted since, `manual` is not enrolled."""
    store = MemoryPatchStore()
    fleet = parse_fleet(
        {
            "version": 1,
            "subscriptions": [{"id": SUB, "displayName": "sub"}],
            "vms": [
                {"id": _vm(name), "location": "eastus", "osType": "Linux", "patchMode": mode}
                for name, mode in (
                    ("ok", "AutomaticByPlatform"),
                    ("bad", "AutomaticByPlatform"),
                    ("busy", "AutomaticByPlatform"),
                    ("later", "AutomaticByPlatform"),
                    ("manual", "ImageDefault"),
                )
            ],
        }
    )
    store.save_inventory(SUB, fleet.vms, discovered_at=RELEASED)
    cycle = make_cycle("2027-01", released_at=RELEASED)
    phase0 = RELEASED + timedelta(hours=4)
    phase1 = RELEASED + timedelta(days=3)
    summary = {
        "assigned": 5,
        "skipped": 1,
        "failed": 1,
        "unhealthy": 1,
        "phases": [
            {"index": 0, "start": "2027-01-12T22:00:00Z", "end": "2027-01-13T02:00:00Z",
             "regions": ["eastus"], "retry": False, "groups": 1},
            {"index": 1, "start": "2027-01-15T18:00:00Z", "end": "2027-01-15T22:00:00Z",
             "regions": ["eastus"], "retry": False, "groups": 1},
        ],
    }  # fmt: skip
    reason = "phase 0: 1 of 3 VMs failed (33% > 10% error budget)"
    store.save_cycle(
        CycleRecord("2027-01", "plannedBaseline", RELEASED, cycle.deadline, "halted",
                    recorded_at=phase0 + timedelta(hours=5), halt_reason=reason,
                    plan_summary=summary)
    )  # fmt: skip

    def slot(name: str, phase: int, start: datetime) -> Assignment:
        return Assignment(
            _vm(name), phase, start, start + timedelta(minutes=90), RebootSetting.IF_REQUIRED, False
        )

    store.save_plan_groups(
        "2027-01",
        [
            PlanGroupRows("p0-g0", 0, tuple(slot(n, 0, phase0) for n in ("ok", "bad", "gone"))),
            PlanGroupRows("p1-g0", 1, (slot("later", 1, phase1), slot("busy", 1, phase1))),
            # busy missed its first slot (it was off): the re-plan gave it a later one.
            PlanGroupRows("r1-p0-g0", 0, (slot("busy", 0, NOW - timedelta(minutes=20)),)),
        ],
        recorded_at=RELEASED,
    )
    store.record_assessments(
        [
            AssessmentResult(_vm(name), "Succeeded", RELEASED + timedelta(hours=1), False, 4, 1)
            for name in ("ok", "bad", "busy", "later", "gone")
        ],
        recorded_at=RELEASED,
    )
    store.record_installs(
        [_install(_vm("ok"), phase0, "Succeeded", reboot_status="Completed")],
        cycle="2027-01",
        recorded_at=phase0,
    )
    store.record_installs(
        [
            _install(_vm("bad"), phase0, "Failed", error=OperationError("PatchFailed", "2 failed")),
            _install(_vm("gone"), phase0, "Succeeded"),
        ],
        cycle="2027-01",
        recorded_at=phase0,
    )
    # An operator's on-demand install of one KB: history, not the cycle's rollout.
    store.record_installs(
        [_install(_vm("ok"), NOW - timedelta(days=1), "Succeeded")], cycle=None, recorded_at=NOW
    )
    store.save_operations(
        [
            OperationInFlight(
                Started(_vm("busy"), OperationKind.INSTALL, "https://arm.example/op/1"),
                NOW - timedelta(minutes=20),
                cycle="2027-01",
                slot_end=NOW + timedelta(minutes=70),
            )
        ]
    )
    done = phase0 + timedelta(hours=1)
    store.record_compliance(
        [
            ComplianceRecord(_vm("ok"), "compliant", "no Critical or Security patch missing",
                             True, False, done, "2027-01"),
            ComplianceRecord(_vm("bad"), "failed", "unhealthy after the install (heartbeat lost)",
                             True, False, done, "2027-01"),
            ComplianceRecord(_vm("gone"), "compliant", "no Critical or Security patch missing",
                             True, False, done, "2027-01"),
            # Last month's verdict: this cycle has not judged the VM yet.
            ComplianceRecord(_vm("later"), "compliant", "no Critical or Security patch missing",
                             True, False, RELEASED - timedelta(days=20), "2026-12"),
            ComplianceRecord(_vm("manual"), "skipped", "patchMode is ImageDefault, not "
                             "AutomaticByPlatform", False, False, RELEASED, "2027-01"),
        ]
    )  # fmt: skip
    return store


def test_a_hand_filled_store_gives_each_vm_its_state_slot_runs_and_history() -> None:
    report = live_report(_filled_store(), Settings(subscriptions=(SUB,)), NOW)
    assert report.cycle.id == "2027-01"
    assert report.cycle.release.kind is ReleaseKind.PLANNED_BASELINE
    assert report.halt is not None and report.halt.phase == 0
    states = {row.vm_id.name: row.state for row in report.vms}
    assert states == {
        "ok": VmState.COMPLIANT,
        "bad": VmState.FAILED,
        "busy": VmState.HALTED,  # no verdict of this cycle yet, and the cycle is halted
        "later": VmState.HALTED,  # last month's verdict does not count for this one
        "gone": VmState.COMPLIANT,  # no longer discovered, but judged by this cycle
        "manual": VmState.SKIPPED,
    }
    slots = {s.vm.rsplit("/", 1)[1]: s for s in report.slots}
    assert sorted(slots) == ["bad", "busy", "gone", "later", "ok"]
    assert slots["busy"].phase == 0 and slots["busy"].start == NOW - timedelta(minutes=20)
    assert slots["gone"].region == "unknown region" and slots["ok"].region == "eastus"
    runs = {r.vm.rsplit("/", 1)[1]: r.attempts for r in report.runs}
    assert sorted(runs) == ["bad", "busy", "gone", "ok"]
    (ok,) = runs["ok"]  # the on-demand install is history, not a run of the cycle
    assert ok.status == "Succeeded" and ok.rebooted and not ok.failed
    (bad,) = runs["bad"]
    assert bad.failed and bad.unhealthy
    (busy,) = runs["busy"]
    assert busy.end is None and busy.status == "InProgress"
    installed = {row.vm_id.name: row.installed_at for row in report.vms}
    assert installed["ok"] == ok.end and installed["bad"] is None
    history = {h.vm.rsplit("/", 1)[1]: h.entries for h in report.history}
    assert [(e.kind, e.detail) for e in history["ok"]] == [
        (HistoryKind.INSTALL, "on demand"),
        (HistoryKind.INSTALL, "cycle 2027-01"),
        (HistoryKind.ASSESSMENT, None),
    ]
    assert history["bad"][0].detail == "cycle 2027-01; PatchFailed: 2 failed"
    assert dict(history["ok"][2].counts) == {"critical and security": 4, "other": 1}
    assert report.deferred == ()  # a baseline month defers nothing
    tree = parse_page(render_html(report))
    assert len(tree.by_class("running")) == 1


def test_with_no_cycle_recorded_the_page_shows_the_calendars_and_each_vm_as_last_judged() -> None:
    store = MemoryPatchStore()
    early = datetime(2027, 3, 2, tzinfo=UTC)  # before March's Patch Tuesday: February's cycle
    fleet = parse_fleet(
        {
            "version": 1,
            "subscriptions": [{"id": SUB, "displayName": "sub"}],
            "vms": [{"id": _vm("a"), "location": "eastus", "osType": "Linux",
                     "patchMode": "AutomaticByPlatform"}],
        }
    )  # fmt: skip
    store.save_inventory(SUB, fleet.vms, discovered_at=early)
    store.record_compliance(
        [ComplianceRecord(_vm("a"), "pending", "assessment: 2 critical or security patches "
                          "missing", True, False, early)]
    )  # fmt: skip
    report = live_report(store, Settings(subscriptions=(SUB,)), early)
    assert report.cycle.id == "2027-02" and report.halt is None
    assert report.snapshot is not None and report.snapshot.cycle_state is None
    assert [(row.state, row.reason) for row in report.vms] == [
        (VmState.PENDING, "assessment: 2 critical or security patches missing")
    ]
    assert report.slots == () and report.runs == ()
    text = parse_page(render_html(report)).by_class("snapshot")[0].text()
    assert "no cycle is recorded yet" in text


# The route.


def _unreachable_tables() -> PatchTables:
    """Real Table Storage clients at a port nothing listens on, without retries."""
    connection = dev_connection_string(free_port())
    return PatchTables(TableServiceClient.from_connection_string(connection, retry_total=0))


def test_a_store_that_fails_is_a_store_read_error() -> None:
    with pytest.raises(StoreReadError) as failed:
        live_report(_unreachable_tables(), SETTINGS, NOW)
    assert failed.value.__cause__ is not None


@pytest.fixture
def served(calm: Rehearsed) -> Iterator[tuple[LocalHost, Deps]]:
    """The report's blueprint in an app of the default auth level, on the local host, over
    the rehearsed month's tables."""
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(report_page.bp)
    clock = VirtualClock(calm.end)
    with open_simulator(FLEET, clock=clock, sleep=lambda _: None) as sim:
        arm = Settings.from_env(
            {"PATCH_ARM_ENDPOINT": sim.base_url, "PATCH_ARM_CREDENTIAL": "static"}
        )
        compute = ComputeAdapter.from_settings(arm, sim.credential, transport=sim.transport)
        current = Deps(settings=SETTINGS, compute=compute, store=calm.store, clock=clock)
        use_deps(current)
        try:
            with LocalHost(loaded(app), clock=clock) as host:
                yield host, current
        finally:
            reset_deps()
            compute.close()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read()


def test_get_report_serves_the_page_with_a_function_key_only(
    served: tuple[LocalHost, Deps], calm: Rehearsed
) -> None:
    host, _ = served
    (spec,) = [s for s in loaded_functions() if s.trigger_type == "httpTrigger"]
    assert spec.trigger["route"] == "report" and spec.trigger["methods"] == ["GET"]
    assert spec.trigger["authLevel"] == "FUNCTION"
    status, _, _ = _get(f"{host.base_url}/api/report")
    assert status == 401
    status, headers, body = _get(f"{host.base_url}/api/report?code={host.function_key}")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["content-security-policy"]
    page = body.decode("utf-8")
    assert page == render_html(calm.live)
    assert outside_references(page) == []


def loaded_functions() -> tuple[Any, ...]:
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(report_page.bp)
    return loaded(app).functions


def test_get_report_answers_503_with_the_error_body_when_the_tables_fail(
    served: tuple[LocalHost, Deps],
) -> None:
    host, current = served
    use_deps(Deps(current.settings, current.compute, _unreachable_tables(), current.clock))
    status, headers, body = _get(f"{host.base_url}/api/report?code={host.function_key}")
    assert status == 503
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "StorageUnavailable" and error["message"]
    assert "Traceback" not in body.decode("utf-8")
