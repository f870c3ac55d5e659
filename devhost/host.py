"""The local Functions host: an app's triggers, the Durable extension and its webhooks.

    with LocalHost(load_app("function_app"), clock=ScaledClock()) as host:
        urlopen(f"{host.base_url}/api/...?code={host.function_key}")

On a `ScaledClock` (or any real-time clock) background threads replay
orchestrations as their work arrives and fire timer triggers when due. On a
`VirtualClock` nothing runs by itself: `run_until(moment)` runs what is
runnable, jumping the clock to the next durable timer or timer trigger
whenever nothing is running, so a month passes in seconds.

The function key opens `FUNCTION` and `ADMIN` routes and the two webhooks
(`/runtime/webhooks/durabletask/`, `/runtime/webhooks/eventgrid`), as the
host's function, master and system keys do in Azure.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from devhost.app_loader import FunctionSpec, LoadedApp
from devhost.durable import DurableEngine
from devhost.durable.driver import run_until
from devhost.functions.bindings import input_arguments, refuse_unsupported
from devhost.functions.durable_api import RPC_PREFIX, WEBHOOK_PREFIX, DurableHttpApi
from devhost.functions.eventgrid import WEBHOOK_PATH, EventGridFunctions
from devhost.functions.http_functions import HttpFunctions, route_prefix
from devhost.functions.invoker import close_durable_client_session, invoke
from devhost.functions.server import HostServer
from devhost.functions.timers import PAST_DUE_AFTER, TimerTriggers
from devhost.functions.wire import HostRequest, HostResponse
from fleetsim.clock import Clock, ScaledClock, VirtualClock

log = logging.getLogger("devhost")

DEFAULT_TASK_HUB = "TestHubName"
# Keys go into URLs unescaped, as the extension's links carry them.
FUNCTION_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Longest real-time sleep of a background loop, so that stopping is prompt.
_POLL_SECONDS = 0.25
_JOIN_SECONDS = 10.0


class LocalHost:
    def __init__(
        self,
        app: LoadedApp,
        *,
        clock: Clock,
        port: int = 0,
        function_key: str | None = None,
        duplicate_activities: float = 0.0,
        seed: int = 0,
        activity_workers: int = 4,
    ) -> None:
        """Check the app, then serve it at once; AppLoadError or ValueError start nothing."""
        refuse_unsupported(app.functions)
        if function_key is not None and not FUNCTION_KEY_PATTERN.fullmatch(function_key):
            raise ValueError(
                f"function key must be 1 to 256 letters, digits, '-' or '_', got {function_key!r}"
            )
        self.function_key = function_key or secrets.token_urlsafe(32)
        self.clock = clock
        self._timers = TimerTriggers(
            app.functions, clock.now(), past_due_after=PAST_DUE_AFTER * self._speed
        )
        self._startup_timers_pending = True
        durable_settings = app.host_json.get("extensions", {}).get("durableTask", {})
        self._http = HttpFunctions(
            app.functions,
            prefix=route_prefix(app.host_json),
            function_key=self.function_key,
            invoke=self._invoke,
        )
        self._eventgrid = EventGridFunctions(app.functions, invoke=self._invoke)
        self.engine = DurableEngine(
            app,
            clock,
            duplicate_activities=duplicate_activities,
            seed=seed,
            activity_workers=activity_workers,
            task_hub=str(durable_settings.get("hubName") or DEFAULT_TASK_HUB),
        )
        self._durable = DurableHttpApi(self.engine, function_key=self.function_key)
        try:
            self._server = HostServer(port, self._dispatch)
        except BaseException:
            self.engine.close()
            raise
        self.base_url = self._server.base_url
        self._stopping = threading.Event()
        self._stopped = False
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": _POLL_SECONDS},
                name="devhost-http",
            )
        ]
        if not isinstance(clock, VirtualClock):
            self._threads += [
                threading.Thread(target=self._drive_engine, name="devhost-durable"),
                threading.Thread(target=self._drive_timers, name="devhost-timers"),
            ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def __enter__(self) -> LocalHost:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and running; work still in flight is abandoned. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(_JOIN_SECONDS)
        self.engine.close()
        close_durable_client_session()

    # ----- the virtual clock -----

    def run_until(
        self,
        moment: datetime,
        *,
        wake_sources: Sequence[Callable[[], datetime | None]] = (),
        on_wake: Callable[[datetime], None] | None = None,
    ) -> None:
        """Drive a virtual-clock host until `moment`, firing timer triggers on the way.

        `wake_sources` and `on_wake` add the caller's own wake-ups (scheduled
        events, a simulator's operations), as `devhost.durable.driver.run_until`.
        """
        if not isinstance(self.clock, VirtualClock):
            raise ValueError("run_until drives a host on a VirtualClock; this one runs by itself")

        def woken(now: datetime) -> None:
            self.fire_due_timers(now)
            if on_wake is not None:
                on_wake(now)

        run_until(
            self.engine,
            self.clock,
            moment,
            wake_sources=(self.next_timer_due, *wake_sources),
            on_wake=woken,
        )

    def next_timer_due(self) -> datetime | None:
        """When the next timer trigger fires (a wake source for the driver)."""
        if self._startup_timers_pending:
            return self.clock.now()
        return self._timers.next_due()

    def fire_due_timers(self, now: datetime) -> int:
        """Run the timer functions due at `now` (and `runOnStartup` ones, once); how many ran."""
        due = self._timers.take_due(now)
        if self._startup_timers_pending:
            self._startup_timers_pending = False
            due = self._timers.startup_requests(now) + due
        for timer in due:
            try:
                self._invoke(timer.spec, timer.request)
            except Exception:  # a timer function's failure is logged; its schedule goes on
                log.exception("timer function %r failed", timer.spec.name)
        return len(due)

    # ----- events -----

    def deliver_event_grid(
        self, events: Sequence[Mapping[str, Any]], *, function_name: str | None = None
    ) -> None:
        """Deliver events (Event Grid schema or CloudEvents) as the webhook would.

        Without `function_name`, to the app's only Event Grid function.
        Raises `EventDeliveryFailed` once every event ran if any invocation failed, and
        `MalformedEvent` (before any ran) for an event the trigger cannot read.
        """
        spec = self._eventgrid.function(function_name)
        if spec is None:
            raise ValueError(
                f"no Event Grid function {function_name!r}"
                if function_name
                else "the app has no single Event Grid function: name one"
            )
        self._eventgrid.deliver(spec, events)

    # ----- internals -----

    def _invoke(self, spec: FunctionSpec, trigger_value: Any) -> Any:
        client = self._durable.client_binding(self.base_url)
        return invoke(spec, input_arguments(spec, trigger_value, durable_client=client))

    def _dispatch(self, request: HostRequest) -> HostResponse:
        path = request.path
        for prefix, rpc in ((WEBHOOK_PREFIX, False), (RPC_PREFIX, True)):
            if path.startswith(f"{prefix}/"):
                if not rpc and not request.carries_key(self.function_key):
                    return HostResponse(401)
                rest = [part for part in path[len(prefix) :].split("/") if part]
                return self._durable.handle(request, rest, rpc=rpc)
        if path.rstrip("/") == WEBHOOK_PATH:
            if not request.carries_key(self.function_key):
                return HostResponse(401)
            return self._eventgrid.handle(request)
        return self._http.handle(request)

    @property
    def _speed(self) -> float:
        return self.clock.speed if isinstance(self.clock, ScaledClock) else 1.0

    def _real_seconds(self, until: datetime) -> float:
        return max(0.0, (until - self.clock.now()).total_seconds() / self._speed)

    def _drive_engine(self) -> None:
        while not self._stopping.is_set():
            try:
                self.engine.run_ready()
            except Exception:  # keep the host serving; the failure is in the log
                log.exception("the durable engine failed")
            due = self.engine.next_due()
            wait = _POLL_SECONDS if due is None else min(_POLL_SECONDS, self._real_seconds(due))
            self.engine.wait_for_work(wait)

    def _drive_timers(self) -> None:
        while not self._stopping.is_set():
            self.fire_due_timers(self.clock.now())
            due = self.next_timer_due()
            wait = _POLL_SECONDS if due is None else min(_POLL_SECONDS, self._real_seconds(due))
            self._stopping.wait(wait)
