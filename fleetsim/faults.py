"""Injectable faults: transient server errors and slow answers, from a seeded random."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultConfig:
    error_rate: float = 0.0  # share of requests answered with a transient error
    error_statuses: tuple[int, ...] = (500, 503)
    slow_rate: float = 0.0  # share of requests answered late
    slow_seconds: float = 0.0  # real seconds, so clients' timeouts can be exercised
    seed: int = 0

    def __post_init__(self) -> None:
        for name, rate in (("error_rate", self.error_rate), ("slow_rate", self.slow_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")
        if self.error_rate and not self.error_statuses:
            raise ValueError("error_rate needs at least one error status")


@dataclass(frozen=True)
class Fault:
    error_status: int | None
    delay_seconds: float


NO_FAULT = Fault(None, 0.0)


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()

    def draw(self) -> Fault:
        config = self.config
        if not config.error_rate and not config.slow_rate:
            return NO_FAULT
        with self._lock:
            error = self._random.random() < config.error_rate
            status = self._random.choice(config.error_statuses) if error else None
            slow = self._random.random() < config.slow_rate
        return Fault(status, config.slow_seconds if slow else 0.0)
