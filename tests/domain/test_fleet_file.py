"""The fleet file (docs/CONTRACTS.md section 2): the example parses, bad input names its field."""

import copy
import json
import shutil
from pathlib import Path

import pytest

from patching.fleet import Fleet, FleetError, parse_fleet
from patching.models import OsType, PatchMode, PowerState
from patching.regions import BUILTIN_REGIONS, RegionInfo
from patching.windows import OffPeakWindow

EXAMPLE = Path(__file__).parent / "data" / "fleet-small.json"
SUB = "00000001-0000-4000-8000-000000000001"
OTHER_SUB = "00000002-0000-4000-8000-000000000002"


def vm_id(name: str, subscription: str = SUB) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/rg-app/providers/"
        f"Microsoft.Compute/virtualMachines/{name}"
    )


def set_id(name: str, subscription: str = SUB) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/rg-app/providers/"
        f"Microsoft.Compute/availabilitySets/{name}"
    )


def raw_vm(name: str = "vm-1", **fields) -> dict:
    return {
        "id": vm_id(name),
        "location": "eastus",
        "osType": "Windows",
        "patchMode": "AutomaticByPlatform",
        **fields,
    }


def document(*vms: dict, **top) -> dict:
    return {"version": 1, "vms": list(vms) or [raw_vm()], **top}


def refused(doc) -> str:
    with pytest.raises(FleetError) as caught:
        parse_fleet(doc)
    return str(caught.value)


@pytest.fixture
def example(tmp_path) -> dict:
    copied = tmp_path / "fleet.json"
    shutil.copyfile(EXAMPLE, copied)
    return json.loads(copied.read_text(encoding="utf-8"))


def test_the_example_fleet_parses(example):
    fleet = parse_fleet(example)
    assert isinstance(fleet, Fleet)
    assert len(fleet.vms) == len(example["vms"]) == 33
    assert {vm.key for vm in fleet.vms} == {raw["id"].lower() for raw in example["vms"]}
    assert {vm.region for vm in fleet.vms} == {"eastus", "westus", "northeurope", "westeurope"}
    assert fleet.subscription_names == {SUB: "prod", OTHER_SUB: "test"}
    assert sum(vm.patch_mode is not PatchMode.AUTOMATIC_BY_PLATFORM for vm in fleet.vms) == 2
    first = fleet.vms[0]
    assert first.os_type is OsType.WINDOWS
    assert first.enable_hotpatching is True
    assert first.time_zone == "Eastern Standard Time"
    assert first.update_domain == 0
    assert first.availability_set_key == example["vms"][0]["availabilitySet"].lower()


def test_parsed_fields_and_defaults():
    fleet = parse_fleet(
        document(
            raw_vm(
                "full",
                location="East US",
                zone="2",
                powerState="deallocated",
                enableHotpatching=True,
                imageSku="sku",
                timeZone="GMT Standard Time",
                availabilitySet=set_id("as"),
                updateDomain=3,
                faultDomain=1,
                tags={"patchWindow": "01:00-05:00", "timeZone": "Asia/Kolkata"},
            ),
            raw_vm("bare", osType="Linux", patchMode="Manual"),
        )
    )
    full, bare = fleet.vms
    assert (full.region, full.zone, full.power_state) == ("eastus", "2", PowerState.DEALLOCATED)
    assert (full.update_domain, full.fault_domain, full.image_sku) == (3, 1, "sku")
    assert full.enable_hotpatching and full.time_zone == "GMT Standard Time"
    assert fleet.window_tag(full) == OffPeakWindow.parse("01:00-05:00")
    assert (bare.os_type, bare.patch_mode) == (OsType.LINUX, PatchMode.MANUAL)
    assert (bare.zone, bare.availability_set, bare.update_domain) == (None, None, None)
    assert bare.power_state is PowerState.RUNNING and not bare.enable_hotpatching
    assert fleet.window_tag(bare) is None
    assert fleet.regions["eastus"] == BUILTIN_REGIONS["eastus"]


def test_the_fleets_regions_override_builtin_pairs_and_zones():
    fleet = parse_fleet(
        document(
            raw_vm("a"),
            raw_vm("b", location="onprem"),
            regions=[
                {"name": "East US", "pairedRegion": "Central US", "timeZone": "Asia/Tokyo"},
                {"name": "onprem"},
                {"name": "westus", "pairedRegion": None},
            ],
        )
    )
    assert fleet.regions["eastus"] == RegionInfo("eastus", "centralus", "Asia/Tokyo")
    assert fleet.regions["onprem"] == RegionInfo("onprem", None, "UTC")
    # a listed region without a timeZone keeps its built-in one
    assert fleet.regions["westus"] == RegionInfo("westus", None, "America/Los_Angeles")
    assert fleet.vms[1].region == "onprem"


@pytest.mark.parametrize(
    ("mutate", "names"),
    [
        (lambda d: d.update(version=2), ["version"]),
        (lambda d: d.update(version="1"), ["version"]),
        (lambda d: d.pop("version"), ["version"]),
        (lambda d: d.pop("vms"), ["vms"]),
        (lambda d: d.update(vms={}), ["vms"]),
        (lambda d: d["vms"][0].pop("id"), ["vms[0]", "id"]),
        (lambda d: d["vms"][0].pop("location"), ["vms[0]", "location"]),
        (lambda d: d["vms"][0].pop("osType"), ["vms[0]", "osType"]),
        (lambda d: d["vms"][0].pop("patchMode"), ["vms[0]", "patchMode"]),
        (lambda d: d["vms"][0].update(updateDomain="zero"), ["vms[0].updateDomain", "integer"]),
        (lambda d: d["vms"][0].update(updateDomain=True), ["vms[0].updateDomain", "integer"]),
        (lambda d: d["vms"][0].update(updateDomain=20), ["vms[0].updateDomain"]),
        (lambda d: d["vms"][0].update(enableHotpatching="yes"), ["vms[0].enableHotpatching"]),
        (lambda d: d["vms"][0].update(zone=1), ["vms[0].zone"]),
        (lambda d: d["vms"][0].update(osType="windows"), ["vms[0].osType"]),
        (lambda d: d["vms"][0].update(patchMode="Automatic"), ["vms[0].patchMode"]),
        (lambda d: d["vms"][0].update(powerState="on"), ["vms[0].powerState"]),
        (lambda d: d["vms"][0].update(id="vm-1"), ["vms[0].id"]),
        (lambda d: d["vms"][0].update(tags={"owner": 7}), ["vms[0].tags.owner"]),
        (lambda d: d["vms"][0].update(updateDomian=0), ["updateDomian", "misspelt"]),
        (lambda d: d["vms"][0].update(location="marsnorth"), ["vms[0].location", "marsnorth"]),
        (
            lambda d: d["vms"][0].update(tags={"patchWindow": "22:00-6:00"}),
            ["vms[0].tags.patchWindow", "HH:MM-HH:MM"],
        ),
        (
            lambda d: d["vms"][0].update(tags={"patchWindow": "06:00-06:00"}),
            ["vms[0].tags.patchWindow", "same time"],
        ),
        (
            lambda d: d["vms"][0].update(timeZone="Mars Standard Time"),
            ["vms[0].timeZone", "Mars Standard Time", "Windows time zone id"],
        ),
        (
            lambda d: d["vms"][0].update(tags={"timeZone": "Mars/Olympus"}),
            ["vms[0].tags.timeZone", "Mars/Olympus"],
        ),
        (
            lambda d: d["vms"][0].update(availabilitySet=set_id("as")),
            ["vms[0]", "updateDomain", "availabilitySet"],
        ),
        (
            lambda d: d.update(regions=[{"name": "eastus", "timeZone": "Mars/Olympus"}]),
            ["regions[0].timeZone", "Mars/Olympus"],
        ),
        (lambda d: d.update(regions=[{"pairedRegion": "westus"}]), ["regions[0]", "name"]),
        (lambda d: d.update(subscriptions=[{"displayName": "x"}]), ["subscriptions[0]", "id"]),
        (
            lambda d: d["vms"][0].update(sim={"installMinutes": 0}),
            ["vms[0].sim.installMinutes"],
        ),
        (
            lambda d: d["vms"][0].update(sim={"availablePatches": [{"classifications": []}]}),
            ["vms[0].sim.availablePatches[0]", "kbId or name"],
        ),
    ],
)
def test_bad_input_is_a_fleet_error_naming_the_field(mutate, names):
    doc = document()
    mutate(doc)
    message = refused(doc)
    for name in names:
        assert name in message


@pytest.mark.parametrize("not_an_object", [None, [], "fleet", 1])
def test_a_document_that_is_not_an_object_is_refused(not_an_object):
    assert "fleet" in refused(not_an_object)


def test_a_linux_package_needs_no_kb_id():
    patch = {"name": "openssl", "version": "3.0.13", "classifications": ["Security"]}
    vm = raw_vm(osType="Linux", sim={"availablePatches": [patch]})
    assert parse_fleet(document(vm)).vms[0].os_type.value == "Linux"


def test_duplicate_ids_are_refused_case_insensitively():
    first = raw_vm("web-01")
    again = dict(first, id=first["id"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    message = refused(document(first, raw_vm("web-02"), again))
    assert "vms[2].id" in message
    assert "vms[0]" in message


def test_an_availability_set_spanning_two_regions_is_refused():
    members = [
        raw_vm("a", availabilitySet=set_id("as"), updateDomain=0),
        raw_vm("b", availabilitySet=set_id("as").upper(), updateDomain=1, location="westus"),
    ]
    message = refused(document(*members))
    assert "vms[1].availabilitySet" in message
    assert "eastus" in message


def test_an_availability_set_spanning_two_subscriptions_is_refused():
    members = [
        raw_vm("a", availabilitySet=set_id("as"), updateDomain=0),
        dict(raw_vm("b", availabilitySet=set_id("as"), updateDomain=1), id=vm_id("b", OTHER_SUB)),
    ]
    assert "vms[1].availabilitySet" in refused(document(*members))


def test_one_set_in_one_region_is_accepted_whatever_the_case_of_its_id():
    members = [
        raw_vm("a", availabilitySet=set_id("as"), updateDomain=0),
        raw_vm("b", availabilitySet=set_id("as").lower(), updateDomain=1, location="East US"),
    ]
    fleet = parse_fleet(document(*members))
    assert len({vm.availability_set_key for vm in fleet.vms}) == 1


def test_the_input_document_is_not_modified(example):
    before = copy.deepcopy(example)
    parse_fleet(example)
    assert example == before
