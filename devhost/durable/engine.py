"""A replay engine playing the Durable extension's part for a Python v2 app.

Each orchestrator episode gets the whole history of its execution in the
context JSON the extension sends (replay schema V3, the Azure Storage
backend's long-timer settings), returns its actions, and the engine records
what they schedule: activities run on a thread pool, timers wait on the shared
clock, sub-orchestrations are instances of their own. Retries are the
extension's job, done as the Durable Task Framework does them (attempt, timer,
attempt, ... and one last timer before the failure), with sequence numbers
allocated in the order the SDK allocates its own.

Threading: `start_new`, `raise_event`, `terminate` and the status queries may
come from any thread; episodes run on the thread calling `run_ready`. One
condition variable guards all instance state; the SDK runs outside it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devhost.app_loader import LoadedApp, UnknownFunctionError
from devhost.durable import sdk_speedups
from devhost.durable.actions import (
    Action,
    ActionType,
    UnsupportedAction,
    flatten,
    run_orchestrator,
)
from devhost.durable.activities import ActivityOutcome, run_activity
from devhost.durable.errors import (
    InstanceExists,
    InstanceFinished,
    InstanceRunning,
    UnknownInstance,
    UnknownOrchestrator,
)
from devhost.durable.history import (
    EventType,
    OrchestrationStatus,
    event,
    for_status,
    status_name,
    timestamp,
)
from devhost.durable.instance import Instance, ParentLink, Retry, RetryStep
from fleetsim.clock import Clock

# Completions arriving within this quiet period are replayed in one episode.
BATCH_WINDOW_SECONDS = 0.02
# ... but an instance never waits longer than this for a batch to close.
MAX_BATCH_DELAY_SECONDS = 0.2

_NOT_RUNNING_STATES = "nonrunningstates"


@dataclass(frozen=True)
class EngineStats:
    instances: int
    max_history_events: int
    replayed_events: int
    episodes: int
    activities_run: int
    duplicated_activities: int


@dataclass(frozen=True)
class _ActivityJob:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input_json: str | None
    runs: int


class DurableEngine:
    def __init__(
        self,
        app: LoadedApp,
        clock: Clock,
        *,
        duplicate_activities: float = 0.0,
        seed: int = 0,
        activity_workers: int = 4,
        task_hub: str = "TestHubName",
        fast_timestamps: bool = True,
    ) -> None:
        """`fast_timestamps` installs `sdk_speedups` (same values, a replay ~30 times cheaper)."""
        if not 0.0 <= duplicate_activities <= 1.0:
            raise ValueError(
                f"duplicate_activities must be a probability in [0, 1], got {duplicate_activities}"
            )
        if activity_workers < 1:
            raise ValueError(f"activity_workers must be at least 1, got {activity_workers}")
        if fast_timestamps:
            sdk_speedups.install()
        self.app = app
        self.clock = clock
        self.task_hub = task_hub
        self._duplicate_probability = duplicate_activities
        self._random = random.Random(seed)
        durable_settings = app.host_json.get("extensions", {}).get("durableTask", {})
        self._refuse_running_duplicates = (
            str(durable_settings.get("overridableExistingInstanceStates", "")).casefold()
            == _NOT_RUNNING_STATES
        )
        self._pool = ThreadPoolExecutor(activity_workers, thread_name_prefix="durable-activity")
        self._cond = threading.Condition()
        self._instances: dict[str, Instance] = {}
        self._ready: deque[str] = deque()
        self._ready_since: float | None = None
        self._timers: list[tuple[datetime, int, str, str, int]] = []
        self._timer_order = itertools.count()
        self._in_flight = 0
        self._last_completion = 0.0
        self._woken = False
        self._episodes = 0
        self._replayed_events = 0
        self._activities_run = 0
        self._duplicated = 0

    # ----- management (any thread) -----

    def start_new(self, name: str, instance_id: str | None = None, input: Any = None) -> str:
        try:
            spec = self.app.orchestrator(name)
        except UnknownFunctionError as error:
            raise UnknownOrchestrator(str(error)) from error
        if instance_id is not None and not instance_id.strip():
            raise ValueError("instance_id must not be blank")
        instance_id = instance_id or uuid.uuid4().hex
        input_json = None if input is None else json.dumps(input)
        with self._cond:
            existing = self._instances.get(instance_id)
            if existing is not None and not existing.finished and self._refuse_running_duplicates:
                raise InstanceExists(
                    f"An Orchestration instance with the status {status_name(existing.status)} "
                    f"already exists: {instance_id!r}"
                )
            self._start(spec.name, instance_id, input_json, parent=None)
            self._wake()
        return instance_id

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        if not event_name:
            raise ValueError("event_name must not be empty")
        with self._cond:
            instance = self._existing(instance_id)
            if instance.finished:
                raise InstanceFinished(
                    f"instance {instance_id!r} is {status_name(instance.status)}: "
                    "it no longer accepts events"
                )
            instance.inbox.append(
                event(
                    EventType.EVENT_RAISED,
                    self.clock.now(),
                    Name=event_name,
                    Input=json.dumps(data),
                )
            )
            self._enqueue(instance)
            self._wake()

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        with self._cond:
            instance = self._existing(instance_id)
            if instance.finished:
                raise InstanceFinished(
                    f"instance {instance_id!r} is {status_name(instance.status)}: "
                    "it cannot be terminated"
                )
            if instance.busy:
                instance.terminate_reason = reason or ""
            else:
                self._record_termination(instance, reason or "")
            self._wake()

    def purge(self, instance_id: str) -> None:
        with self._cond:
            instance = self._existing(instance_id)
            if not instance.finished:
                raise InstanceRunning(
                    f"instance {instance_id!r} is {status_name(instance.status)}: "
                    "only finished instances can be purged"
                )
            del self._instances[instance_id]

    def status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        with self._cond:
            instance = self._instances.get(instance_id)
            if instance is None:
                return None
            shaped = instance.status_json(show_input=show_input)
            if show_history:
                shaped["historyEvents"] = for_status(
                    instance.history.events, show_history_output=show_history_output
                )
            return shaped

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        """The current execution's history exactly as the orchestrator receives it."""
        with self._cond:
            return json.loads(self._existing(instance_id).history.as_json())  # type: ignore[no-any-return]

    def statuses(self) -> list[dict[str, Any]]:
        with self._cond:
            return [instance.status_json(show_input=True) for instance in self._instances.values()]

    def stats(self) -> EngineStats:
        with self._cond:
            return EngineStats(
                instances=len(self._instances),
                max_history_events=max(
                    (len(instance.history) for instance in self._instances.values()), default=0
                ),
                replayed_events=self._replayed_events,
                episodes=self._episodes,
                activities_run=self._activities_run,
                duplicated_activities=self._duplicated,
            )

    # ----- running -----

    def run_ready(self) -> int:
        """Run all work runnable at `clock.now()` until none is left; episodes and activity runs."""
        ran = 0
        with self._cond:
            activities_before = self._activities_run
        while True:
            with self._cond:
                instance = self._next_runnable()
                if instance is None:
                    return ran + self._activities_run - activities_before
            self._run_episode(instance)
            ran += 1

    def next_due(self) -> datetime | None:
        with self._cond:
            while self._timers and not self._timer_is_live(self._timers[0]):
                heapq.heappop(self._timers)
            return self._timers[0][0] if self._timers else None

    def wait_for_work(self, timeout: float) -> bool:
        with self._cond:
            if not self._woken:
                self._cond.wait(timeout)
            woken, self._woken = self._woken, False
            return woken

    def close(self) -> None:
        """Stop the activity pool, waiting for the activities already running."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ----- internals (called with the condition held unless said otherwise) -----

    def _existing(self, instance_id: str) -> Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise UnknownInstance(f"no orchestration instance {instance_id!r}")
        return instance

    def _wake(self) -> None:
        self._woken = True
        self._cond.notify_all()

    def _enqueue(self, instance: Instance) -> None:
        if not instance.queued and not instance.busy:
            instance.queued = True
            if not self._ready:
                self._ready_since = time.monotonic()
            self._ready.append(instance.instance_id)

    def _start(
        self, name: str, instance_id: str, input_json: str | None, parent: ParentLink | None
    ) -> None:
        now = self.clock.now()
        instance = Instance(
            instance_id=instance_id,
            name=name,
            input_json=input_json,
            parent=parent,
            created=now,
            updated=now,
        )
        previous = self._instances.get(instance_id)
        if previous is not None:
            # A replaced instance's queued episode must not run the new one twice.
            instance.queued = previous.queued
        instance.inbox.append(instance.execution_started(now))
        self._instances[instance_id] = instance
        if not instance.queued:
            self._enqueue(instance)

    def _next_runnable(self) -> Instance | None:
        """The next instance to replay, waiting for running activities when that is all there is."""
        while True:
            self._fire_due_timers()
            while self._ready and self._ready[0] not in self._instances:
                self._ready.popleft()
            if self._ready and self._batch_closed():
                instance = self._instances[self._ready.popleft()]
                instance.queued = False
                if not self._ready:
                    self._ready_since = None
                if instance.finished or not instance.inbox:
                    continue
                return instance
            if not self._ready and not self._in_flight:
                return None
            self._cond.wait(BATCH_WINDOW_SECONDS)

    def _batch_closed(self) -> bool:
        if not self._in_flight:
            return True
        now = time.monotonic()
        quiet = now - self._last_completion >= BATCH_WINDOW_SECONDS
        overdue = (
            self._ready_since is not None and now - self._ready_since >= MAX_BATCH_DELAY_SECONDS
        )
        return quiet or overdue

    def _fire_due_timers(self) -> None:
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            entry = heapq.heappop(self._timers)
            if not self._timer_is_live(entry):
                continue
            fire_at, _, instance_id, _, timer_id = entry
            instance = self._instances[instance_id]
            instance.open_timers.discard(timer_id)
            instance.inbox.append(
                event(EventType.TIMER_FIRED, now, TimerId=timer_id, FireAt=timestamp(fire_at))
            )
            self._enqueue(instance)

    def _timer_is_live(self, entry: tuple[datetime, int, str, str, int]) -> bool:
        _, _, instance_id, execution_id, timer_id = entry
        instance = self._instances.get(instance_id)
        return (
            instance is not None
            and instance.execution_id == execution_id
            and not instance.finished
            and timer_id in instance.open_timers
        )

    # ----- one episode -----

    def _run_episode(self, instance: Instance) -> None:
        """Replay `instance` with its new events; called without the condition held."""
        with self._cond:
            instance.busy = True
            execution_id = instance.execution_id
            now = self.clock.now()
            batch, retry_steps = instance.take_batch()
            replayed = instance.history.played_count
            instance.history.append(event(EventType.ORCHESTRATOR_STARTED, now))
            for new_event in batch:
                instance.history.append(new_event)
            context_json = instance.context_json()
            if instance.status is not OrchestrationStatus.RUNNING:
                instance.status = OrchestrationStatus.RUNNING
                instance.updated = now
            self._episodes += 1
            if replayed:
                instance.replay_count += 1
                self._replayed_events += replayed
            handle = self.app.orchestrator(instance.name).user_function

        state, error = run_orchestrator(handle, context_json)

        with self._cond:
            instance.busy = False
            if self._instances.get(instance.instance_id) is instance and (
                instance.execution_id == execution_id
            ):
                if instance.terminate_reason is not None:
                    self._record_termination(instance, instance.terminate_reason, episode_open=True)
                else:
                    self._apply(instance, state, error, retry_steps, now)
            if instance.inbox and not instance.finished:
                self._enqueue(instance)
            self._cond.notify_all()

    def _apply(
        self,
        instance: Instance,
        state: Mapping[str, Any] | None,
        error: str | None,
        retry_steps: list[RetryStep],
        now: datetime,
    ) -> None:
        if state is None:
            self._fail(
                instance, f"Orchestrator function '{instance.name}' failed: {error}", error, now
            )
            return
        try:
            actions = flatten(state)
        except UnsupportedAction as unsupported:
            self._fail(
                instance,
                f"Orchestrator function '{instance.name}' failed: {unsupported}",
                str(unsupported),
                now,
            )
            return
        new_actions, mismatch = instance.match(actions)
        if mismatch is not None:
            self._fail(instance, mismatch, mismatch, now)
            return
        if state.get("customStatus"):
            instance.custom_status = state["customStatus"]
        if error is not None:
            self._fail(
                instance, f"Orchestrator function '{instance.name}' failed: {error}", error, now
            )
            return
        for step in retry_steps:
            policy = step.retry.action.retry
            if step.is_timer and policy is not None:
                delay = timedelta(milliseconds=policy.first_retry_interval_ms)
                self._schedule_timer(instance, step.number, now + delay, now)
            else:
                self._schedule_call(instance, step.number, step.retry.action, now)
        continue_as_new: Action | None = None
        for number, action in new_actions:
            if action.type is ActionType.CONTINUE_AS_NEW:
                continue_as_new = action
            elif action.type is ActionType.CREATE_TIMER:
                assert action.fire_at is not None
                self._schedule_timer(
                    instance, number, action.fire_at, now, canceled=action.is_canceled
                )
            elif action.type is not ActionType.WAIT_FOR_EXTERNAL_EVENT:
                if action.retry is not None:
                    instance.retry_attempts[number] = Retry(action)
                self._schedule_call(instance, number, action, now)
        instance.updated = now
        if continue_as_new is not None and state.get("isDone"):
            self._continue_as_new(instance, continue_as_new, now)
        elif state.get("isDone"):
            output = state.get("output")
            self._finish(instance, OrchestrationStatus.COMPLETED, output, json.dumps(output), now)
        else:
            instance.history.append(event(EventType.ORCHESTRATOR_COMPLETED, now))
            instance.history.mark_played()

    def _schedule_timer(
        self,
        instance: Instance,
        number: int,
        fire_at: datetime,
        now: datetime,
        *,
        canceled: bool = False,
    ) -> None:
        instance.history.append(
            event(EventType.TIMER_CREATED, now, number, FireAt=timestamp(fire_at))
        )
        if not canceled:
            instance.open_timers.add(number)
            heapq.heappush(
                self._timers,
                (
                    fire_at,
                    next(self._timer_order),
                    instance.instance_id,
                    instance.execution_id,
                    number,
                ),
            )

    def _schedule_call(
        self, instance: Instance, number: int, action: Action, now: datetime
    ) -> None:
        if action.kind == "activity":
            instance.history.append(
                event(
                    EventType.TASK_SCHEDULED,
                    now,
                    number,
                    Name=action.name,
                    Version="",
                    Input=action.input_json,
                )
            )
            self._submit_activity(instance, number, action)
            return
        child_id = action.instance_id or f"{instance.execution_id}:{number}"
        instance.history.append(
            event(
                EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
                now,
                number,
                Name=action.name,
                Version="",
                InstanceId=child_id,
                Input=action.input_json,
            )
        )
        link = ParentLink(instance.instance_id, instance.execution_id, number, instance.name)
        try:
            spec = self.app.orchestrator(action.name)
        except UnknownFunctionError as error:
            instance.inbox.append(
                event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    now,
                    TaskScheduledId=number,
                    Reason=str(error),
                    Details=str(error),
                )
            )
            return
        self._start(spec.name, child_id, action.input_json, parent=link)

    def _submit_activity(self, instance: Instance, number: int, action: Action) -> None:
        runs = 1
        if self._duplicate_probability and self._random.random() < self._duplicate_probability:
            runs = 2
        job = _ActivityJob(
            instance.instance_id,
            instance.execution_id,
            number,
            action.name,
            action.input_json,
            runs,
        )
        self._in_flight += 1
        self._pool.submit(self._execute_activity, job)

    def _execute_activity(self, job: _ActivityJob) -> None:
        """On a pool thread: run the activity (twice if duplicated), deliver the last outcome."""
        outcome = ActivityOutcome(reason="activity did not run")
        try:
            for _ in range(job.runs):
                outcome = run_activity(self.app, job.name, job.input_json)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._activities_run += job.runs
                self._duplicated += job.runs - 1
                self._last_completion = time.monotonic()
                self._deliver_activity(job, outcome)
                self._wake()

    def _deliver_activity(self, job: _ActivityJob, outcome: ActivityOutcome) -> None:
        instance = self._instances.get(job.instance_id)
        if instance is None or instance.execution_id != job.execution_id or instance.finished:
            return
        now = self.clock.now()
        if outcome.failed:
            completion = event(
                EventType.TASK_FAILED,
                now,
                TaskScheduledId=job.task_id,
                Reason=outcome.reason,
                Details=outcome.details,
            )
        else:
            completion = event(
                EventType.TASK_COMPLETED,
                now,
                TaskScheduledId=job.task_id,
                Result=outcome.result_json,
            )
        instance.inbox.append(completion)
        self._enqueue(instance)

    # ----- endings -----

    def _fail(self, instance: Instance, output: str, details: str | None, now: datetime) -> None:
        self._finish(instance, OrchestrationStatus.FAILED, output, output, now, details=details)

    def _record_termination(
        self, instance: Instance, reason: str, *, episode_open: bool = False
    ) -> None:
        now = self.clock.now()
        if not episode_open:
            instance.history.append(event(EventType.ORCHESTRATOR_STARTED, now))
        instance.history.append(
            event(EventType.EXECUTION_TERMINATED, now, Input=json.dumps(reason))
        )
        instance.inbox = []
        self._finish(instance, OrchestrationStatus.TERMINATED, reason, json.dumps(reason), now)

    def _finish(
        self,
        instance: Instance,
        status: OrchestrationStatus,
        output: Any,
        result_json: str,
        now: datetime,
        *,
        details: str | None = None,
    ) -> None:
        instance.history.append(
            event(
                EventType.EXECUTION_COMPLETED,
                now,
                OrchestrationStatus=int(status),
                Result=result_json,
                FailureDetails=None,
            )
        )
        instance.history.append(event(EventType.ORCHESTRATOR_COMPLETED, now))
        instance.history.mark_played()
        instance.status = status
        instance.output = output
        instance.updated = now
        instance.open_timers.clear()
        instance.retry_attempts.clear()
        instance.retry_timers.clear()
        self._notify_parent(instance, now, details)
        self._wake()

    def _notify_parent(self, instance: Instance, now: datetime, details: str | None) -> None:
        link = instance.parent
        if link is None:
            return
        parent = self._instances.get(link.instance_id)
        if parent is None or parent.execution_id != link.execution_id or parent.finished:
            return
        if instance.status is OrchestrationStatus.COMPLETED:
            completion = event(
                EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                now,
                TaskScheduledId=link.task_id,
                Result=json.dumps(instance.output),
            )
        else:
            reason = str(instance.output)
            if instance.status is OrchestrationStatus.TERMINATED:
                reason = (
                    f"Orchestrator function '{instance.name}' was terminated: {instance.output}"
                )
            completion = event(
                EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                now,
                TaskScheduledId=link.task_id,
                Reason=reason,
                Details=details if details is not None else reason,
            )
        parent.inbox.append(completion)
        self._enqueue(parent)

    def _continue_as_new(self, instance: Instance, action: Action, now: datetime) -> None:
        instance.history.append(event(EventType.CONTINUE_AS_NEW, now, Result=action.input_json))
        instance.history.append(event(EventType.ORCHESTRATOR_COMPLETED, now))
        instance.new_execution(action.input_json, now)
        self._enqueue(instance)
