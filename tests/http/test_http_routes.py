"""Every route of docs/CONTRACTS.md section 5 through the local host with a real HTTP
client: its answer, and its refusals (401 without the key, 400 naming the field, 403
outside the managed subscriptions, 404, 409), a refused request starting nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from azure_io.patch_results import AssessmentResult, InstallResult
from azure_io.table_rows import ComplianceRecord, CycleRecord
from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.planfile import plan_to_json
from patching.planner import PlanningPolicy, plan_cycle
from tests.http.api_support import (
    FOREIGN_SUB,
    OTHER_SUB,
    SUB,
    Api,
    api_host,
    small_fleet,
    vm_id,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FLEET = small_fleet()
LIN = vm_id("lin-01")
WIN = vm_id("win-01")
INSTALL = {
    "vms": [WIN, LIN],
    "classifications": ["Critical", "Security", "UpdateRollUp"],
    "kbNumbersToInclude": ["5048654"],
    "kbNumbersToExclude": ["5040000"],
    "rebootSetting": "Never",
    "maximumDuration": "PT1H30M",
}
ROUTES = [
    ("POST", "/assessments"),
    ("POST", "/installations"),
    ("GET", f"/vms/{SUB}/rg-app/lin-01"),
    ("GET", "/compliance"),
    ("GET", "/history"),
    ("GET", "/plan"),
    ("POST", "/cycles/2026-03/resume"),
    ("GET", "/report"),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_host(FLEET, START, tmp_path_factory.mktemp("routes")) as running:
        running.discover_all()
        _record_lin_01(running)
        yield running


def _record_lin_01(api: Api) -> None:
    at = START - timedelta(days=2)
    api.store.record_assessments(
        [AssessmentResult(LIN, "Succeeded", at, False, 2, 1)], recorded_at=at
    )
    installed = at + timedelta(hours=1)
    api.store.record_installs(
        [InstallResult(LIN, "Succeeded", installed, "NotNeeded", False, 3, 0, 0, 0, 0)],
        cycle="2026-02",
        recorded_at=installed,
    )
    api.store.record_compliance(
        [ComplianceRecord(LIN, "compliant", "installed", True, False, installed, "2026-02")]
    )


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_function_key(api: Api, method: str, path: str) -> None:
    before = set(api.instances())
    missing = api.call(method, path, json_body={"scope": [SUB]}, key=None)
    wrong = api.call(method, path, json_body={"scope": [SUB]}, key="not-the-key")

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert set(api.instances()) == before


# ----- POST /assessments -----


def test_an_assessment_starts_the_round_over_the_scope_with_status_urls(api: Api) -> None:
    scope = [
        SUB,
        f"/subscriptions/{OTHER_SUB}/resourceGroups/RG-App",
        vm_id("lin-03", subscription=OTHER_SUB),
    ]
    answer = api.call("POST", "/assessments", json_body={"scope": scope})

    assert answer.status_code == 202
    links = answer.json()
    assert answer.headers["location"] == links["statusQueryGetUri"]
    status = api.session.get(links["statusQueryGetUri"], timeout=30)
    assert status.status_code == 202
    assert status.json()["name"] == "assessment_round"
    assert status.json()["input"] == {
        "scope": sorted(
            [
                SUB,
                f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-app",
                vm_id("lin-03", subscription=OTHER_SUB).lower(),
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
    api: Api, body: Any, field: str
) -> None:
    before = set(api.instances())
    error = error_of(api.call("POST", "/assessments", json_body=body), 400)

    assert error["field"] == field
    assert field in error["message"]
    assert set(api.instances()) == before


def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    before = set(api.instances())
    error = error_of(api.call("POST", "/assessments", data=b"{scope: [}"), 400)
    empty = error_of(api.call("POST", "/installations", data=b""), 400)

    assert (error["code"], error["field"]) == ("InvalidJson", "body")
    assert empty["code"] == "InvalidJson"
    assert set(api.instances()) == before


def test_an_assessment_outside_the_managed_subscriptions_is_forbidden(api: Api) -> None:
    before = set(api.instances())
    error = error_of(api.call("POST", "/assessments", json_body={"scope": [SUB, FOREIGN_SUB]}), 403)

    assert (error["code"], error["field"]) == ("SubscriptionNotManaged", "scope[1]")
    assert FOREIGN_SUB in error["message"]
    assert set(api.instances()) == before


# ----- POST /installations -----


def test_an_installation_starts_ondemand_install_with_the_checked_request(api: Api) -> None:
    answer = api.call("POST", "/installations", json_body=INSTALL)

    assert answer.status_code == 202
    started = api.instances()[answer.json()["id"]]
    assert started["name"] == "ondemand_install"
    assert started["input"] == {**INSTALL, "maximumDuration": "PT1H30M"}


def test_an_installation_fills_the_contract_s_defaults(api: Api) -> None:
    answer = api.call("POST", "/installations", json_body={"vms": [LIN]})

    assert answer.status_code == 202
    assert api.instances()[answer.json()["id"]]["input"] == {
        "vms": [LIN],
        "classifications": ["Critical", "Security"],
        "kbNumbersToInclude": [],
        "kbNumbersToExclude": [],
        "rebootSetting": "IfRequired",
        "maximumDuration": "PT2H0M",
    }


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"vms": [WIN, "/subscriptions/x/resourceGroups/y"]}, 400, "vms[1]"),
        ({"vms": [WIN, WIN.upper()]}, 400, "vms[1]"),
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
        ({"vms": [WIN, vm_id("win-09", subscription=FOREIGN_SUB)]}, 403, "vms[1]"),
        ({"vms": [WIN, vm_id("nowhere-01")]}, 404, "vms[1]"),
    ],
)
def test_a_bad_installation_is_refused_by_field_and_installs_nothing(
    api: Api, change: dict[str, Any], status: int, field: str
) -> None:
    before = set(api.instances())
    error = error_of(api.call("POST", "/installations", json_body={**INSTALL, **change}), status)

    assert error["field"] == field
    assert field in error["message"]
    assert set(api.instances()) == before
    assert not [line for line in api.operations_log() if line.get("op") == "installPatches"]


# ----- GET /vms/{subscriptionId}/{resourceGroup}/{vmName} -----


def test_a_vm_s_view_has_its_latest_assessment_install_and_compliance(api: Api) -> None:
    # ARM ids compare case-insensitively.
    answer = api.call("GET", f"/vms/{SUB.upper()}/RG-APP/LIN-01")

    assert answer.status_code == 200
    view = answer.json()
    assert view["vmId"].lower() == LIN.lower()
    assert view["latestAssessment"]["criticalAndSecurityPatchCount"] == 2
    assert view["latestAssessment"]["startedAt"] == "2026-02-28T09:00:00Z"
    assert view["latestInstall"]["installedPatchCount"] == 3
    assert view["installCycle"] == "2026-02"
    assert view["compliance"]["state"] == "compliant"


def test_a_discovered_vm_with_nothing_recorded_has_an_empty_view(api: Api) -> None:
    answer = api.call("GET", f"/vms/{SUB}/rg-app/win-01")

    assert answer.status_code == 200
    assert answer.json() == {
        "vmId": WIN,
        "latestAssessment": None,
        "latestInstall": None,
        "installCycle": None,
        "compliance": None,
    }


def test_a_vm_view_refuses_unknown_foreign_and_malformed_vms(api: Api) -> None:
    unknown = error_of(api.call("GET", f"/vms/{SUB}/rg-app/nowhere"), 404)
    foreign = error_of(api.call("GET", f"/vms/{FOREIGN_SUB}/rg-app/lin-01"), 403)
    malformed = error_of(api.call("GET", f"/vms/{SUB}/rg-app/lin%2001"), 400)

    assert unknown["code"] == "NotFound"
    assert foreign["field"] == "subscriptionId"
    assert malformed["field"] == "vmName"


# ----- GET /compliance -----


def test_compliance_counts_every_managed_subscription_by_state(api: Api) -> None:
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


def test_compliance_refuses_a_foreign_or_malformed_subscription(api: Api) -> None:
    foreign = error_of(api.call("GET", "/compliance", params={"subscription": FOREIGN_SUB}), 403)
    malformed = error_of(api.call("GET", "/compliance", params={"subscription": "abc"}), 400)

    assert foreign["field"] == malformed["field"] == "subscription"


# ----- GET /history -----


def test_history_lists_assessments_and_installs_newest_first(api: Api) -> None:
    answer = api.call("GET", "/history", params={"vm": LIN.upper(), "days": "30"})
    recent = api.call("GET", "/history", params={"vm": LIN, "days": "1"})

    assert answer.status_code == 200
    entries = answer.json()["entries"]
    assert [(e["kind"], e["at"]) for e in entries] == [
        ("install", "2026-02-28T10:00:00Z"),
        ("assessment", "2026-02-28T09:00:00Z"),
    ]
    assert entries[0]["cycle"] == "2026-02"
    assert entries[0]["install"]["status"] == "Succeeded"
    assert recent.json()["entries"] == []
    assert recent.json()["days"] == 1


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"vm": LIN, "days": "31"}, 400, "days"),
        ({"vm": LIN, "days": "0"}, 400, "days"),
        ({"vm": LIN, "days": "a week"}, 400, "days"),
        ({"days": "3"}, 400, "vm"),
        ({"vm": "lin-01"}, 400, "vm"),
        ({"vm": vm_id("lin-01", subscription=FOREIGN_SUB)}, 403, "vm"),
        ({"vm": vm_id("nowhere")}, 404, "vm"),
    ],
)
def test_history_refuses_bad_queries_by_field(
    api: Api, params: dict[str, str], status: int, field: str
) -> None:
    assert error_of(api.call("GET", "/history", params=params), status)["field"] == field


# ----- GET /plan -----


def test_the_plan_preview_is_the_planner_s_plan_of_the_current_fleet(api: Api) -> None:
    answer = api.call("GET", "/plan", params={"cycle": "2026-03"})

    # What `patchctl plan` writes for the fleet file, the app's clock being before the release;
    # the inventory lists VMs by subscription, group and name, which breaks the planner's ties.
    in_inventory_order = {**FLEET, "vms": sorted(FLEET["vms"], key=lambda vm: vm["id"].lower())}
    expected = plan_cycle(
        parse_fleet(in_inventory_order), make_cycle("2026-03"), now=START, policy=PlanningPolicy()
    )
    assert answer.status_code == 200
    assert answer.json() == plan_to_json(expected)
    assert answer.json()["skipped"] == [
        {"vm": vm_id("manual-01"), "reason": answer.json()["skipped"][0]["reason"]}
    ]


def test_the_plan_preview_follows_the_cycle_s_recorded_release(api: Api) -> None:
    released = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
    api.store.save_cycle(
        CycleRecord(
            "2026-03-baseline",
            "unplannedBaseline",
            released,
            released + timedelta(days=30),
            "running",
            START,
            "oob-7",
        )
    )
    answer = api.call("GET", "/plan", params={"cycle": "2026-03-baseline"})

    assert answer.status_code == 200
    assert answer.json()["release"] == {
        "kind": "unplannedBaseline",
        "releasedAt": "2026-03-20T08:00:00Z",
        "releaseId": "oob-7",
    }


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"cycle": "2026-13"}, 400),
        ({"cycle": "March"}, 400),
        ({"cycle": "2026-04-baseline"}, 404),
    ],
)
def test_the_plan_preview_refuses_a_cycle_that_is_not_one(
    api: Api, params: dict[str, str], status: int
) -> None:
    error = error_of(api.call("GET", "/plan", params=params), status)
    assert status == 404 or error["field"] == "cycle"


# ----- POST /cycles/{cycle}/resume -----


def test_resume_refuses_an_unknown_cycle_a_running_one_and_bad_input(api: Api) -> None:
    released = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)
    api.store.save_cycle(
        CycleRecord(
            "2026-01", "plannedBaseline", released, released + timedelta(days=30), "running", START
        )
    )
    api.store.save_cycle(
        CycleRecord(
            "2025-12", "hotpatch", released, released, "halted", START, plan_summary={"halts": 1}
        )
    )
    before = set(api.instances())

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
    assert set(api.instances()) == before
