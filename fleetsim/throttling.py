"""Token buckets as Azure Compute and ARM apply them (docs/DOMAIN.md section 5).

Every bucket refills on the injected clock. A request takes one token from each
bucket that applies to it, and only when all of them have one, so a refused
request costs nothing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fleetsim.clock import Clock


@dataclass(frozen=True)
class BucketPolicy:
    name: str  # as reported in x-ms-ratelimit-remaining-resource, or an ARM header
    capacity: int
    refill_per_second: float


GUEST_PATCH_OPS = BucketPolicy("Microsoft.Compute/GuestPatchOps3Min", 600, 200 / 60)
GUEST_PATCH_OPS_PER_VM = BucketPolicy("Microsoft.Compute/GuestPatchOpsPerVM3Min", 6, 2 / 60)
OPERATION_POLLING = BucketPolicy("Microsoft.Compute/GetOperationStatus1Min", 5000, 5000 / 60)
ARM_READS = BucketPolicy("subscription-reads", 250, 25.0)
ARM_WRITES = BucketPolicy("subscription-writes", 200, 10.0)


class _Bucket:
    def __init__(self, policy: BucketPolicy, now: datetime) -> None:
        self.policy = policy
        self.tokens = float(policy.capacity)
        self.updated = now

    def refill(self, now: datetime) -> None:
        # A clock set backwards refills nothing rather than draining the bucket.
        elapsed = max(0.0, (now - self.updated).total_seconds())
        self.tokens = min(
            self.policy.capacity, self.tokens + elapsed * self.policy.refill_per_second
        )
        self.updated = max(self.updated, now)

    def seconds_until_token(self) -> float:
        return max(0.0, (1 - self.tokens) / self.policy.refill_per_second)


@dataclass(frozen=True)
class BucketKey:
    policy: BucketPolicy
    scope: str  # subscription, subscription+region or VM id, lowercased


@dataclass(frozen=True)
class Remaining:
    policy: BucketPolicy
    tokens: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int  # 0 when allowed
    remaining: tuple[Remaining, ...]


class Throttler:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, keys: Sequence[BucketKey]) -> Decision:
        now = self._clock.now()
        with self._lock:
            buckets = []
            for key in keys:
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _Bucket(key.policy, now)
                bucket.refill(now)
                buckets.append(bucket)
            empty = [b for b in buckets if b.tokens < 1]
            if empty:
                wait = max(b.seconds_until_token() for b in empty)
                return Decision(
                    allowed=False,
                    retry_after_seconds=max(1, math.ceil(wait)),
                    remaining=tuple(Remaining(b.policy, int(b.tokens)) for b in buckets),
                )
            for bucket in buckets:
                bucket.tokens -= 1
            return Decision(
                allowed=True,
                retry_after_seconds=0,
                remaining=tuple(Remaining(b.policy, int(b.tokens)) for b in buckets),
            )


def remaining_headers(remaining: Sequence[Remaining]) -> dict[str, str]:
    """The x-ms-ratelimit-remaining-* headers ARM and Compute send."""
    headers: dict[str, str] = {}
    compute = [r for r in remaining if r.policy.name.startswith("Microsoft.Compute/")]
    if compute:
        headers["x-ms-ratelimit-remaining-resource"] = ",".join(
            f"{r.policy.name};{r.tokens}" for r in compute
        )
    for r in remaining:
        if r.policy.name.startswith("subscription-"):
            headers[f"x-ms-ratelimit-remaining-{r.policy.name}"] = str(r.tokens)
    return headers
