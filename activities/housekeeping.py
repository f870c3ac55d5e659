"""The daily clean-up: history past its 30 days, operation rows long past, and the waves
of assessment rounds over (a round paces its waves over a few hours at most); then the
day's compliance gauge (`patching.compliance.vms`, VMs per state and subscription).

An operation row is removed once an orchestration records its result; one left behind
(an orchestration terminated or given up while its operation ran) would otherwise stay
for good. No operation runs longer than an install's four hours, so a row a week old is
a leftover.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.deps import deps
from azure_io import telemetry
from azure_io.compute_outcomes import OperationKind
from azure_io.telemetry import activity_logging, app_logger

bp = df.Blueprint()
log = app_logger(__name__)

OPERATION_ROWS_KEPT = timedelta(days=7)
ASSESSMENT_WAVES_KEPT = timedelta(days=2)


@bp.activity_trigger(input_name="payload")  # type: ignore[untyped-decorator]
@activity_logging
def daily_cleanup(payload: dict[str, Any] | None) -> dict[str, int]:
    """Purges old history and leftover operation rows, counts what went, and sets the
    compliance gauge from the store's counts."""
    current = deps()
    now = current.clock.now()
    purged = current.store.purge_history(now=now)
    leftovers = [
        operation.key
        for subscription in current.settings.subscriptions
        for kind in OperationKind
        for operation in current.store.operations(kind, subscription_id=subscription)
        if now - operation.started_at > OPERATION_ROWS_KEPT
    ]
    current.store.finish_operations(leftovers)
    waves = current.store.purge_assessment_waves(before=now - ASSESSMENT_WAVES_KEPT)
    log.info("purged %d history rows, %d operation rows", purged, len(leftovers))
    counts = current.store.compliance_counts()
    telemetry.compliance_counts(counts)
    return {
        "historyRows": purged,
        "operationRows": len(leftovers),
        "assessmentWaves": waves,
        "complianceVms": sum(sum(states.values()) for states in counts.values()),
    }
