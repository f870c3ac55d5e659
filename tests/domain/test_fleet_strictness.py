"""The fleet file refuses what it cannot mean: misspelt fields at every level, regions that
pair with nothing real, ids and names with control characters, non-finite and absurd numbers.
Each refusal names the field and what was expected."""

import json
from pathlib import Path

import pytest
from test_fleet_file import SUB, document, raw_vm, refused, vm_id

from patching.errors import BadInput
from patching.fleet import MAX_PAGE_SIZE, MAX_SIM_MINUTES, FleetError, parse_fleet

ROOT = Path(__file__).resolve().parents[2]
VALID_FLEETS = sorted(
    [*ROOT.glob("examples/*.json"), ROOT / "tests" / "domain" / "data" / "fleet-small.json"]
)
SHARED_EXAMPLE = Path("/work/shared/examples/fleet-small.json")
if SHARED_EXAMPLE.is_file():
    VALID_FLEETS.append(SHARED_EXAMPLE)

PERIOD = {"from": "2026-12-09T00:00:00Z", "to": "2026-12-10T00:00:00Z"}
PATCH = {"kbId": "5048654", "classifications": ["Security"]}


@pytest.mark.parametrize("path", VALID_FLEETS, ids=lambda path: path.name)
def test_the_shipped_example_fleets_stay_valid(path):
    fleet = parse_fleet(json.loads(path.read_text(encoding="utf-8")))
    assert fleet.vms


def test_a_fleet_error_is_bad_input():
    with pytest.raises(BadInput):
        parse_fleet(document(raw_vm(), vmz=[]))
    assert issubclass(FleetError, BadInput)


@pytest.mark.parametrize(
    ("doc", "names"),
    [
        (document(vmz=[]), ["vmz", "misspelt"]),
        (document(subscriptions=[{"id": SUB, "name": "prod"}]), ["subscriptions[0]", "name"]),
        (document(regions=[{"name": "eastus", "timezone": "UTC"}]), ["regions[0]", "timezone"]),
        (document(regions=[{"name": "eastus", "pairRegion": "westus"}]), ["pairRegion"]),
        (document(sim={"pagesize": 2}), ["sim", "pagesize", "misspelt"]),
        (document(raw_vm(sim={"installMinute": 5})), ["vms[0].sim", "installMinute"]),
        (
            document(raw_vm(sim={"availablePatches": [dict(PATCH, reboot="Never")]})),
            ["vms[0].sim.availablePatches[0]", "reboot"],
        ),
        (
            document(raw_vm(sim={"offDuring": [dict(PERIOD, until="2026-12-11T00:00:00Z")]})),
            ["vms[0].sim.offDuring[0]", "until"],
        ),
    ],
)
def test_misspelt_fields_are_refused_at_every_level(doc, names):
    message = refused(doc)
    for name in names:
        assert name in message


@pytest.mark.parametrize(
    ("regions", "names"),
    [
        ([{"name": "eastus", "pairedRegion": "eastus"}], ["regions[0].pairedRegion", "itself"]),
        ([{"name": "East US", "pairedRegion": "eastus"}], ["regions[0].pairedRegion", "itself"]),
        (
            [{"name": "eastus", "pairedRegion": "marsnorth"}],
            ["regions[0].pairedRegion", "marsnorth"],
        ),
        (
            [{"name": "eastus"}, {"name": "westus"}, {"name": "East US", "timeZone": "UTC"}],
            ["regions[2].name", "regions[0]", "once"],
        ),
        ([{"name": ""}], ["regions[0].name", "region name"]),
        ([{"name": "   "}], ["regions[0].name", "region name"]),
        ([{"name": "east\tus"}], ["regions[0].name"]),
        ([{"name": "eastus", "pairedRegion": " "}], ["regions[0].pairedRegion"]),
    ],
)
def test_region_entries_must_name_real_distinct_regions(regions, names):
    message = refused(document(regions=regions))
    for name in names:
        assert name in message


def test_a_region_may_pair_with_a_region_listed_only_in_the_fleet():
    fleet = parse_fleet(
        document(
            raw_vm(location="onprem-a".replace("-", "")),
            regions=[
                {"name": "onpremA", "pairedRegion": "onpremB"},
                {"name": "onpremB", "pairedRegion": "onpremA"},
            ],
        )
    )
    assert fleet.regions["onprema"].paired_region == "onpremb"


@pytest.mark.parametrize(
    "bad_id",
    [
        vm_id("vm-1") + "\n",
        vm_id("vm-1") + "/",
        vm_id("vm-1\x00"),
        vm_id("vm-1\x85"),
        vm_id("vm 1"),
        vm_id("vm-1").replace("rg-app", ""),
    ],
)
def test_vm_ids_that_are_not_exactly_a_vm_id_are_refused(bad_id):
    message = refused(document(raw_vm(id=bad_id)))
    assert "vms[0].id" in message
    assert "a VM id" in message
    assert repr(bad_id) in message


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (document(raw_vm(availabilitySet="as\x00web", updateDomain=0)), "vms[0].availabilitySet"),
        (document(raw_vm(availabilitySet="   ", updateDomain=0)), "vms[0].availabilitySet"),
        (document(raw_vm(location="east\nus")), "vms[0].location"),
        (document(raw_vm(location="")), "vms[0].location"),
        (document(subscriptions=[{"id": f"{SUB}\n"}]), "subscriptions[0].id"),
        (document(subscriptions=[{"id": SUB, "displayName": "prod\x1b[2J"}]), "displayName"),
        (document(raw_vm(tags={"owner\x00": "x"})), "vms[0].tags"),
        (document(raw_vm(imageSku="2022\x7fdatacenter")), "vms[0].imageSku"),
        (document(raw_vm(timeZone="UTC\x00")), "vms[0].timeZone"),
    ],
)
def test_control_characters_in_identifiers_are_refused(doc, field):
    message = refused(doc)
    assert field in message
    assert "expected" in message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"updateDomain": NaN', "vms[0].updateDomain"),
        ('"faultDomain": Infinity', "vms[0].faultDomain"),
        ('"sim": {"installMinutes": -Infinity}', "vms[0].sim.installMinutes"),
        ('"sim": {"assessMinutes": NaN}', "vms[0].sim.assessMinutes"),
        ('"tags": {"weight": NaN}', "vms[0].tags.weight"),
        ('"extra": [1, NaN]', "vms[0].extra[1]"),
    ],
)
def test_non_finite_numbers_are_refused_wherever_they_are(text, field):
    base = json.dumps(raw_vm())
    doc = json.loads(f'{{"version": 1, "vms": [{base[:-1]}, {text}}}]}}')
    message = refused(doc)
    assert message.startswith(f"{field}:")
    assert "finite" in message


def test_non_finite_numbers_at_the_top_are_refused():
    doc = json.loads('{"version": 1, "vms": [], "sim": {"pageSize": NaN}}')
    assert refused(doc).startswith("sim.pageSize: nan is not a finite number")


@pytest.mark.parametrize(
    ("doc", "field", "bound"),
    [
        (
            document(raw_vm(sim={"installMinutes": 1e9})),
            "vms[0].sim.installMinutes",
            MAX_SIM_MINUTES,
        ),
        (
            document(raw_vm(sim={"assessMinutes": 10**6})),
            "vms[0].sim.assessMinutes",
            MAX_SIM_MINUTES,
        ),
        (document(sim={"pageSize": 10**9}), "sim.pageSize", MAX_PAGE_SIZE),
        (document(sim={"pageSize": 0}), "sim.pageSize", 1),
    ],
)
def test_absurd_simulator_numbers_are_refused(doc, field, bound):
    message = refused(doc)
    assert field in message
    assert str(bound) in message


def test_the_largest_sane_simulator_numbers_are_accepted():
    fleet = parse_fleet(
        document(
            raw_vm(sim={"installMinutes": MAX_SIM_MINUTES, "assessMinutes": MAX_SIM_MINUTES}),
            sim={"pageSize": MAX_PAGE_SIZE},
        )
    )
    assert len(fleet.vms) == 1


@pytest.mark.parametrize(
    ("sim", "field"),
    [
        (
            {"offDuring": [{"from": "0001-01-01T00:00:00Z", "to": "2026-12-10T00:00:00Z"}]},
            "offDuring[0].from",
        ),
        (
            {"offDuring": [{"from": "2026-12-09T00:00:00Z", "to": "9999-12-31T23:59:59Z"}]},
            "offDuring[0].to",
        ),
        (
            {"availablePatches": [dict(PATCH, publishedDate="1999-12-31T23:59:59Z")]},
            "availablePatches[0].publishedDate",
        ),
    ],
)
def test_simulator_times_outside_the_calendar_are_refused(sim, field):
    message = refused(document(raw_vm(sim=sim)))
    assert f"vms[0].sim.{field}" in message
    assert "2000 to 9998" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "bigger than or equal to 1"),
        (1441, "smaller than or equal to 1440"),
        ("40", "must be integer"),
        (True, "must be integer"),
        (12.5, "must be integer"),
        (None, "must be integer"),
    ],
)
def test_an_expected_install_duration_is_a_whole_number_of_minutes_up_to_a_day(value, expected):
    message = refused(document(raw_vm(expectedInstallMinutes=value)))
    assert message.startswith("vms[0].expectedInstallMinutes")
    assert expected in message


def test_an_expected_install_duration_reaches_the_target_as_an_int():
    vms = [
        raw_vm(expectedInstallMinutes=1),
        raw_vm("vm-2"),
        raw_vm("vm-3", expectedInstallMinutes=1440.0),
    ]
    fleet = parse_fleet(document(*vms))
    minutes = [vm.expected_install_minutes for vm in fleet.vms]
    assert minutes == [1, None, 1440]
    assert all(type(m) is int for m in minutes if m is not None)
