"""Properties of the install decision that hold for any patches and any request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fleetsim.catalog import Patch
from fleetsim.install import InstallationState, InstallRequest, plan_install

CLASSIFICATIONS = ("Critical", "Security", "UpdateRollUp", "Definition")
REBOOTS = ("NeverReboots", "CanRequestReboot", "AlwaysRequiresReboot")
PUBLISHED = datetime(2026, 12, 1, tzinfo=UTC)

patches = st.lists(
    st.builds(
        lambda n, c, r, d: Patch(
            patch_id=f"p{n}",
            name=f"patch {n}",
            version="1",
            kb_id=str(1000 + n),
            classifications=(c,),
            reboot_behavior=r,
            published=PUBLISHED + timedelta(days=d),
        ),
        st.integers(0, 30),
        st.sampled_from(CLASSIFICATIONS),
        st.sampled_from(REBOOTS),
        st.integers(-10, 10),
    ),
    unique_by=lambda p: p.patch_id,
    max_size=12,
)

requests = st.builds(
    InstallRequest,
    maximum_duration=st.integers(20, 240).map(lambda m: timedelta(minutes=m)),
    reboot_setting=st.sampled_from(("IfRequired", "Never", "Always")),
    classifications=st.frozensets(st.sampled_from(CLASSIFICATIONS)),
    kbs_to_include=st.frozensets(st.integers(1000, 1030).map(str), max_size=3),
    kbs_to_exclude=st.frozensets(st.integers(1000, 1030).map(str), max_size=3),
    exclude_kbs_requiring_reboot=st.booleans(),
    max_publish_date=st.none() | st.just(PUBLISHED),
    masks_to_include=st.just(()),
    masks_to_exclude=st.just(()),
)


@given(
    patches,
    requests,
    st.integers(1, 300),
    st.booleans(),
    st.none() | st.integers(1, 300).map(lambda m: timedelta(minutes=m)),
)
def test_counts_add_up_and_rules_hold(missing, request, minutes, fails, deallocated_after):
    outcome = plan_install(
        missing,
        request,
        install_minutes=minutes,
        fails=fails,
        reboot_pending_before=False,
        deallocated_after=deallocated_after,
    )
    assert sum(outcome.count(state) for state in InstallationState) == len(missing)
    assert outcome.duration <= request.maximum_duration
    for patch, state in outcome.states:
        if state in (InstallationState.INSTALLED, InstallationState.FAILED):
            assert patch.kb_id not in request.kbs_to_exclude
            if request.exclude_kbs_requiring_reboot:
                assert patch.reboot_behavior == "NeverReboots"
            if request.max_publish_date is not None:
                assert patch.published <= request.max_publish_date
    if fails:
        assert outcome.count(InstallationState.INSTALLED) == 0
    else:
        assert outcome.count(InstallationState.FAILED) == 0
    if request.reboot_setting == "Never":
        assert not outcome.rebooted
    if outcome.maintenance_window_exceeded:
        assert outcome.count(InstallationState.PENDING) > 0
        assert outcome.status in ("CompletedWithWarnings", "Failed")
    if request.reboot_setting == "Never":
        # A patch that needs a restart is never reported installed without one.
        assert not any(
            patch.needs_reboot
            for patch, state in outcome.states
            if state is InstallationState.INSTALLED
        )


@given(
    st.integers(1, 20),
    st.integers(1, 240),
    st.data(),
    st.sampled_from(("IfRequired", "Never", "Always")),
    st.lists(st.sampled_from(REBOOTS), min_size=20, max_size=20),
)
def test_an_install_that_fits_its_window_never_exceeds_it(
    count, minutes, data, reboot_setting, reboots
):
    window = data.draw(st.integers(minutes, 240), label="maximumDuration minutes")
    # A deallocation at or after the install's end does not interrupt it.
    deallocated_after = data.draw(
        st.none() | st.integers(minutes, 300).map(lambda m: timedelta(minutes=m)),
        label="deallocated after",
    )
    missing = [
        Patch(
            patch_id=f"p{i}",
            name=f"patch {i}",
            version="1",
            kb_id=str(1000 + i),
            classifications=("Security",),
            reboot_behavior=reboots[i],
            published=PUBLISHED,
        )
        for i in range(count)
    ]
    request = InstallRequest(
        maximum_duration=timedelta(minutes=window),
        reboot_setting=reboot_setting,
        classifications=frozenset({"Security"}),
        kbs_to_include=frozenset(),
        kbs_to_exclude=frozenset(),
        exclude_kbs_requiring_reboot=False,
        max_publish_date=None,
        masks_to_include=(),
        masks_to_exclude=(),
    )
    outcome = plan_install(
        missing,
        request,
        install_minutes=minutes,
        fails=False,
        reboot_pending_before=False,
        deallocated_after=deallocated_after,
    )
    assert outcome.maintenance_window_exceeded is False
    assert outcome.status == "Succeeded"
    assert outcome.duration == timedelta(minutes=minutes)
    for patch, state in outcome.states:
        if state is InstallationState.PENDING:
            # Only waiting for a restart it was not allowed, never for lack of time.
            assert reboot_setting == "Never" and patch.needs_reboot
        else:
            assert state is InstallationState.INSTALLED
