"""A rehearsed cycle's logs: every record the activities write names its cycle (and its
phase and VM where the activity has them), no record carries a secret, and the metrics
count what the fleet simulator's own log shows."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from azure_io import telemetry
from azure_io.telemetry import redact
from tests.app.rollout_support import CYCLE_ID, FLEET, installs_by_vm, rehearsal, run_cycle

# The activities that work inside a phase: their group id (or payload) names it.
PHASED = {
    "rollout_group_batches",
    "rollout_start_installs",
    "rollout_check_installs",
    "rollout_record_installs",
    "rollout_phase_verdict",
}
# Discovery's records name its subscription besides the cycle.
BY_SUBSCRIPTION = {"rollout_discover"}
PER_VM = ("install started", "install finished", "compliance ", "skipped by the plan")


def test_a_rehearsed_cycle_logs_its_context_counts_its_installs_and_leaks_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        with rehearsal(FLEET, tmp_path) as run:
            run_cycle(run)
            assert not run.failures()
            installs = installs_by_vm(run)
    finally:
        telemetry.use_meter_provider(None)

    subscriptions = {s["id"] for s in FLEET["subscriptions"]}
    app_records = [r for r in caplog.records if r.name.startswith("activities.")]
    logged = {r.activity for r in app_records}  # type: ignore[attr-defined]
    assert logged >= PHASED - {"rollout_group_batches"} | {"rollout_plan", "rollout_save_cycle"}
    for record in app_records:
        if record.activity in BY_SUBSCRIPTION:  # type: ignore[attr-defined]
            assert record.subscription in subscriptions, record.getMessage()  # type: ignore[attr-defined]
        assert record.cycle == CYCLE_ID, (record.name, record.getMessage())  # type: ignore[attr-defined]
        if record.activity in PHASED:  # type: ignore[attr-defined]
            assert record.phase is not None, record.getMessage()  # type: ignore[attr-defined]
        if record.getMessage().startswith(PER_VM):
            assert record.vm and record.vm.startswith("/subscriptions/"), record.getMessage()  # type: ignore[attr-defined]

    started = [r for r in app_records if r.getMessage() == "install started"]
    assert {r.vm.lower() for r in started} == set(installs)  # type: ignore[attr-defined]

    # What was logged is clean, the SDK's and the host's records included.
    for record in caplog.records:
        assert redact(record.getMessage()) == record.getMessage(), record.getMessage()

    metric_records = Counter(
        r.metric  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == telemetry.METRICS_LOGGER
    )
    assert metric_records["patching.installs.started"] == len(installs)
    assert metric_records["patching.installs.finished"] == len(installs)
    assert metric_records["patching.compliance.recorded"] >= len(installs)

    finished_by_phase: Counter[str] = Counter()
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != "patching.installs.finished":
                    continue
                for point in metric.data.data_points:
                    assert point.attributes["cycle"] == CYCLE_ID
                    finished_by_phase[str(point.attributes["phase"])] += point.value  # type: ignore[operator]
    assert sum(finished_by_phase.values()) == len(installs)
    assert len(finished_by_phase) > 1  # the rehearsal ran several phases
