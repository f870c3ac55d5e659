"""The built-in region table, fleet overrides, and the pairing graph the phases obey."""

from zoneinfo import ZoneInfo

import pytest

from patching.models import normalize_region
from patching.regions import BUILTIN_REGIONS, RegionInfo, merge_regions, pair_graph


@pytest.mark.parametrize("name", sorted(BUILTIN_REGIONS))
def test_every_builtin_region_is_sound(name):
    info = BUILTIN_REGIONS[name]
    assert info.name == name == normalize_region(name)
    assert ZoneInfo(info.time_zone).key == info.time_zone
    if info.paired_region is not None:
        assert info.paired_region in BUILTIN_REGIONS
        assert info.paired_region != name


def test_well_known_pairs_and_zones():
    assert BUILTIN_REGIONS["eastus"].paired_region == "westus"
    assert BUILTIN_REGIONS["westus"].paired_region == "eastus"
    assert BUILTIN_REGIONS["northeurope"].paired_region == "westeurope"
    assert BUILTIN_REGIONS["centralindia"].time_zone == "Asia/Kolkata"
    assert BUILTIN_REGIONS["swedencentral"].paired_region == "swedensouth"


def test_builtin_table_is_read_only():
    with pytest.raises(TypeError):
        BUILTIN_REGIONS["eastus"] = RegionInfo("eastus", None, "UTC")  # type: ignore[index]


def test_normalize_region_accepts_display_names():
    assert normalize_region("East US 2") == "eastus2"
    assert normalize_region("westeurope") == "westeurope"


def test_merge_regions_overrides_and_extends_without_touching_the_builtin_table():
    merged = merge_regions(
        [
            RegionInfo("East US", "Central US", "Asia/Tokyo"),
            RegionInfo("onprem", None, "Pacific/Chatham"),
        ]
    )
    assert merged["eastus"] == RegionInfo("eastus", "centralus", "Asia/Tokyo")
    assert merged["onprem"] == RegionInfo("onprem", None, "Pacific/Chatham")
    assert merged["westus"] == BUILTIN_REGIONS["westus"]
    assert BUILTIN_REGIONS["eastus"] == RegionInfo("eastus", "westus", "America/New_York")
    assert "onprem" not in BUILTIN_REGIONS


def test_merge_regions_can_remove_a_pair():
    merged = merge_regions([RegionInfo("eastus", None, "America/New_York")])
    assert merged["eastus"].paired_region is None
    # westus still names eastus, so the pair still binds both ends
    assert pair_graph(["eastus", "westus"], merged) == {"eastus": {"westus"}, "westus": {"eastus"}}


def assert_symmetric(graph):
    for name, partners in graph.items():
        assert name not in partners
        for partner in partners:
            assert name in graph[partner]


def test_pair_graph_of_two_way_pairs():
    graph = pair_graph(["eastus", "westus", "northeurope", "westeurope"], BUILTIN_REGIONS)
    assert graph == {
        "eastus": {"westus"},
        "westus": {"eastus"},
        "northeurope": {"westeurope"},
        "westeurope": {"northeurope"},
    }


def test_pair_graph_binds_both_ends_of_one_way_pairs():
    # westus3 -> eastus, westindia -> southindia, brazilsouth -> southcentralus are one-way
    graph = pair_graph(
        ["westus3", "eastus", "westus", "westindia", "southindia", "brazilsouth", "southcentralus"],
        BUILTIN_REGIONS,
    )
    assert graph["eastus"] == {"westus", "westus3"}
    assert graph["westus3"] == {"eastus"}
    assert graph["southindia"] == {"westindia"}
    assert graph["westindia"] == {"southindia"}
    assert graph["southcentralus"] == {"brazilsouth"}
    assert_symmetric(graph)


def test_pair_graph_ignores_partners_not_in_the_fleet_and_unknown_regions():
    graph = pair_graph(["eastus", "mexicocentral", "nowhere"], BUILTIN_REGIONS)
    assert graph == {"eastus": set(), "mexicocentral": set(), "nowhere": set()}


def test_pair_graph_of_all_builtin_regions_is_symmetric():
    graph = pair_graph(BUILTIN_REGIONS, BUILTIN_REGIONS)
    assert set(graph) == set(BUILTIN_REGIONS)
    assert_symmetric(graph)
    for name, info in BUILTIN_REGIONS.items():
        if info.paired_region:
            assert info.paired_region in graph[name]


def test_pair_graph_ignores_a_region_paired_with_itself():
    table = merge_regions([RegionInfo("loop", "loop", "UTC")])
    assert pair_graph(["loop"], table) == {"loop": set()}
