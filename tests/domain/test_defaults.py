"""The knobs' defaults and bounds live in one place; the policy and the settings keep them."""

from __future__ import annotations

import pytest

from azure_io.settings import Settings
from patching import defaults
from patching.errors import BadInput
from patching.planner import PlanningPolicy


def test_the_policy_and_the_settings_start_from_the_same_defaults():
    policy = PlanningPolicy()
    settings = Settings.from_env({})
    assert policy.slot_minutes == settings.install_slot_minutes == defaults.SLOT_MINUTES == 90
    assert policy.hotpatch_slot_minutes == settings.hotpatch_slot_minutes == 30
    assert defaults.HOTPATCH_SLOT_MINUTES == 30
    assert policy.health_gate_minutes == settings.health_gate_minutes == 30
    assert policy.default_window == settings.off_peak_window == defaults.DEFAULT_WINDOW
    assert str(defaults.DEFAULT_WINDOW) == "22:00-06:00"
    assert settings.planned_baseline_months == defaults.PLANNED_BASELINE_MONTHS == (1, 4, 7, 10)
    assert settings.assessment_interval_hours == 72
    assert settings.error_budget_percent == 10.0


@pytest.mark.parametrize(
    ("knob", "bounds"),
    [
        ("slot_minutes", defaults.SLOT_MINUTES_BOUNDS),
        ("hotpatch_slot_minutes", defaults.SLOT_MINUTES_BOUNDS),
        ("health_gate_minutes", defaults.HEALTH_GATE_MINUTES_BOUNDS),
    ],
)
def test_the_policy_keeps_the_bounds_the_settings_keep(knob, bounds):
    for inside in (bounds.low, bounds.high):
        assert getattr(PlanningPolicy(**{knob: inside}), knob) == inside
    for outside in (bounds.low - 1, bounds.high + 1):
        with pytest.raises(BadInput, match=f"{knob} {outside} is outside {bounds}"):
            PlanningPolicy(**{knob: outside})
        variable = {
            "slot_minutes": "PATCH_INSTALL_SLOT_MINUTES",
            "hotpatch_slot_minutes": "PATCH_HOTPATCH_SLOT_MINUTES",
            "health_gate_minutes": "PATCH_HEALTH_GATE_MINUTES",
        }[knob]
        with pytest.raises(ValueError, match=f"outside {bounds}"):
            Settings.from_env({variable: str(outside)})


def test_a_health_gate_is_at_least_a_minute_so_phases_never_touch():
    assert defaults.HEALTH_GATE_MINUTES_BOUNDS == (1, 24 * 60)


def test_slots_keep_azures_limits_on_maximum_duration():
    # 30 minutes: Windows keeps 10 for a reboot and starts nothing with under 25 left;
    # 3 h 55 min: Update Manager's longest maintenance window.
    assert defaults.SLOT_MINUTES_BOUNDS == (30, 3 * 60 + 55)


def test_bounds_hold_what_lies_between_and_refuse_nan():
    bounds = defaults.ERROR_BUDGET_PERCENT_BOUNDS
    assert 0 in bounds and 100 in bounds and 2.5 in bounds
    assert float("nan") not in bounds
    assert -0.1 not in bounds and "5" not in bounds
