"""The replay engine against a real Durable app: results, histories and failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devhost.durable.errors import InstanceFinished, UnknownOrchestrator
from devhost.durable.history import EventType
from tests.devhost.apps import durable_workflows
from tests.devhost.durable_support import (
    START,
    engine_on_virtual_clock,
    history_types,
    run_for,
    status_of,
)


def test_chain_replays_the_whole_history_at_every_step() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("chain", input={"start": 1, "steps": 4})
        assert status_of(engine, instance_id)["runtimeStatus"] == "Pending"
        engine.run_ready()
        status = status_of(engine, instance_id)
        assert status["runtimeStatus"] == "Completed"
        assert status["output"] == [2, 4, 8, 16]
        assert status["replayCount"] == 4
        history = engine.history(instance_id)
        assert status["historyEventCount"] == len(history)
        assert [event["EventType"] for event in history[:4]] == [
            EventType.ORCHESTRATOR_STARTED,
            EventType.EXECUTION_STARTED,
            EventType.TASK_SCHEDULED,
            EventType.ORCHESTRATOR_COMPLETED,
        ]
        scheduled = [e for e in history if e["EventType"] == EventType.TASK_SCHEDULED]
        completed = [e for e in history if e["EventType"] == EventType.TASK_COMPLETED]
        assert [e["EventId"] for e in scheduled] == [0, 1, 2, 3]
        assert [e["TaskScheduledId"] for e in completed] == [0, 1, 2, 3]
        assert [e["Result"] for e in completed] == ["2", "4", "8", "16"]
        assert all(e["EventId"] == -1 for e in completed)
        assert history[-2]["EventType"] == EventType.EXECUTION_COMPLETED
        assert all(event["IsPlayed"] for event in history)


def test_fan_out_and_fan_in_runs_every_activity_once() -> None:
    with engine_on_virtual_clock(activity_workers=4) as (engine, _clock):
        instance_id = engine.start_new("fan_out", input=50)
        engine.run_ready()
        assert status_of(engine, instance_id)["output"] == sum(2 * n for n in range(50))
        history = engine.history(instance_id)
        scheduled = [e["EventId"] for e in history if e["EventType"] == EventType.TASK_SCHEDULED]
        assert scheduled == list(range(50))
        assert engine.stats().activities_run == 50


def test_sub_orchestrations_get_the_extensions_instance_ids_and_their_failures_surface() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        ok = engine.start_new("parent", input=["ada", "bob"])
        failing = engine.start_new("parent", input=["ada", "nobody"])
        named = engine.start_new("parent_with_id")
        engine.run_ready()
        execution_id = engine.history(ok)[1]["OrchestrationInstance"]["ExecutionId"]
        assert status_of(engine, ok)["output"] == [
            f"{execution_id}:0|{ok}|HELLO ADA!",
            f"{execution_id}:1|{ok}|HELLO BOB!",
        ]
        assert status_of(engine, failing)["output"].startswith(
            "caught: Orchestrator function 'greet_child' failed: nobody to greet"
        )
        failed_child = engine.history(failing)[1]["OrchestrationInstance"]["ExecutionId"] + ":1"
        assert status_of(engine, failed_child)["runtimeStatus"] == "Failed"
        assert status_of(engine, named)["output"] == f"child-ada|{named}|HELLO ADA!"
        created = [
            e
            for e in engine.history(named)
            if e["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED
        ]
        assert [(e["Name"], e["InstanceId"], e["EventId"]) for e in created] == [
            ("greet_child", "child-ada", 0)
        ]


def test_a_ten_day_timer_is_split_into_timers_the_storage_backend_can_hold() -> None:
    with engine_on_virtual_clock() as (engine, clock):
        instance_id = engine.start_new("wait_a_while", input=10 * 86400)
        run_for(engine, clock, timedelta(days=30))
        status = status_of(engine, instance_id)
        assert status["output"] == [START.isoformat(), (START + timedelta(days=10)).isoformat()]
        fire_times = [
            e["FireAt"]
            for e in engine.history(instance_id)
            if e["EventType"] == EventType.TIMER_CREATED
        ]
        assert fire_times == [
            (START + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for days in (3, 6, 10)
        ]
        # The clock stopped at the last timer: nothing was left to wake for.
        assert clock.now() == START + timedelta(days=10)


def test_an_event_raised_before_the_orchestrator_waits_for_it_is_kept() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("progress")
        engine.raise_event(instance_id, "Next", {"go": True})
        engine.run_ready()
        assert status_of(engine, instance_id)["output"] == "done"


def test_an_external_event_beats_its_timeout_and_the_timer_is_dropped() -> None:
    with engine_on_virtual_clock() as (engine, clock):
        approved = engine.start_new("approval_or_timeout", input=2)
        timed_out = engine.start_new("approval_or_timeout", input=2)
        engine.run_ready()
        assert engine.next_due() == START + timedelta(hours=2)
        engine.raise_event(approved, "Approval", "yes")
        engine.run_ready()
        assert status_of(engine, approved)["output"] == {"approved": "yes"}
        run_for(engine, clock, timedelta(days=1))
        assert status_of(engine, timed_out)["output"] == {"approved": None}
        assert clock.now() == START + timedelta(hours=2)
        assert engine.next_due() is None


def test_a_retried_activity_records_attempts_and_timers_as_the_extension_does() -> None:
    durable_workflows.executions.clear()
    with engine_on_virtual_clock() as (engine, clock):
        instance_id = engine.start_new("retrying", input={"key": "eventually", "failures": 2})
        run_for(engine, clock, timedelta(minutes=5))
        assert status_of(engine, instance_id)["output"] == "succeeded on attempt 3"
        assert clock.now() == START + timedelta(seconds=10)
        numbered = [
            (
                EventType(e["EventType"]).name,
                e.get("TaskScheduledId", e.get("TimerId", e["EventId"])),
            )
            for e in engine.history(instance_id)
            if e["EventType"]
            not in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED)
        ][1:-1]
        assert numbered == [
            ("TASK_SCHEDULED", 0),
            ("TASK_FAILED", 0),
            ("TIMER_CREATED", 1),
            ("TIMER_FIRED", 1),
            ("TASK_SCHEDULED", 2),
            ("TASK_FAILED", 2),
            ("TIMER_CREATED", 3),
            ("TIMER_FIRED", 3),
            ("TASK_SCHEDULED", 4),
            ("TASK_COMPLETED", 4),
        ]


def test_a_retried_activity_gives_up_after_its_attempts_and_one_last_timer() -> None:
    durable_workflows.executions.clear()
    with engine_on_virtual_clock() as (engine, clock):
        instance_id = engine.start_new("retrying", input={"key": "never", "failures": 9})
        run_for(engine, clock, timedelta(minutes=5))
        output = status_of(engine, instance_id)["output"]
        assert output.startswith(
            "gave up: Activity function 'flaky' failed: RuntimeError: attempt 3 failed"
        )
        assert durable_workflows.executions["flaky:never"] == 3
        assert history_types(engine, instance_id).count("TimerFired") == 3


def test_a_retried_sub_orchestration_starts_a_new_child_per_attempt() -> None:
    durable_workflows.executions.clear()
    with engine_on_virtual_clock() as (engine, clock):
        instance_id = engine.start_new("retrying_child", input={"key": "child", "failures": 1})
        run_for(engine, clock, timedelta(minutes=5))
        assert status_of(engine, instance_id)["output"] == "succeeded on attempt 2"
        children = [
            e["InstanceId"]
            for e in engine.history(instance_id)
            if e["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED
        ]
        execution_id = engine.history(instance_id)[1]["OrchestrationInstance"]["ExecutionId"]
        assert children == [f"{execution_id}:0", f"{execution_id}:2"]
        assert [status_of(engine, child)["runtimeStatus"] for child in children] == [
            "Failed",
            "Completed",
        ]


def test_continue_as_new_starts_a_fresh_history_and_keeps_the_custom_status() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("counter", input=0)
        engine.run_ready()
        status = status_of(engine, instance_id)
        assert status["runtimeStatus"] == "Completed"
        assert (status["input"], status["output"], status["customStatus"]) == (3, 3, {"count": 3})
        history = engine.history(instance_id)
        assert history[1]["Input"] == "3"
        assert status["historyEventCount"] == len(history) == 4
        assert status["replayCount"] == 3


def test_custom_status_is_kept_when_an_episode_does_not_send_one() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("progress")
        engine.run_ready()
        status = status_of(engine, instance_id)
        assert (status["runtimeStatus"], status["customStatus"]) == ("Running", "step one")
        engine.raise_event(instance_id, "Next")
        engine.run_ready()
        status = status_of(engine, instance_id)
        assert (status["runtimeStatus"], status["customStatus"]) == ("Completed", "step one")


def test_an_orchestrator_exception_fails_the_instance() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("failing")
        engine.run_ready()
        status = status_of(engine, instance_id)
        assert status["runtimeStatus"] == "Failed"
        assert status["output"] == "Orchestrator function 'failing' failed: the orchestrator broke"
        assert engine.history(instance_id)[-2]["OrchestrationStatus"] == 3


def test_a_failed_activity_surfaces_with_the_extensions_reason() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("activity_failure")
        engine.run_ready()
        output = status_of(engine, instance_id)["output"]
        assert output.startswith("Activity function 'explode' failed: ValueError: kaboom \n ")
        failed = [e for e in engine.history(instance_id) if e["EventType"] == EventType.TASK_FAILED]
        assert failed[0]["Reason"] == "Activity function 'explode' failed: ValueError: kaboom"
        assert "raise ValueError(message)" in failed[0]["Details"]


def test_replay_keeps_each_episodes_time_so_new_uuid_is_stable() -> None:
    outputs = []
    for fast in (True, False):
        with engine_on_virtual_clock(fast_timestamps=fast) as (engine, clock):
            instance_id = engine.start_new("ids_and_times", instance_id="fixed")
            run_for(engine, clock, timedelta(hours=1))
            outputs.append(status_of(engine, instance_id)["output"])
    # Same values with the SDK's own timestamp parsing as with the shortcut.
    assert outputs[0] == outputs[1]
    first, started, second, after_timer, third, after_activity = outputs[0]
    assert len({first, second, third}) == 3
    assert started == START.isoformat()
    assert after_timer == after_activity == (START + timedelta(minutes=1)).isoformat()


def test_terminate_ends_a_waiting_instance_and_refuses_later_events() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("approval")
        engine.run_ready()
        engine.terminate(instance_id, "no longer needed")
        status = status_of(engine, instance_id)
        assert (status["runtimeStatus"], status["output"]) == ("Terminated", "no longer needed")
        assert history_types(engine, instance_id)[-2:] == [
            "ExecutionTerminated",
            "ExecutionCompleted",
        ]
        with pytest.raises(InstanceFinished):
            engine.raise_event(instance_id, "Approval", "too late")
        with pytest.raises(InstanceFinished):
            engine.terminate(instance_id)
        engine.run_ready()
        assert status_of(engine, instance_id)["runtimeStatus"] == "Terminated"


def test_duplicated_activities_run_twice_and_record_one_outcome() -> None:
    durable_workflows.executions.clear()
    with engine_on_virtual_clock(duplicate_activities=1.0) as (engine, _clock):
        instance_id = engine.start_new("fan_out", input=10)
        engine.run_ready()
        assert status_of(engine, instance_id)["output"] == sum(2 * n for n in range(10))
        assert all(durable_workflows.executions[f"double:{n}"] == 2 for n in range(10))
        completions = [
            e for e in engine.history(instance_id) if e["EventType"] == EventType.TASK_COMPLETED
        ]
        assert len(completions) == 10
        stats = engine.stats()
        assert (stats.activities_run, stats.duplicated_activities) == (20, 10)


def test_duplicates_follow_the_seeded_probability() -> None:
    counts = []
    for _ in range(2):
        with engine_on_virtual_clock(duplicate_activities=0.5, seed=7) as (engine, _clock):
            engine.start_new("fan_out", input=40)
            engine.run_ready()
            counts.append(engine.stats().duplicated_activities)
    assert counts[0] == counts[1]
    assert 5 < counts[0] < 35


def test_unknown_orchestrators_are_refused_and_names_match_case_insensitively() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        with pytest.raises(UnknownOrchestrator, match="'nope' doesn't exist"):
            engine.start_new("nope")
        with pytest.raises(UnknownOrchestrator, match="not an orchestrator"):
            engine.start_new("double")
        instance_id = engine.start_new("CHAIN", input={"start": 1, "steps": 1})
        engine.run_ready()
        assert status_of(engine, instance_id)["name"] == "chain"
        assert engine.status("unknown-id") is None


def test_a_terminated_or_missing_child_fails_the_parents_task() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        waiting = engine.start_new("supervise", input={"name": "approval", "id": "waiter"})
        missing = engine.start_new("supervise", input={"name": "no_such_orchestrator"})
        engine.run_ready()
        assert status_of(engine, "waiter")["runtimeStatus"] == "Running"
        engine.terminate("waiter", "operator stopped it")
        engine.run_ready()
        assert status_of(engine, waiting)["output"].startswith(
            "caught: Orchestrator function 'approval' was terminated: operator stopped it"
        )
        assert status_of(engine, missing)["output"].startswith(
            "caught: The function 'no_such_orchestrator' doesn't exist"
        )


def test_activities_run_at_the_same_time_on_the_pool() -> None:
    durable_workflows.meeting_point.reset()
    with engine_on_virtual_clock(activity_workers=2) as (engine, _clock):
        instance_id = engine.start_new("meeting")
        engine.run_ready()
        assert status_of(engine, instance_id)["output"] == ["ann", "bo"]
