"""Enrolment, install settings per release kind, and compliance (docs/DOMAIN.md sections 1 and 3)."""

import pytest

from patching.models import OsType, PatchMode, RebootSetting, ReleaseKind, VmTarget
from patching.policy import (
    ComplianceState,
    MissingPatch,
    compliance,
    cycle_install_settings,
    is_hotpatch_enabled,
    skip_reason,
)

VM_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"


def vm(
    *,
    os_type: OsType = OsType.WINDOWS,
    patch_mode: PatchMode = PatchMode.AUTOMATIC_BY_PLATFORM,
    hotpatch: bool = False,
) -> VmTarget:
    return VmTarget(
        id=VM_ID,
        location="eastus",
        os_type=os_type,
        patch_mode=patch_mode,
        enable_hotpatching=hotpatch,
    )


HOTPATCH_VM = vm(hotpatch=True)
PLAIN_VM = vm()


def test_automatic_by_platform_is_enrolled():
    assert skip_reason(vm()) is None
    assert skip_reason(vm(os_type=OsType.LINUX)) is None


@pytest.mark.parametrize(
    "mode", [PatchMode.AUTOMATIC_BY_OS, PatchMode.MANUAL, PatchMode.IMAGE_DEFAULT]
)
@pytest.mark.parametrize("os_type", list(OsType))
def test_every_other_mode_is_skipped_with_its_reason(mode, os_type):
    assert skip_reason(vm(os_type=os_type, patch_mode=mode)) == (
        f"patchMode is {mode.value}, not AutomaticByPlatform"
    )


def test_hotpatch_needs_windows_automatic_by_platform_and_the_flag():
    assert is_hotpatch_enabled(HOTPATCH_VM)
    assert not is_hotpatch_enabled(PLAIN_VM)
    assert not is_hotpatch_enabled(vm(os_type=OsType.LINUX, hotpatch=True))
    assert not is_hotpatch_enabled(vm(patch_mode=PatchMode.MANUAL, hotpatch=True))
    assert not is_hotpatch_enabled(vm(patch_mode=PatchMode.AUTOMATIC_BY_OS, hotpatch=True))


def test_hotpatch_vm_in_a_hotpatch_month_never_reboots():
    settings = cycle_install_settings(HOTPATCH_VM, ReleaseKind.HOTPATCH)
    assert settings.reboot_setting is RebootSetting.NEVER
    assert settings.exclude_kbs_requiring_reboot is True
    assert settings.classifications == ("Critical", "Security")


@pytest.mark.parametrize("kind", [ReleaseKind.PLANNED_BASELINE, ReleaseKind.UNPLANNED_BASELINE])
def test_hotpatch_vm_in_a_baseline_month_may_reboot(kind):
    settings = cycle_install_settings(HOTPATCH_VM, kind)
    assert settings.reboot_setting is RebootSetting.IF_REQUIRED
    assert settings.exclude_kbs_requiring_reboot is False
    assert settings.classifications == ("Critical", "Security")


@pytest.mark.parametrize("kind", list(ReleaseKind))
@pytest.mark.parametrize(
    "target",
    [PLAIN_VM, vm(os_type=OsType.LINUX), vm(os_type=OsType.LINUX, hotpatch=True)],
    ids=["windows-without-hotpatch", "linux", "linux-with-the-flag"],
)
def test_vms_without_hotpatch_may_reboot_in_every_month(target, kind):
    settings = cycle_install_settings(target, kind)
    assert settings.reboot_setting is RebootSetting.IF_REQUIRED
    assert settings.exclude_kbs_requiring_reboot is False
    assert settings.classifications == ("Critical", "Security")


def patch(kb: str, *classifications: str, reboot: str = "NeverReboots") -> MissingPatch:
    return MissingPatch(kb, classifications, reboot)


def test_missing_patch_classification_and_reboot():
    assert patch("1", "Security").is_cycle_patch
    assert patch("1", "Critical", "UpdateRollUp").is_cycle_patch
    assert not patch("1", "Definition").is_cycle_patch
    assert not patch("1", "Updates", "FeaturePack").is_cycle_patch
    assert not patch("1", "Security").needs_reboot
    assert patch("1", "Security", reboot="AlwaysRequiresReboot").needs_reboot
    assert patch("1", "Security", reboot="CanRequestReboot").needs_reboot


@pytest.mark.parametrize("kind", list(ReleaseKind))
def test_only_critical_and_security_count(kind):
    missing = [
        patch("100", "Definition"),
        patch("101", "Updates", reboot="AlwaysRequiresReboot"),
        patch("102", "FeaturePack"),
        patch("103", "Other"),
    ]
    verdict = compliance(PLAIN_VM, kind, missing)
    assert verdict.state is ComplianceState.COMPLIANT
    assert verdict.missing_kbs == ()
    assert verdict.deferred_kbs == ()
    assert verdict.reason == "no Critical or Security patch missing"


def test_missing_security_patch_is_pending_and_named():
    verdict = compliance(
        PLAIN_VM,
        ReleaseKind.HOTPATCH,
        [patch("300", "Security"), patch("200", "Critical"), patch("400", "Definition")],
    )
    assert verdict.state is ComplianceState.PENDING
    assert verdict.missing_kbs == ("200", "300")
    assert verdict.reason == "missing Critical/Security: 200, 300"


def test_hotpatch_vm_defers_reboot_needing_patches_in_a_hotpatch_month():
    missing = [
        patch("500", "Security", reboot="AlwaysRequiresReboot"),
        patch("501", "Critical", reboot="CanRequestReboot"),
    ]
    verdict = compliance(HOTPATCH_VM, ReleaseKind.HOTPATCH, missing)
    assert verdict.state is ComplianceState.COMPLIANT
    assert verdict.missing_kbs == ()
    assert verdict.deferred_kbs == ("500", "501")
    assert verdict.reason == "deferred to the next baseline: 500, 501"


def test_hotpatch_vm_still_pending_for_a_missing_hotpatch():
    missing = [patch("500", "Security", reboot="AlwaysRequiresReboot"), patch("600", "Security")]
    verdict = compliance(HOTPATCH_VM, ReleaseKind.HOTPATCH, missing)
    assert verdict.state is ComplianceState.PENDING
    assert verdict.missing_kbs == ("600",)
    assert verdict.deferred_kbs == ("500",)
    assert verdict.reason == "missing Critical/Security: 600"


@pytest.mark.parametrize("kind", [ReleaseKind.PLANNED_BASELINE, ReleaseKind.UNPLANNED_BASELINE])
def test_nothing_is_deferred_in_a_baseline_month(kind):
    missing = [patch("500", "Security", reboot="AlwaysRequiresReboot")]
    verdict = compliance(HOTPATCH_VM, kind, missing)
    assert verdict.state is ComplianceState.PENDING
    assert verdict.missing_kbs == ("500",)
    assert verdict.deferred_kbs == ()


def test_nothing_is_deferred_for_a_vm_without_hotpatch():
    missing = [patch("500", "Security", reboot="AlwaysRequiresReboot")]
    for target in (PLAIN_VM, vm(os_type=OsType.LINUX, hotpatch=True)):
        verdict = compliance(target, ReleaseKind.HOTPATCH, missing)
        assert verdict.state is ComplianceState.PENDING
        assert verdict.deferred_kbs == ()


def test_reboot_needing_patches_outside_the_cycle_are_neither_missing_nor_deferred():
    missing = [patch("700", "Updates", reboot="AlwaysRequiresReboot")]
    verdict = compliance(HOTPATCH_VM, ReleaseKind.HOTPATCH, missing)
    assert verdict.deferred_kbs == ()
    assert verdict.reason == "no Critical or Security patch missing"


def test_compliance_accepts_a_one_shot_iterable():
    verdict = compliance(PLAIN_VM, ReleaseKind.HOTPATCH, iter([patch("1", "Security")]))
    assert verdict.missing_kbs == ("1",)
