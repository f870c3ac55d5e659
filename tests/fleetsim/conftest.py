"""Fixtures: a virtual clock and simulators started on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fleetsim_helpers import START

from fleetsim import RunningSimulator, VirtualClock, start_simulator


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


SimFactory = Callable[..., RunningSimulator]


@pytest.fixture
def simulate(clock: VirtualClock) -> Iterator[SimFactory]:
    """Starts simulators on the test's virtual clock and stops them afterwards."""
    started: list[RunningSimulator] = []

    def start(fleet: dict[str, Any], **kwargs: Any) -> RunningSimulator:
        kwargs.setdefault("clock", clock)
        sim = start_simulator(fleet, **kwargs)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
