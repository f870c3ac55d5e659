"""The simulator's one VM id parser and builder."""

from __future__ import annotations

import pytest
from fleetsim_helpers import SUB_A, fleet_of, windows_vm
from hypothesis import given
from hypothesis import strategies as st

from fleetsim import FleetError, open_simulator
from fleetsim.vm_ids import VmIdParts, parse_vm_id, vm_id

GOOD = f"/subscriptions/{SUB_A}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/web-01"


def test_parses_a_vm_id_with_segment_names_in_any_case():
    assert parse_vm_id(GOOD) == VmIdParts(SUB_A, "rg-app", "web-01")
    shouting = GOOD.replace("/resourceGroups/", "/RESOURCEGROUPS/").replace(
        "Microsoft.Compute/virtualMachines", "microsoft.compute/VIRTUALMACHINES"
    )
    assert parse_vm_id(shouting) == VmIdParts(SUB_A, "rg-app", "web-01")


@pytest.mark.parametrize(
    "text",
    [
        GOOD + "/",
        GOOD + "\n",
        " " + GOOD,
        GOOD.replace("web-01", "web 01"),
        GOOD.replace("web-01", "web\t01"),
        GOOD.replace("web-01", "web\x0001"),
        GOOD.replace("web-01", "web\x8501"),
        GOOD.replace("rg-app", ""),
        GOOD.replace("web-01", ""),
        GOOD.replace("Microsoft.Compute", "MicrosoftXCompute"),
        GOOD.replace("virtualMachines", "virtualMachineScaleSets"),
        GOOD + "/extensions/x",
        "subscriptions" + GOOD.removeprefix("/subscriptions"),
        "",
    ],
)
def test_refuses_anything_that_is_not_exactly_a_vm_id(text):
    assert parse_vm_id(text) is None


segment = st.text(
    st.characters(blacklist_categories=("Cc", "Zs", "Zl", "Zp"), blacklist_characters="/"),
    min_size=1,
    max_size=20,
).filter(lambda value: not any(ch.isspace() for ch in value))


@given(segment, segment, segment)
def test_parse_inverts_build(subscription, resource_group, name):
    built = vm_id(subscription, resource_group, name)
    assert parse_vm_id(built) == VmIdParts(subscription, resource_group, name)


def test_a_fleet_vm_id_the_parser_refuses_is_a_fleet_error():
    with pytest.raises(FleetError, match=r"vms\[0\]\.id"):
        open_simulator(fleet_of(windows_vm("web-01", id=GOOD.replace("web-01", "web 01"))))
