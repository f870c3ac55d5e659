"""The engine's management side: status shapes, purge, replacing ids, cross-thread calls."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from devhost.durable.driver import run_until
from devhost.durable.errors import InstanceExists, InstanceRunning, UnknownInstance
from tests.devhost.apps import durable_nondeterministic, durable_workflows
from tests.devhost.durable_support import START, engine_on_virtual_clock, status_of

_TIMESTAMP = START.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_status_has_the_extensions_fields_and_history_shape() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("parent_with_id")
        engine.run_ready()
        status = engine.status(instance_id, show_history=True, show_history_output=True)
        assert status is not None
        assert status["createdTime"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert set(status) == {
            "name", "instanceId", "runtimeStatus", "input", "customStatus", "output",
            "createdTime", "lastUpdatedTime", "historyEventCount", "replayCount",
            "historyEvents",
        }  # fmt: skip
        started, sub_completed, completed = status["historyEvents"]
        assert started == {
            "EventType": "ExecutionStarted",
            "Timestamp": _TIMESTAMP,
            "FunctionName": "parent_with_id",
            "Correlation": None,
            "ScheduledStartTime": None,
            "Generation": 0,
        }
        assert sub_completed == {
            "EventType": "SubOrchestrationInstanceCompleted",
            "Timestamp": _TIMESTAMP,
            "FunctionName": "greet_child",
            "ScheduledTime": _TIMESTAMP,
            "Result": f"child-ada|{instance_id}|HELLO ADA!",
        }
        assert completed["OrchestrationStatus"] == "Completed"
        assert completed["Result"] == f"child-ada|{instance_id}|HELLO ADA!"
        without_output = engine.status(instance_id, show_history=True)
        assert without_output is not None
        assert all("Result" not in item for item in without_output["historyEvents"])


def test_activity_history_folds_the_scheduling_into_the_completion() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("chain", input={"start": 3, "steps": 1})
        engine.run_ready()
        status = engine.status(instance_id, show_history=True, show_history_output=True)
        assert status is not None
        assert [item["EventType"] for item in status["historyEvents"]] == [
            "ExecutionStarted",
            "TaskCompleted",
            "ExecutionCompleted",
        ]
        task = status["historyEvents"][1]
        assert (task["FunctionName"], task["Result"], task["ScheduledTime"]) == (
            "double",
            6,
            _TIMESTAMP,
        )


def test_input_is_left_out_when_not_asked_for() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("approval", input={"who": "ops"})
        assert status_of(engine, instance_id)["input"] == {"who": "ops"}
        status = engine.status(instance_id, show_input=False)
        assert status is not None and status["input"] is None


def test_purge_removes_finished_instances_only() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        waiting = engine.start_new("approval")
        done = engine.start_new("chain", input={"start": 1, "steps": 1})
        engine.run_ready()
        with pytest.raises(InstanceRunning):
            engine.purge(waiting)
        engine.purge(done)
        assert engine.status(done) is None
        with pytest.raises(UnknownInstance):
            engine.purge(done)
        with pytest.raises(UnknownInstance):
            engine.raise_event(done, "Approval")
        with pytest.raises(UnknownInstance):
            engine.terminate(done)
        assert [status["instanceId"] for status in engine.statuses()] == [waiting]


def test_starting_an_existing_id_replaces_it_unless_host_json_forbids() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        engine.start_new("approval", instance_id="singleton")
        engine.run_ready()
        engine.start_new("chain", instance_id="singleton", input={"start": 2, "steps": 1})
        engine.run_ready()
        status = status_of(engine, "singleton")
        assert (status["name"], status["output"]) == ("chain", [4])
    settings = {
        "extensions": {"durableTask": {"overridableExistingInstanceStates": "NonRunningStates"}}
    }
    with engine_on_virtual_clock(host_json=settings) as (engine, _clock):
        engine.start_new("approval", instance_id="singleton")
        engine.run_ready()
        with pytest.raises(InstanceExists, match="Running"):
            engine.start_new("approval", instance_id="singleton")
        engine.terminate("singleton")
        engine.start_new("approval", instance_id="singleton")
        assert status_of(engine, "singleton")["runtimeStatus"] == "Pending"


def test_changing_what_a_replay_schedules_fails_the_instance() -> None:
    durable_nondeterministic.activity_to_call = "first"
    try:
        with engine_on_virtual_clock(durable_nondeterministic.app) as (engine, _clock):
            plain = engine.start_new("fickle")
            failing = engine.start_new("fickle_and_failing")
            engine.run_ready()
            assert status_of(engine, plain)["runtimeStatus"] == "Running"
            durable_nondeterministic.activity_to_call = "second"
            engine.raise_event(plain, "Go", 1)
            engine.raise_event(failing, "Go", 1)
            engine.run_ready()
            for instance_id in (plain, failing):
                status = status_of(engine, instance_id)
                assert status["runtimeStatus"] == "Failed"
                assert status["output"].startswith("Non-Deterministic workflow detected: ")
                assert "activity 'first'" in status["output"]
                assert "activity 'second'" in status["output"]
    finally:
        durable_nondeterministic.activity_to_call = "first"


def test_calls_from_other_threads_wake_a_waiting_loop() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        assert engine.wait_for_work(0.01) is False
        starter = threading.Timer(0.05, lambda: engine.start_new("approval", instance_id="late"))
        starter.start()
        assert engine.wait_for_work(5.0) is True
        starter.join()
        engine.run_ready()
        assert status_of(engine, "late")["runtimeStatus"] == "Running"


def test_events_raised_while_episodes_run_are_all_delivered() -> None:
    with engine_on_virtual_clock() as (engine, _clock):
        ids = [engine.start_new("approval") for _ in range(30)]
        runner = threading.Thread(target=lambda: [engine.run_ready() for _ in range(20)])
        runner.start()
        for instance_id in ids:
            engine.raise_event(instance_id, "Approval", instance_id)
        runner.join()
        engine.run_ready()
        assert [status_of(engine, i)["output"] for i in ids] == [{"answer": i} for i in ids]
        assert engine.next_due() is None
        assert engine.stats().instances == 30


def test_terminating_during_an_episode_discards_what_it_scheduled() -> None:
    durable_workflows.executions.clear()
    durable_workflows.episode_entered.clear()
    durable_workflows.episode_gate.clear()
    with engine_on_virtual_clock() as (engine, _clock):
        instance_id = engine.start_new("stalling")
        runner = threading.Thread(target=engine.run_ready)
        runner.start()
        assert durable_workflows.episode_entered.wait(timeout=10)
        engine.terminate(instance_id, "stop now")
        durable_workflows.episode_gate.set()
        runner.join()
        engine.run_ready()
        status = status_of(engine, instance_id)
        assert (status["runtimeStatus"], status["output"]) == ("Terminated", "stop now")
        assert durable_workflows.executions["double:21"] == 0
        assert [e["EventType"] for e in engine.history(instance_id)] == [12, 0, 3, 1, 13]


# The fields the Durable Task Framework's history events carry, as the extension serialises them.
_COMMON = {"EventType", "EventId", "IsPlayed", "Timestamp"}
_FIELDS = {
    0: {"OrchestrationInstance", "ParentInstance", "Name", "Version", "Input", "Tags",
        "Correlation", "ScheduledStartTime", "Generation"},
    1: {"OrchestrationStatus", "Result", "FailureDetails"},
    4: {"Name", "Version", "Input"},
    5: {"TaskScheduledId", "Result"},
    6: {"TaskScheduledId", "Reason", "Details"},
    7: {"Name", "Version", "InstanceId", "Input"},
    8: {"TaskScheduledId", "Result"},
    10: {"FireAt"},
    11: {"TimerId", "FireAt"},
    12: set(),
    13: set(),
    15: {"Name", "Input"},
}  # fmt: skip


def test_raw_history_events_carry_the_frameworks_fields() -> None:
    durable_workflows.executions.clear()
    with engine_on_virtual_clock() as (engine, clock):
        ids = [
            engine.start_new("retrying", input={"key": "shape", "failures": 1}),
            engine.start_new("parent_with_id"),
            engine.start_new("approval"),
        ]
        engine.raise_event(ids[2], "Approval", "ok")
        run_until(engine, clock, clock.now() + timedelta(minutes=1))
        seen = set()
        for instance_id in [*ids, "child-ada"]:
            assert status_of(engine, instance_id)["runtimeStatus"] == "Completed"
            for item in engine.history(instance_id):
                seen.add(item["EventType"])
                assert set(item) == _COMMON | _FIELDS[item["EventType"]], item
                assert item["Timestamp"].endswith("Z")
        assert seen == set(_FIELDS)
        parent_link = engine.history("child-ada")[1]["ParentInstance"]
        assert parent_link["OrchestrationInstance"]["InstanceId"] == ids[1]
        assert (parent_link["Name"], parent_link["TaskScheduleId"]) == ("parent_with_id", 0)
