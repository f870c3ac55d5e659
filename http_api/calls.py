"""How a route calls what it stands on: off the event loop, each failure named by its
dependency (`http_api.errors.upstream`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from activities.deps import Deps, deps
from http_api.errors import Upstream, upstream

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def blocking(
    dependency: Upstream, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """`call(*args)` on a worker thread (the store and ARM clients block; the event loop is
    shared by every async function of the app), its failure a 502 or 503."""
    with upstream(dependency):
        return await asyncio.to_thread(call, *args, **kwargs)


async def durable(step: Awaitable[_T]) -> _T:
    """A call of the Durable client; its failure (the extension unreachable, an answer it
    does not expect) a 503."""
    with upstream(Upstream.DURABLE):
        return await step


async def app_deps() -> Deps:
    """The app's settings, ports and clock; built on first use, which reaches the tables."""
    return await blocking(Upstream.STORAGE, deps)


async def off_loop(call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`call(*args)` on a worker thread; its own failures are its to map."""
    return await asyncio.to_thread(call, *args, **kwargs)
