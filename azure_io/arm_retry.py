"""How ARM calls are retried: transient server errors briefly, 429 never.

A throttled (429) answer goes straight back to the caller with its Retry-After, so the
orchestrator can wait on a durable timer instead of a worker sleeping. Transient 5xx and
408 answers are retried a few times with a short, capped exponential backoff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy

TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
# Used when a 429 carries no usable Retry-After: ARM's buckets refill per minute.
DEFAULT_THROTTLE_SECONDS = 60.0
_MAX_BACKOFF_SECONDS = 10


class TransientRetryPolicy(RetryPolicy):  # type: ignore[type-arg]
    def __init__(self, *, attempts: int, backoff_seconds: float) -> None:
        super().__init__(
            retry_total=attempts,
            retry_connect=attempts,
            retry_read=attempts,
            retry_status=attempts,
            retry_backoff_factor=backoff_seconds,
            retry_backoff_max=_MAX_BACKOFF_SECONDS,
        )

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if response.http_response.status_code not in TRANSIENT_STATUSES:
            return False  # above all 429: the caller decides when to come back
        return bool(super().is_retry(settings, response))

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        # A 503 may ask for minutes; a worker must not sleep that long.
        retry_after = super().get_retry_after(response)
        return None if retry_after is None else min(retry_after, float(self.backoff_max))


def retry_after_seconds(headers: Any, *, now: datetime | None = None) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP date)."""
    raw = headers.get("Retry-After") if headers is not None else None
    if not raw:
        return DEFAULT_THROTTLE_SECONDS
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return DEFAULT_THROTTLE_SECONDS
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
