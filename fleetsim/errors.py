"""Errors answered in ARM's shape: {"error": {"code", "message", "target"?}}.

Every refusal the simulator gives is built here, once: the ARM-level ones
(authentication, throttling, faults, bad parameters) and the HTTP-level ones
(a bad request line, oversized headers or bodies), which ARM's front door
answers in the same JSON shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The simulator's one tenant: named in the 401 challenge and in every subscription.
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class ArmError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


# --- authentication, faults, throttling, bugs ---------------------------------

_CHALLENGE = (
    f'Bearer authorization_uri="https://login.microsoftonline.com/{TENANT_ID}", '
    'error="invalid_token", error_description="The authentication failed because of '
    "missing 'Authorization' header.\""
)


def authentication_failed() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        headers={"WWW-Authenticate": _CHALLENGE},
    )


def injected_fault(status: int) -> ArmError:
    code = "InternalServerError" if status == 500 else "ServiceUnavailable"
    return ArmError(status, code, "A transient error occurred (injected fault).")


def internal_error(exc: BaseException) -> ArmError:
    return ArmError(
        500,
        "InternalServerError",
        "The server encountered an internal error; "
        f"please retry the request ({type(exc).__name__}).",
    )


def throttled(
    op: str, retry_after_seconds: int, headers: dict[str, str], *, arm_level: bool
) -> ArmError:
    """429: ARM's own buckets say SubscriptionRequestsThrottled, Compute's TooManyRequests."""
    return ArmError(
        429,
        "SubscriptionRequestsThrottled" if arm_level else "TooManyRequests",
        "The request is being throttled as the limit has been reached for operation type "
        f"'{op}'. Retry after {retry_after_seconds} seconds. "
        "For more information, see https://aka.ms/throttling.",
        headers={**headers, "Retry-After": str(retry_after_seconds)},
    )


def server_busy(retry_after_seconds: int) -> ArmError:
    return ArmError(
        503,
        "ServerBusy",
        "The server is serving as many connections as it takes; retry shortly.",
        headers={"Retry-After": str(retry_after_seconds)},
    )


# --- requests ARM cannot route or accept --------------------------------------


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' "
        "was not found.",
    )


def method_not_allowed(method: str, path: str) -> ArmError:
    return ArmError(
        405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for '{path}'."
    )


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def unsupported_compute_api_version(
    api_version: str, resource_type: str, supported: Iterable[str], location: str | None
) -> ArmError:
    """What ARM says when Compute has no such version (a well-formed one or not)."""
    where = f"location '{location}' and " if location else ""
    return ArmError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for {where}API version '{api_version}' "
        f"for type '{resource_type}'. The supported api-versions are "
        f"'{', '.join(sorted(supported))}'.",
    )


def invalid_api_version(api_version: str, supported: Iterable[str]) -> ArmError:
    """What ARM says for an api-version its own (Microsoft.Resources) APIs lack."""
    return ArmError(
        400,
        "InvalidApiVersionParameter",
        f"The api-version '{api_version}' is invalid. The supported versions are "
        f"'{','.join(sorted(supported))}'.",
    )


def invalid_skip_token() -> ArmError:
    return ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid.")


def invalid_parameter(target: str, message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message, target=target)


def invalid_content(target: str, message: str) -> ArmError:
    """A body ARM cannot deserialize: a value of the wrong JSON type."""
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: {message}",
        target=target or None,
    )


def invalid_json(reason: str) -> ArmError:
    return ArmError(
        400, "InvalidRequestContent", f"The request content is not valid JSON: {reason}"
    )


# --- HTTP-level refusals ------------------------------------------------------

_HTTP_CODES = {
    400: "BadRequest",
    408: "RequestTimeout",
    411: "LengthRequired",
    413: "RequestEntityTooLarge",
    414: "RequestUriTooLong",
    431: "RequestHeaderFieldsTooLarge",
    505: "HttpVersionNotSupported",
}


def http_error(status: int, message: str) -> ArmError:
    """A request refused before it reaches ARM's routing (the HTTP layer's refusals)."""
    return ArmError(status, _HTTP_CODES.get(status, "BadRequest"), message)


def body_too_large(length: int, limit: int) -> ArmError:
    return http_error(
        413, f"The request content ({length} bytes) exceeds the limit of {limit} bytes."
    )
