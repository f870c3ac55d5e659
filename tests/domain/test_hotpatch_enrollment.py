"""Who may have hotpatch turned on, and when: what Azure needs, and a baseline month."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from patching.calendar import make_cycle
from patching.hotpatch_enrollment import enrollment_refusal
from patching.models import OsType, PatchMode, ReleaseKind, VmTarget

VM = VmTarget(
    id="/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01",
    location="eastus",
    os_type=OsType.WINDOWS,
    patch_mode=PatchMode.AUTOMATIC_BY_PLATFORM,
    image_sku="2022-datacenter-azure-edition-hotpatch",
)
BASELINE = make_cycle("2027-01")  # January: a planned baseline
HOTPATCH = make_cycle("2027-02")
UNPLANNED = make_cycle("2027-02", kind=ReleaseKind.UNPLANNED_BASELINE)


def test_an_azure_edition_vm_may_turn_it_on_in_a_baseline_month_planned_or_not() -> None:
    assert BASELINE.release.kind is ReleaseKind.PLANNED_BASELINE
    assert enrollment_refusal(VM, BASELINE) is None
    assert enrollment_refusal(VM, UNPLANNED) is None


def test_a_hotpatch_month_refuses_a_new_enrollment_and_says_why() -> None:
    refusal = enrollment_refusal(VM, HOTPATCH)
    assert refusal is not None
    assert "2027-02" in refusal and "baseline month" in refusal


def test_a_vm_that_has_it_has_nothing_to_refuse() -> None:
    assert enrollment_refusal(replace(VM, enable_hotpatching=True), HOTPATCH) is None


def test_what_azure_needs_is_named() -> None:
    cases = {
        "runs Linux": replace(VM, os_type=OsType.LINUX, image_sku="22_04-lts"),
        "has AutomaticByOS": replace(VM, patch_mode=PatchMode.AUTOMATIC_BY_OS),
        "image SKU 2022-datacenter-g2": replace(VM, image_sku="2022-datacenter-g2"),
        "image SKU unknown": replace(VM, image_sku=None),
    }
    for expected, vm in cases.items():
        refusal = enrollment_refusal(vm, BASELINE)
        assert refusal is not None and expected in refusal, (expected, refusal)


@given(
    os_type=st.sampled_from(OsType),
    mode=st.sampled_from(PatchMode),
    sku=st.one_of(st.none(), st.sampled_from(["2022-datacenter-azure-edition", "2019-datacenter"])),
    enabled=st.booleans(),
    kind=st.sampled_from(ReleaseKind),
)
def test_an_enrollment_is_allowed_exactly_when_every_condition_holds(
    os_type: OsType, mode: PatchMode, sku: str | None, enabled: bool, kind: ReleaseKind
) -> None:
    vm = replace(VM, os_type=os_type, patch_mode=mode, image_sku=sku, enable_hotpatching=enabled)
    allowed = enabled or (
        os_type is OsType.WINDOWS
        and mode is PatchMode.AUTOMATIC_BY_PLATFORM
        and sku is not None
        and "azure-edition" in sku
        and kind is not ReleaseKind.HOTPATCH
    )
    assert (enrollment_refusal(vm, make_cycle("2027-01", kind=kind)) is None) is allowed
