"""`patchctl export-fleet` against the fleet simulator over HTTPS, as against ARM.

The simulator serves a generated fleet; the export reads it through the app's own compute
adapter with the settings a deployment would have (PATCH_ARM_ENDPOINT, PATCH_ARM_CA_BUNDLE,
PATCH_ARM_CREDENTIAL). What comes back must plan exactly like the original, and serving
the export again must give the same file back. Failures write nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachineUpdate

from fleetsim import RunningSimulator, ScaledClock, start_simulator
from patchctl.cli import main
from patchctl.fleetgen import generate_fleet
from patching.calendar import make_cycle
from patching.fleet import parse_fleet
from patching.models import ReleaseKind, VmTarget
from patching.planfile import plan_to_json
from patching.planner import plan_cycle
from patching.resource_ids import VmId

UNKNOWN_SUBSCRIPTION = "99999999-9999-4999-8999-999999999999"


def in_export_order(document: dict[str, Any]) -> dict[str, Any]:
    """The same fleet with its VMs in the order the export writes them (by subscription as
    listed, then by id): the planner breaks ties between equal slots by the fleet's order,
    so only fleets in one order can be asked for the very same plan."""
    subscriptions = [s["id"].lower() for s in document["subscriptions"]]

    def key(vm: dict[str, Any]) -> tuple[int, str]:
        ref = VmId.parse(vm["id"])
        return subscriptions.index(ref.subscription_id.lower()), ref.key

    return {**document, "vms": sorted(document["vms"], key=key)}


# Two of the generator's kinds of fleet: paired regions with sets, zones, hotpatch VMs,
# tagged windows and Windows time zones, over two and three subscriptions.
ORIGINAL = in_export_order(generate_fleet(12, seed=21))
LARGER = in_export_order(generate_fleet(120, seed=5, subscription_count=3))


def subscriptions_of(document: dict[str, Any]) -> list[str]:
    return [s["id"] for s in document["subscriptions"]]


@pytest.fixture
def serve_arm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Serves a fleet over HTTPS and points the settings at it, as a deployment's would be."""
    started: list[RunningSimulator] = []

    def serve(document: dict[str, Any]) -> RunningSimulator:
        sim = start_simulator(document, clock=ScaledClock(1.0))
        started.append(sim)
        monkeypatch.setenv("PATCH_ARM_ENDPOINT", sim.base_url)
        monkeypatch.setenv("PATCH_ARM_CA_BUNDLE", str(sim.ca_path))
        monkeypatch.setenv("PATCH_ARM_CREDENTIAL", "static")
        monkeypatch.setenv("PATCH_ARM_RETRY_ATTEMPTS", "0")
        return sim

    yield serve
    for sim in started:
        sim.stop()


def export(out: Path, subscriptions: list[str]) -> int:
    flags = [flag for sub in subscriptions for flag in ("--subscription", sub)]
    return main(["export-fleet", *flags, "--out", str(out)])


def plans(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan of a hotpatch month and of a baseline month (reboots, other slots)."""
    fleet = parse_fleet(document)
    return [
        plan_to_json(plan_cycle(fleet, make_cycle(cycle, kind=kind)))
        for cycle, kind in (("2026-12", ReleaseKind.HOTPATCH), ("2027-01", None))
    ]


def planner_view(vm: VmTarget) -> tuple[Any, ...]:
    """Every field of a VM the planner reads (the update domain only counts in a set)."""
    return (
        vm.id,
        vm.region,
        vm.os_type,
        vm.patch_mode,
        vm.zone,
        vm.availability_set,
        vm.update_domain if vm.availability_set else None,
        vm.enable_hotpatching,
        vm.image_sku,
        vm.time_zone,
        vm.power_state,
        dict(vm.tags),
        vm.expected_install_minutes,
    )


@pytest.mark.parametrize("original", [ORIGINAL, LARGER], ids=["12-vms", "120-vms"])
def test_an_exported_fleet_plans_as_the_original_and_exports_back_the_same(
    original: dict[str, Any],
    serve_arm: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    serve_arm(original)
    exported_path = tmp_path / "exported.json"

    assert export(exported_path, subscriptions_of(original)) == 0

    assert f"-> {exported_path}" in capsys.readouterr().out
    exported = json.loads(exported_path.read_text())
    assert plans(exported) == plans(original)
    assert sorted(map(planner_view, parse_fleet(exported).vms)) == sorted(
        map(planner_view, parse_fleet(original).vms)
    )
    assert exported["subscriptions"] == original["subscriptions"]  # display names from ARM
    assert {r["name"]: r["pairedRegion"] for r in exported["regions"]} == {
        r["name"]: r["pairedRegion"] for r in original["regions"]
    }

    # Re-imported into the simulator, the export gives itself back: nothing lost on the way.
    serve_arm(exported)
    again = tmp_path / "again.json"
    assert export(again, subscriptions_of(original)) == 0
    assert json.loads(again.read_text()) == exported


def test_the_pairs_written_are_the_ones_arm_gives_and_their_regions_are_listed(
    serve_arm: Any, tmp_path: Path
) -> None:
    subscription = "11111111-1111-4111-8111-111111111111"

    def vm(name: str, region: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{subscription}/resourceGroups/rg/providers/"
            f"Microsoft.Compute/virtualMachines/{name}",
            "location": region,
            "osType": "Linux",
            "patchMode": "AutomaticByPlatform",
            "availabilitySet": f"/subscriptions/{subscription}/resourceGroups/rg/providers/"
            f"Microsoft.Compute/availabilitySets/as-{region}",
            "updateDomain": 1,
        }

    original = {
        "version": 1,
        "subscriptions": [{"id": subscription}],
        # A private pair the built-in table lacks, and a public region paired otherwise.
        "regions": [
            {"name": "lab-1", "pairedRegion": "lab-2", "timeZone": "UTC"},
            {"name": "lab-2", "pairedRegion": "lab-1", "timeZone": "UTC"},
            {"name": "eastus", "pairedRegion": "lab-1", "timeZone": "America/New_York"},
        ],
        "vms": [vm("a-01", "lab-1"), vm("b-01", "eastus")],
    }
    serve_arm(original)
    out = tmp_path / "fleet.json"

    assert export(out, [subscription]) == 0

    exported = json.loads(out.read_text())
    assert exported["regions"] == [
        {"name": "eastus", "pairedRegion": "lab-1", "timeZone": "America/New_York"},
        {"name": "lab-1", "pairedRegion": "lab-2", "timeZone": "UTC"},
        # Named only as a pair: listed, so the file describes every region it names.
        {"name": "lab-2", "pairedRegion": "lab-1", "timeZone": "UTC"},
    ]
    assert [v["updateDomain"] for v in exported["vms"]] == [1, 1]
    assert plans(exported) == plans(original)


def assert_refused(
    capsys: pytest.CaptureFixture[str], code: int, status: int, *mentions: str
) -> None:
    captured = capsys.readouterr()
    assert code == status, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    for mention in mentions:
        assert mention in lines[0]


def assert_nothing_written(folder: Path, before: set[str]) -> None:
    assert {p.name for p in folder.iterdir()} == before  # no file, no temporary file


@pytest.mark.parametrize(
    ("flags", "mentions"),
    [
        (["--subscription", "not-a-guid"], ["--subscription", "not-a-guid"]),
        (["--subscription", "{" + "1" * 8 + "-1111-1111-1111-" + "1" * 12 + "}"], ["8-4-4-4-12"]),
        ([], ["--subscription"]),
    ],
    ids=["not-a-guid", "braced-guid", "none"],
)
def test_bad_flags_are_refused_before_arm_is_asked(
    flags: list[str],
    mentions: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["export-fleet", *flags, "--out", str(tmp_path / "fleet.json")])

    assert_refused(capsys, code, 2, *mentions)
    assert_nothing_written(tmp_path, set())


def test_an_out_that_is_a_directory_or_read_only_is_refused_and_kept(
    serve_arm: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = serve_arm(ORIGINAL)
    folder = tmp_path / "fleet.json"
    folder.mkdir()
    read_only = tmp_path / "kept.json"
    read_only.write_text("{}")
    read_only.chmod(0o444)
    before = {p.name for p in tmp_path.iterdir()}
    requests = sim.state.requests

    assert_refused(capsys, export(folder, subscriptions_of(ORIGINAL)), 2, "--out", "directory")
    if os.geteuid() != 0:  # root may write anything
        assert_refused(capsys, export(read_only, subscriptions_of(ORIGINAL)), 2, "read-only")

    assert_nothing_written(tmp_path, before)
    assert read_only.read_text() == "{}"
    assert sim.state.requests == requests  # refused before ARM was asked anything


def test_an_arm_failure_writes_nothing_and_keeps_an_existing_file(
    serve_arm: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_arm(ORIGINAL)
    out = tmp_path / "fleet.json"
    out.write_text("the previous export\n")

    code = export(out, [*subscriptions_of(ORIGINAL), UNKNOWN_SUBSCRIPTION])

    # Not bad input: ARM failed (here it knows no such subscription), exit 1.
    assert_refused(capsys, code, 1, "cannot read the fleet from ARM", UNKNOWN_SUBSCRIPTION)
    assert out.read_text() == "the previous export\n"
    assert_nothing_written(tmp_path, {"fleet.json"})


def test_an_unreachable_arm_is_one_line_and_nothing_written(
    serve_arm: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = serve_arm(ORIGINAL)
    ca = tmp_path.parent / "ca.pem"  # kept: stopping removes the simulator's own copy
    ca.write_bytes(Path(sim.ca_path).read_bytes())
    monkeypatch.setenv("PATCH_ARM_CA_BUNDLE", str(ca))
    sim.stop()  # the endpoint the settings name no longer answers

    code = export(tmp_path / "fleet.json", subscriptions_of(ORIGINAL))

    assert_refused(capsys, code, 1, "cannot read the fleet from ARM", sim.base_url)
    assert_nothing_written(tmp_path, set())


def test_a_bad_setting_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATCH_ARM_ENDPOINT", "http://127.0.0.1:1")  # not https

    code = export(tmp_path / "fleet.json", subscriptions_of(ORIGINAL))

    assert_refused(capsys, code, 2, "PATCH_ARM_ENDPOINT")
    assert_nothing_written(tmp_path, set())


def test_arm_answers_no_fleet_file_can_hold_are_refused_naming_the_vm(
    serve_arm: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = serve_arm(ORIGINAL)
    vm_id = ORIGINAL["vms"][3]["id"]
    ref = VmId.parse(vm_id)
    # A tag ARM takes (it checks no tag's meaning) but no fleet file, nor the planner, does.
    with ComputeManagementClient(
        sim.credential,
        ref.subscription_id,
        base_url=sim.base_url,
        connection_verify=str(sim.ca_path),
    ) as compute:
        compute.virtual_machines.begin_update(
            ref.resource_group,
            ref.name,
            VirtualMachineUpdate(tags={"patchWindow": "25:00-26:00"}),
            polling_interval=0,
        ).result()

    code = export(tmp_path / "fleet.json", subscriptions_of(ORIGINAL))

    assert_refused(capsys, code, 1, "patchWindow", vm_id)
    assert_nothing_written(tmp_path, set())
