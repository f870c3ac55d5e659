"""The API's refusals and failures, all answered as `{"error": {"code", "message"}}`.

A route raises `ApiError` for what it refuses (400, 403, 404, 409); `upstream(...)` turns a
failure of Azure Resource Manager, the tables or the Durable extension into a 502 or 503
of the same shape; `answered` wraps every route so that nothing else escapes: an
unexpected fault is a 500 with a fixed message (the traceback goes to the log, never to
the caller).
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, ParamSpec

import azure.functions as func

from azure_io.compute_outcomes import ArmThrottledError

log = logging.getLogger(__name__)

JSON = "application/json"
_P = ParamSpec("_P")


class ErrorCode(StrEnum):
    INVALID_JSON = "InvalidJson"
    MISSING_FIELD = "MissingField"
    UNKNOWN_FIELD = "UnknownField"
    INVALID_FIELD = "InvalidField"
    SUBSCRIPTION_NOT_MANAGED = "SubscriptionNotManaged"
    NOT_FOUND = "NotFound"
    CYCLE_NOT_HALTED = "CycleNotHalted"
    HOTPATCH_NOT_ALLOWED = "HotpatchNotAllowed"
    ARM_FAILED = "ArmFailed"
    ARM_THROTTLED = "ArmThrottled"
    STORAGE_UNAVAILABLE = "StorageUnavailable"
    DURABLE_UNAVAILABLE = "DurableUnavailable"
    INTERNAL = "InternalError"


class Upstream(StrEnum):
    """What a route depends on, named in its failure."""

    ARM = "Azure Resource Manager"
    STORAGE = "table storage"
    DURABLE = "the Durable Functions extension"


class ApiError(Exception):
    """An answer other than success: its status, code, message and, for bad input, the
    field it names (`vms[1]`, `maximumDuration`, `days`...)."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after_seconds = retry_after_seconds

    def response(self) -> func.HttpResponse:
        error: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        headers = {}
        if self.retry_after_seconds is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return json_response({"error": error}, status=self.status, headers=headers)


def bad_field(field: str, message: str, code: ErrorCode = ErrorCode.INVALID_FIELD) -> ApiError:
    """A 400 naming `field`; the message starts with the field too."""
    text = message if message.startswith(field) else f"{field}: {message}"
    return ApiError(400, code, text, field=field)


def not_managed(field: str, message: str) -> ApiError:
    return ApiError(403, ErrorCode.SUBSCRIPTION_NOT_MANAGED, message, field=field)


def not_found(message: str, *, field: str | None = None) -> ApiError:
    return ApiError(404, ErrorCode.NOT_FOUND, message, field=field)


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        mimetype=JSON,
        charset="utf-8",
        headers=headers,
    )


@contextmanager
def upstream(dependency: Upstream) -> Iterator[None]:
    """Calls into `dependency`: its failure becomes a 502 (ARM answered with an error) or
    a 503 (throttled, unreachable), never a traceback. `ApiError` passes through."""
    try:
        yield
    except ApiError:
        raise
    except ArmThrottledError as throttled:
        raise ApiError(
            503,
            ErrorCode.ARM_THROTTLED,
            f"{dependency.value} is throttling the app's requests; try again later",
            retry_after_seconds=throttled.retry_after_seconds,
        ) from throttled
    except Exception as error:
        # Logged by type only: an SDK error's text may carry a request URL with a signature.
        log.warning("%s failed: %s", dependency.value, type(error).__name__)
        if dependency is Upstream.ARM:
            raise ApiError(
                502, ErrorCode.ARM_FAILED, f"{dependency.value} failed to answer the app"
            ) from error
        code = (
            ErrorCode.STORAGE_UNAVAILABLE
            if dependency is Upstream.STORAGE
            else ErrorCode.DURABLE_UNAVAILABLE
        )
        raise ApiError(503, code, f"{dependency.value} is unavailable; try again later") from error


def answered(
    route: Callable[_P, Awaitable[func.HttpResponse]],
) -> Callable[_P, Awaitable[func.HttpResponse]]:
    """The route's answer, its `ApiError` as the error body, any other fault a plain 500."""

    @functools.wraps(route)
    async def guarded(*args: _P.args, **kwargs: _P.kwargs) -> func.HttpResponse:
        try:
            return await route(*args, **kwargs)
        except ApiError as refused:
            return refused.response()
        except Exception:
            log.exception("route %s failed", route.__name__)
            return ApiError(
                500, ErrorCode.INTERNAL, "the request failed inside the app; see its log"
            ).response()

    return guarded
