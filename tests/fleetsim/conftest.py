"""Fixtures: a virtual clock, and simulators on it: in process or served over HTTPS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fleetsim_helpers import START

from fleetsim import (
    InProcessSimulator,
    RunningSimulator,
    VirtualClock,
    open_simulator,
    start_simulator,
)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def simulate(clock: VirtualClock) -> Iterator[Callable[..., InProcessSimulator]]:
    """Opens in-process simulators on the test's virtual clock and stops them afterwards."""
    opened: list[InProcessSimulator] = []

    def open_one(fleet: dict[str, Any], **kwargs: Any) -> InProcessSimulator:
        kwargs.setdefault("clock", clock)
        sim = open_simulator(fleet, **kwargs)
        opened.append(sim)
        return sim

    yield open_one
    for sim in opened:
        sim.stop()


@pytest.fixture
def serve(clock: VirtualClock) -> Iterator[Callable[..., RunningSimulator]]:
    """Starts HTTPS simulators on the test's virtual clock and stops them afterwards."""
    started: list[RunningSimulator] = []

    def start(fleet: dict[str, Any], **kwargs: Any) -> RunningSimulator:
        kwargs.setdefault("clock", clock)
        sim = start_simulator(fleet, **kwargs)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
