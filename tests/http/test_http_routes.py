"""Every route of docs/CONTRACTS.md section 5 against `patchctl serve` (the app on the local
host, the fleet simulator over HTTPS, Azurite's tables, one clock at real time) with a
real HTTP client: its answer, and its refusals (401 without the key, 400 naming the field,
403 outside the managed subscriptions, 404, 409), a refused request starting nothing.

The routes that only read come first: what the starting ones start runs on behind them
(for hours of the fleet's time, so nothing it writes lands in what is read back)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from activities.rollout import planning_policy
from azure_io.patch_results import AssessmentResult, InstallResult
from azure_io.table_rows import ComplianceRecord, CycleRecord
from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.planfile import plan_to_json
from patching.planner import plan_cycle
from tests.http.serve_support import (
    FOREIGN_SUB,
    FleetVm,
    ServedApi,
    fleet_vms,
    foreign_vm_id,
    serve_fleet,
    served_api,
)

FLEET = serve_fleet()
VMS = fleet_vms(FLEET)
SUB, OTHER_SUB = sorted(s["id"] for s in FLEET["subscriptions"])


def _pick(os_type: str, subscription: str, nth: int = 0) -> FleetVm:
    return [
        vm
        for vm in VMS
        if vm.os_type == os_type
        and vm.subscription == subscription
        and vm.patch_mode == "AutomaticByPlatform"
    ][nth]


LIN = _pick("Linux", SUB)  # its assessment, install and compliance are recorded
WIN = _pick("Windows", SUB)  # discovered, nothing recorded
MANUAL = next(vm for vm in VMS if vm.patch_mode == "Manual")
# VMs the accepted requests below never touch: a refused request on them must not either.
QUIET = [_pick("Windows", OTHER_SUB), _pick("Linux", OTHER_SUB)]
INSTALL = {
    "vms": [WIN.id, LIN.id],
    "classifications": ["Critical", "Security", "UpdateRollUp"],
    "kbNumbersToInclude": ["5048654"],
    "kbNumbersToExclude": ["5040000"],
    "rebootSetting": "Never",
    "maximumDuration": "PT1H30M",
}
REFUSED_INSTALL = {**INSTALL, "vms": [vm.id for vm in QUIET]}
ROUTES = [
    ("POST", "/assessments"),
    ("POST", "/installations"),
    ("POST", "/hotpatch"),
    ("GET", LIN.path),
    ("GET", "/compliance"),
    ("GET", "/history"),
    ("GET", "/plan"),
    ("POST", "/cycles/2026-03/resume"),
    ("GET", "/report"),
]


def month_after(moment: datetime, months: int) -> str:
    """The cycle id `months` calendar months after `moment`'s."""
    index = moment.year * 12 + moment.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@pytest.fixture(scope="module")
def api() -> Iterator[ServedApi]:
    with served_api(FLEET) as running:
        running.discover_all()
        _record_lin(running)
        yield running


def _recorded_at(api: ServedApi) -> datetime:
    """Two days ago, to the minute: what the seeded records say happened then."""
    return (api.now() - timedelta(days=2)).replace(second=0, microsecond=0)


def _record_lin(api: ServedApi) -> None:
    at = _recorded_at(api)
    api.store.record_assessments(
        [AssessmentResult(LIN.id, "Succeeded", at, False, 2, 1)], recorded_at=at
    )
    installed = at + timedelta(hours=1)
    api.store.record_installs(
        [InstallResult(LIN.id, "Succeeded", installed, "NotNeeded", False, 3, 0, 0, 0, 0)],
        cycle="2026-02",
        recorded_at=installed,
    )
    api.store.record_compliance(
        [ComplianceRecord(LIN.id, "compliant", "installed", True, False, installed, "2026-02")]
    )


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


def nothing_reached_the_quiet_vms(api: ServedApi) -> bool:
    state = api.served.simulator.state
    return not any(state.vm(vm.id).install_in_progress for vm in QUIET)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_function_key(api: ServedApi, method: str, path: str) -> None:
    before = api.requested_instances()
    missing = api.call(method, path, json_body={"scope": [SUB]}, key=None)
    wrong = api.call(method, path, json_body={"scope": [SUB]}, key="not-the-key")

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert api.requested_instances() == before


# ----- GET /vms/{subscriptionId}/{resourceGroup}/{vmName} -----


def test_a_vm_s_view_has_its_latest_assessment_install_and_compliance(api: ServedApi) -> None:
    parts = LIN.parts
    # ARM ids compare case-insensitively.
    answer = api.call(
        "GET",
        f"/vms/{parts.subscription_id.upper()}/{parts.resource_group.upper()}/{parts.name.upper()}",
    )

    assert answer.status_code == 200
    view = answer.json()
    assert view["vmId"].lower() == LIN.id.lower()
    assert view["latestAssessment"]["criticalAndSecurityPatchCount"] == 2
    assert view["latestAssessment"]["startedAt"] == stamp(_recorded_at(api))
    assert view["latestInstall"]["installedPatchCount"] == 3
    assert view["installCycle"] == "2026-02"
    assert view["compliance"]["state"] == "compliant"


def test_a_discovered_vm_with_nothing_recorded_has_an_empty_view(api: ServedApi) -> None:
    answer = api.call("GET", WIN.path)

    assert answer.status_code == 200
    assert answer.json() == {
        "vmId": WIN.id,
        "latestAssessment": None,
        "latestInstall": None,
        "installCycle": None,
        "compliance": None,
    }


def test_a_vm_view_refuses_unknown_foreign_and_malformed_vms(api: ServedApi) -> None:
    group = LIN.parts.resource_group
    unknown = error_of(api.call("GET", f"/vms/{SUB}/{group}/nowhere"), 404)
    foreign = error_of(api.call("GET", f"/vms/{FOREIGN_SUB}/{group}/{LIN.parts.name}"), 403)
    malformed = error_of(api.call("GET", f"/vms/{SUB}/{group}/lin%2001"), 400)

    assert unknown["code"] == "NotFound"
    assert foreign["field"] == "subscriptionId"
    assert malformed["field"] == "vmName"


# ----- GET /compliance -----


def test_compliance_counts_every_managed_subscription_by_state(api: ServedApi) -> None:
    every = api.call("GET", "/compliance")
    one = api.call("GET", "/compliance", params={"subscription": OTHER_SUB.upper()})

    assert every.status_code == one.status_code == 200
    assert every.json() == {
        "subscriptions": {
            SUB: {"total": 1, "states": {"compliant": 1}},
            OTHER_SUB: {"total": 0, "states": {}},
        }
    }
    assert one.json() == {"subscriptions": {OTHER_SUB: {"total": 0, "states": {}}}}


def test_compliance_refuses_a_foreign_or_malformed_subscription(api: ServedApi) -> None:
    foreign = error_of(api.call("GET", "/compliance", params={"subscription": FOREIGN_SUB}), 403)
    malformed = error_of(api.call("GET", "/compliance", params={"subscription": "abc"}), 400)

    assert foreign["field"] == malformed["field"] == "subscription"


# ----- GET /history -----


def test_history_lists_assessments_and_installs_newest_first(api: ServedApi) -> None:
    answer = api.call("GET", "/history", params={"vm": LIN.id.upper(), "days": "30"})
    recent = api.call("GET", "/history", params={"vm": LIN.id, "days": "1"})

    assert answer.status_code == 200
    entries = answer.json()["entries"]
    at = _recorded_at(api)
    assert [(e["kind"], e["at"]) for e in entries] == [
        ("install", stamp(at + timedelta(hours=1))),
        ("assessment", stamp(at)),
    ]
    assert entries[0]["cycle"] == "2026-02"
    assert entries[0]["install"]["status"] == "Succeeded"
    assert recent.json()["entries"] == []
    assert recent.json()["days"] == 1


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"vm": LIN.id, "days": "31"}, 400, "days"),
        ({"vm": LIN.id, "days": "0"}, 400, "days"),
        ({"vm": LIN.id, "days": "a week"}, 400, "days"),
        ({"days": "3"}, 400, "vm"),
        ({"vm": "lin-01"}, 400, "vm"),
        ({"vm": foreign_vm_id()}, 403, "vm"),
        ({"vm": LIN.id.replace(LIN.parts.name, "nowhere")}, 404, "vm"),
    ],
)
def test_history_refuses_bad_queries_by_field(
    api: ServedApi, params: dict[str, str], status: int, field: str
) -> None:
    assert error_of(api.call("GET", "/history", params=params), status)["field"] == field


# ----- GET /plan -----


def test_the_plan_preview_is_the_planner_s_plan_of_the_current_fleet(api: ServedApi) -> None:
    # Next month's cycle: its release is ahead of the clock, so "now" changes nothing.
    cycle = month_after(api.now(), 1)
    answer = api.call("GET", "/plan", params={"cycle": cycle})

    # What `patchctl plan` writes for the fleet file; the inventory lists VMs by
    # subscription, group and name, which breaks the planner's ties.
    in_inventory_order = {**FLEET, "vms": sorted(FLEET["vms"], key=lambda vm: vm["id"].lower())}
    settings = api.served.settings
    expected = plan_cycle(
        parse_fleet(in_inventory_order),
        make_cycle(cycle, baseline_months=settings.planned_baseline_months),
        now=api.now(),
        policy=planning_policy(settings),
    )
    assert answer.status_code == 200
    assert answer.json() == plan_to_json(expected)
    assert [skip["vm"] for skip in answer.json()["skipped"]] == [MANUAL.id]


def test_the_plan_preview_follows_the_cycle_s_recorded_release(api: ServedApi) -> None:
    month = month_after(api.now(), 1)
    released = datetime.fromisoformat(f"{month}-20T08:00:00+00:00")
    api.store.save_cycle(
        CycleRecord(
            f"{month}-baseline",
            "unplannedBaseline",
            released,
            released + timedelta(days=30),
            "running",
            api.now(),
            "oob-7",
        )
    )
    answer = api.call("GET", "/plan", params={"cycle": f"{month}-baseline"})

    assert answer.status_code == 200
    assert answer.json()["release"] == {
        "kind": "unplannedBaseline",
        "releasedAt": f"{month}-20T08:00:00Z",
        "releaseId": "oob-7",
    }


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 400), ({"cycle": "2026-13"}, 400), ({"cycle": "March"}, 400), (None, 404)],
    ids=["missing", "month-13", "not-a-month", "baseline-never-opened"],
)
def test_the_plan_preview_refuses_a_cycle_that_is_not_one(
    api: ServedApi, params: dict[str, str] | None, status: int
) -> None:
    if params is None:
        params = {"cycle": f"{month_after(api.now(), 2)}-baseline"}
    error = error_of(api.call("GET", "/plan", params=params), status)
    assert status == 404 or error["field"] == "cycle"


# ----- POST /cycles/{cycle}/resume -----


def test_resume_refuses_an_unknown_cycle_a_running_one_and_bad_input(api: ServedApi) -> None:
    released = datetime.fromisoformat("2026-01-13T18:00:00+00:00")
    api.store.save_cycle(
        CycleRecord(
            "2026-01",
            "plannedBaseline",
            released,
            released + timedelta(days=30),
            "running",
            api.now(),
        )
    )
    api.store.save_cycle(
        CycleRecord(
            "2025-12",
            "hotpatch",
            released,
            released,
            "halted",
            api.now(),
            plan_summary={"halts": 1},
        )
    )
    before = api.requested_instances()

    unknown = error_of(api.call("POST", "/cycles/2025-11/resume", json_body={"reason": "x"}), 404)
    running = error_of(api.call("POST", "/cycles/2026-01/resume", json_body={"reason": "x"}), 409)
    orphan = error_of(api.call("POST", "/cycles/2025-12/resume", json_body={"reason": "x"}), 409)
    no_reason = error_of(api.call("POST", "/cycles/2026-01/resume", json_body={}), 400)
    blank = error_of(api.call("POST", "/cycles/2026-01/resume", json_body={"reason": " "}), 400)
    bad_cycle = error_of(api.call("POST", "/cycles/2026-1/resume", json_body={"reason": "x"}), 400)

    assert unknown["code"] == "NotFound"
    assert running["code"] == "CycleNotHalted"
    assert "running, not halted" in running["message"]
    assert "orchestration" in orphan["message"]
    assert no_reason["field"] == blank["field"] == "reason"
    assert bad_cycle["field"] == "cycle"
    assert api.requested_instances() == before


# ----- GET /report -----


def test_the_report_is_one_self_contained_html_page_of_the_fleet(api: ServedApi) -> None:
    answer = api.call("GET", "/report")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert page.lstrip().lower().startswith("<!doctype html")
    assert SUB in page and OTHER_SUB in page
    assert "<script src=" not in page and "<link " not in page  # nothing fetched


# ----- POST /assessments -----


def test_an_assessment_starts_the_round_over_the_scope_with_status_urls(api: ServedApi) -> None:
    other = QUIET[0].parts
    group = f"/subscriptions/{OTHER_SUB}/resourceGroups/{other.resource_group.upper()}"
    scope = [OTHER_SUB, group, QUIET[1].id]
    answer = api.call("POST", "/assessments", json_body={"scope": scope})

    assert answer.status_code == 202
    links = answer.json()
    assert answer.headers["location"] == links["statusQueryGetUri"]
    status = api.session.get(links["statusQueryGetUri"], timeout=30)  # the link has the key
    assert status.status_code == 202
    assert status.json()["name"] == "assessment_round"
    assert status.json()["input"] == {
        "scope": sorted(
            [
                OTHER_SUB,
                f"/subscriptions/{OTHER_SUB}/resourceGroups/{other.resource_group.lower()}",
                QUIET[1].id.lower(),
            ]
        )
    }
    assert api.instances()[links["id"]]["name"] == "assessment_round"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "scope"),
        ({"scope": []}, "scope"),
        ({"scope": SUB}, "scope"),
        ({"scope": [SUB, 7]}, "scope[1]"),
        ({"scope": [SUB, "not-an-id"]}, "scope[1]"),
        (
            {
                "scope": [
                    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a b"
                ]
            },
            "scope[0]",
        ),
        ({"scope": [SUB], "extra": True}, "extra"),
        ([SUB], "body"),
    ],
)
def test_a_bad_assessment_body_is_refused_by_field_and_starts_nothing(
    api: ServedApi, body: Any, field: str
) -> None:
    before = api.requested_instances()
    error = error_of(api.call("POST", "/assessments", json_body=body), 400)

    assert error["field"] == field
    assert field in error["message"]
    assert api.requested_instances() == before


def test_a_body_that_is_not_json_is_refused(api: ServedApi) -> None:
    before = api.requested_instances()
    error = error_of(api.call("POST", "/assessments", data=b"{scope: [}"), 400)
    empty = error_of(api.call("POST", "/installations", data=b""), 400)

    assert (error["code"], error["field"]) == ("InvalidJson", "body")
    assert empty["code"] == "InvalidJson"
    assert api.requested_instances() == before


def test_an_assessment_outside_the_managed_subscriptions_is_forbidden(api: ServedApi) -> None:
    before = api.requested_instances()
    error = error_of(api.call("POST", "/assessments", json_body={"scope": [SUB, FOREIGN_SUB]}), 403)

    assert (error["code"], error["field"]) == ("SubscriptionNotManaged", "scope[1]")
    assert FOREIGN_SUB in error["message"]
    assert api.requested_instances() == before


# ----- POST /installations -----


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"vms": [QUIET[0].id, "/subscriptions/x/resourceGroups/y"]}, 400, "vms[1]"),
        ({"vms": [QUIET[0].id, QUIET[0].id.upper()]}, 400, "vms[1]"),
        ({"vms": []}, 400, "vms"),
        ({"vms": None}, 400, "vms"),
        ({"classifications": ["Critical", "Urgent"]}, 400, "classifications[1]"),
        ({"kbNumbersToInclude": ["KB5048654"]}, 400, "kbNumbersToInclude[0]"),
        ({"kbNumbersToExclude": "5040000"}, 400, "kbNumbersToExclude"),
        ({"kbNumbersToExclude": [5040000]}, 400, "kbNumbersToExclude[0]"),
        ({"rebootSetting": "Sometimes"}, 400, "rebootSetting"),
        ({"maximumDuration": "PT5H"}, 400, "maximumDuration"),
        ({"maximumDuration": "PT20M"}, 400, "maximumDuration"),
        ({"maximumDuration": "two hours"}, 400, "maximumDuration"),
        ({"maximumDuration": "P1D"}, 400, "maximumDuration"),
        ({"reboot": "Never"}, 400, "reboot"),
        ({"vms": [QUIET[0].id, foreign_vm_id()]}, 403, "vms[1]"),
        ({"vms": [QUIET[0].id, QUIET[0].id.replace("vm-", "gone-")]}, 404, "vms[1]"),
    ],
)
def test_a_bad_installation_is_refused_by_field_and_installs_nothing(
    api: ServedApi, change: dict[str, Any], status: int, field: str
) -> None:
    before = api.requested_instances()
    answer = api.call("POST", "/installations", json_body={**REFUSED_INSTALL, **change})
    error = error_of(answer, status)

    assert error["field"] == field
    assert field in error["message"]
    assert api.requested_instances() == before
    assert nothing_reached_the_quiet_vms(api)


def test_an_installation_starts_ondemand_install_with_the_checked_request(api: ServedApi) -> None:
    answer = api.call("POST", "/installations", json_body=INSTALL)

    assert answer.status_code == 202
    started = api.instances()[answer.json()["id"]]
    assert started["name"] == "ondemand_install"
    assert started["input"] == {**INSTALL, "maximumDuration": "PT1H30M"}
    assert nothing_reached_the_quiet_vms(api)


def test_an_installation_fills_the_contract_s_defaults(api: ServedApi) -> None:
    answer = api.call("POST", "/installations", json_body={"vms": [LIN.id]})

    assert answer.status_code == 202
    assert api.instances()[answer.json()["id"]]["input"] == {
        "vms": [LIN.id],
        "classifications": ["Critical", "Security"],
        "kbNumbersToInclude": [],
        "kbNumbersToExclude": [],
        "rebootSetting": "IfRequired",
        "maximumDuration": "PT2H0M",
    }


# ----- POST /hotpatch -----


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"vms": [QUIET[1].id], "enableHotpatching": True}, 409, "vms[0]"),  # Linux
        ({"vms": [QUIET[0].id, QUIET[0].id.upper()], "enableHotpatching": False}, 400, "vms[1]"),
        ({"vms": [QUIET[0].id]}, 400, "enableHotpatching"),
        ({"vms": [QUIET[0].id], "enableHotpatching": 1}, 400, "enableHotpatching"),
        ({"vms": [QUIET[0].id], "enableHotpatching": True, "reboot": 0}, 400, "reboot"),
        ({"vms": [QUIET[0].id, foreign_vm_id()], "enableHotpatching": False}, 403, "vms[1]"),
        (
            {"vms": [QUIET[0].id.replace("vm-", "gone-")], "enableHotpatching": False},
            404,
            "vms[0]",
        ),
    ],
)
def test_a_bad_hotpatch_change_is_refused_by_field_and_starts_nothing(
    api: ServedApi, body: dict[str, Any], status: int, field: str
) -> None:
    before = api.requested_instances()
    error = error_of(api.call("POST", "/hotpatch", json_body=body), status)

    assert error["field"] == field
    assert field in error["message"]
    assert api.requested_instances() == before


def test_turning_hotpatch_off_leaves_a_linux_vm_out(api: ServedApi) -> None:
    answer = api.call("POST", "/hotpatch", json_body={"vms": [LIN.id], "enableHotpatching": False})

    assert answer.status_code == 202
    started = api.instances()[answer.json()["id"]]
    assert started["name"] == "ondemand_hotpatch"
    assert started["input"] == {"vms": [], "enableHotpatching": False, "notWindows": 1}
