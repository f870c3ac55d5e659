"""Calling a user function the way the Python worker does.

The worker passes every binding as a keyword argument named after it, plus
`context` when the function declares that parameter. Synchronous functions
run on the calling thread; coroutines run on one event loop that lives as
long as the process: the Durable SDK keeps a module-global aiohttp session
(and an asyncio lock) bound to the first loop that uses them, so a second
loop, even for a second host in the same process, would break them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func
from azure.durable_functions.models.utils import http_utils
from azure.functions import _abc as functions_abc

from devhost.app_loader import FunctionSpec

log = logging.getLogger("devhost")

_CLOSE_SECONDS = 10.0
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for async functions, started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="functions-event-loop", daemon=True
            ).start()
            _loop = loop
        return _loop


def invoke(spec: FunctionSpec, arguments: Mapping[str, Any]) -> Any:
    """Call `spec`'s function with its bindings' values; the return value once awaited."""
    kwargs = dict(arguments)
    if "context" in _parameters(spec.user_function) and "context" not in kwargs:
        kwargs["context"] = InvocationContext(spec.name)
    returned = spec.user_function(**kwargs)
    if inspect.iscoroutine(returned):
        return asyncio.run_coroutine_threadsafe(returned, shared_loop()).result()
    return returned


def close_durable_client_session() -> None:
    """Close the SDK's pooled connections (they point at a host that is going away).

    The SDK opens a new session on its next request, so another host in the
    same process keeps working.
    """
    with _loop_lock:
        loop = _loop
    if loop is None:
        return
    # The SDK has no public hook for this; its own reset on connection errors uses it.
    closing = asyncio.run_coroutine_threadsafe(http_utils._close_session(), loop)
    try:
        closing.result(timeout=_CLOSE_SECONDS)
    except TimeoutError:  # a function still holds the loop; the process exit closes the sockets
        log.warning("the Durable client's session did not close within %s s", _CLOSE_SECONDS)


def _parameters(function: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    # `inspect.signature` follows `__wrapped__`, so the Durable client's middleware
    # shows the user's own parameters, as the worker sees them.
    return inspect.signature(function).parameters


class _TraceContext(functions_abc.TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(functions_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:  # no earlier attempt failed
        return None


class InvocationContext(func.Context):
    """The `context` argument: a fresh invocation id per call, as the host gives."""

    def __init__(self, function_name: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._thread_local_storage = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:  # the worker's is an instance, typed as a class
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return ""

    @property
    def trace_context(self) -> functions_abc.TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> functions_abc.RetryContext:
        return _RetryContext()
