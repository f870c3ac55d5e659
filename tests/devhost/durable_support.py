"""Shared set-up for the durable engine tests: an engine on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.app_loader import loaded
from devhost.durable.driver import run_until
from devhost.durable.engine import DurableEngine
from fleetsim.clock import VirtualClock
from tests.devhost.apps import durable_workflows

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@contextmanager
def engine_on_virtual_clock(
    app: object = durable_workflows.app,
    *,
    host_json: Mapping[str, Any] | None = None,
    **options: Any,
) -> Iterator[tuple[DurableEngine, VirtualClock]]:
    clock = VirtualClock(START)
    engine = DurableEngine(loaded(app, host_json=host_json), clock, **options)
    try:
        yield engine, clock
    finally:
        engine.close()


def run_for(engine: DurableEngine, clock: VirtualClock, duration: timedelta) -> None:
    run_until(engine, clock, clock.now() + duration)


def history_types(engine: DurableEngine, instance_id: str) -> list[str]:
    status = engine.status(instance_id, show_history=True)
    assert status is not None
    return [item["EventType"] for item in status["historyEvents"]]


def status_of(engine: DurableEngine, instance_id: str) -> dict[str, Any]:
    status = engine.status(instance_id)
    assert status is not None, f"no instance {instance_id}"
    return status
