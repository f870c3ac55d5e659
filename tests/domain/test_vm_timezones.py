"""Time zones: Windows ids through CLDR's table, IANA names, and which zone a VM lives in."""

from zoneinfo import ZoneInfo

import pytest

from patching.regions import BUILTIN_REGIONS, RegionInfo, merge_regions
from patching.timezones import UTC_ZONE, UnknownTimeZoneError, iana_zone, vm_zone, windows_zone


@pytest.mark.parametrize(
    ("windows_id", "iana"),
    [
        ("Pacific Standard Time", {"America/Los_Angeles"}),
        ("Eastern Standard Time", {"America/New_York"}),
        ("GMT Standard Time", {"Europe/London"}),
        ("W. Europe Standard Time", {"Europe/Berlin"}),
        ("India Standard Time", {"Asia/Calcutta", "Asia/Kolkata"}),
        ("Nepal Standard Time", {"Asia/Katmandu", "Asia/Kathmandu"}),
        ("Chatham Islands Standard Time", {"Pacific/Chatham"}),
        ("Tokyo Standard Time", {"Asia/Tokyo"}),
        ("UTC", {"Etc/UTC", "Etc/GMT", "UTC"}),
    ],
)
def test_windows_ids_map_to_iana_through_cldr(windows_id, iana):
    zone = windows_zone(windows_id)
    assert isinstance(zone, ZoneInfo)
    assert zone.key in iana


@pytest.mark.parametrize(
    "windows_id", ["Mars Standard Time", "pacific standard time", "America/Los_Angeles", ""]
)
def test_unknown_windows_ids_are_refused(windows_id):
    with pytest.raises(UnknownTimeZoneError, match="unknown Windows time zone id"):
        windows_zone(windows_id)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "PST"])
def test_unknown_iana_names_are_refused(name):
    with pytest.raises(UnknownTimeZoneError, match="unknown IANA time zone"):
        iana_zone(name)


def test_unknown_time_zone_error_is_a_value_error():
    assert issubclass(UnknownTimeZoneError, ValueError)


def test_iana_names_load():
    assert iana_zone("Asia/Kathmandu").key == "Asia/Kathmandu"


REGIONS = merge_regions([RegionInfo("customregion", None, "Pacific/Chatham")])


def test_vm_zone_prefers_the_windows_id():
    zone = vm_zone(
        windows_id="Tokyo Standard Time", tag_zone="Europe/London", region="eastus", regions=REGIONS
    )
    assert zone.key == "Asia/Tokyo"


def test_vm_zone_then_the_tag():
    zone = vm_zone(windows_id=None, tag_zone="Europe/London", region="eastus", regions=REGIONS)
    assert zone.key == "Europe/London"
    zone = vm_zone(windows_id="", tag_zone="Europe/London", region="eastus", regions=REGIONS)
    assert zone.key == "Europe/London"


def test_vm_zone_then_the_region():
    assert vm_zone(windows_id=None, tag_zone=None, region="eastus", regions=REGIONS).key == (
        BUILTIN_REGIONS["eastus"].time_zone
    )
    assert vm_zone(windows_id=None, tag_zone="", region="customregion", regions=REGIONS).key == (
        "Pacific/Chatham"
    )


def test_vm_zone_then_utc():
    assert vm_zone(windows_id=None, tag_zone=None, region="nowhere", regions=REGIONS) is UTC_ZONE


def test_vm_zone_refuses_an_unknown_windows_id_rather_than_falling_back():
    with pytest.raises(UnknownTimeZoneError):
        vm_zone(
            windows_id="Mars Standard Time",
            tag_zone="Europe/London",
            region="eastus",
            regions=REGIONS,
        )
