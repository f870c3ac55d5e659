"""A Durable app exercising every orchestration feature the local engine plays."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()

# Activity executions by key, so tests can see retries and duplicates.
executions: Counter[str] = Counter()
_executions_lock = threading.Lock()


def _count(key: str) -> int:
    with _executions_lock:
        executions[key] += 1
        return executions[key]


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    _count(f"double:{value}")
    return value * 2


@app.activity_trigger(input_name="text")
def shout(text: str) -> str:
    return text.upper() + "!"


@app.activity_trigger(input_name="request")
def flaky(request: dict[str, Any]) -> str:
    attempt = _count(f"flaky:{request['key']}")
    if attempt <= request["failures"]:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


@app.activity_trigger(input_name="message")
def explode(message: str) -> None:
    raise ValueError(message)


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[int]]:
    value = context.get_input()
    results = []
    for _ in range(value["steps"]):
        value["start"] = yield context.call_activity("double", value["start"] % 1_000_000)
        results.append(value["start"])
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    count = context.get_input()
    doubled = yield context.task_all([context.call_activity("double", n) for n in range(count)])
    return sum(doubled)


@app.orchestration_trigger(context_name="context")
def greet_child(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    name = context.get_input()
    if name == "nobody":
        raise ValueError("nobody to greet")
    greeting = yield context.call_activity("shout", f"hello {name}")
    return f"{context.instance_id}|{context.parent_instance_id}|{greeting}"


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    names = context.get_input()
    tasks = [context.call_sub_orchestrator("greet_child", name) for name in names]
    try:
        return (yield context.task_all(tasks))
    except Exception as error:
        return f"caught: {error}"


@app.orchestration_trigger(context_name="context")
def parent_with_id(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    return (yield context.call_sub_orchestrator("greet_child", "ada", instance_id="child-ada"))


@app.orchestration_trigger(context_name="context")
def wait_a_while(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[str]]:
    wait = timedelta(seconds=context.get_input())
    started = context.current_utc_datetime
    yield context.create_timer(started + wait)
    return [started.isoformat(), context.current_utc_datetime.isoformat()]


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    answer = yield context.wait_for_external_event("Approval")
    return {"answer": answer}


@app.orchestration_trigger(context_name="context")
def approval_or_timeout(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    deadline = context.current_utc_datetime + timedelta(hours=context.get_input())
    timeout = context.create_timer(deadline)
    answer = context.wait_for_external_event("Approval")
    winner = yield context.task_any([answer, timeout])
    if winner == answer:
        timeout.cancel()
        return {"approved": answer.result}
    return {"approved": None}


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    request = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=3)
    try:
        return (yield context.call_activity_with_retry("flaky", options, request))
    except Exception as error:
        return f"gave up: {error}"


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    request = context.get_input()
    result: str = yield context.call_activity("flaky", request)
    return result


@app.orchestration_trigger(context_name="context")
def retrying_child(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=2)
    return (
        yield context.call_sub_orchestrator_with_retry("flaky_child", options, context.get_input())
    )


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    count = context.get_input()
    context.set_custom_status({"count": count})
    if count < 3:
        yield context.call_activity("double", count)
        context.continue_as_new(count + 1)
        return count
    return count


@app.orchestration_trigger(context_name="context")
def progress(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    context.set_custom_status("step one")
    yield context.call_activity("shout", "one")
    yield context.wait_for_external_event("Next")
    return "done"


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    yield context.call_activity("shout", "before the failure")
    raise RuntimeError("the orchestrator broke")


@app.orchestration_trigger(context_name="context")
def activity_failure(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    try:
        yield context.call_activity("explode", "kaboom")
    except Exception as error:
        return str(error)
    return "no failure"


@app.orchestration_trigger(context_name="context")
def ids_and_times(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[str]]:
    seen = [context.new_uuid(), context.current_utc_datetime.isoformat()]
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=1))
    seen += [context.new_uuid(), context.current_utc_datetime.isoformat()]
    yield context.call_activity("shout", "x")
    seen += [context.new_uuid(), context.current_utc_datetime.isoformat()]
    return seen


# Let a test act while an episode of `stalling` is running.
episode_entered = threading.Event()
episode_gate = threading.Event()


@app.orchestration_trigger(context_name="context")
def stalling(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    episode_entered.set()
    episode_gate.wait(timeout=10)
    return (yield context.call_activity("double", 21))


@app.orchestration_trigger(context_name="context")
def supervise(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    child = context.get_input()
    try:
        yield context.call_sub_orchestrator(child["name"], instance_id=child.get("id"))
    except Exception as error:
        return f"caught: {error}"
    return "child completed"


# Two activities that can only both finish when they run at the same time.
meeting_point = threading.Barrier(2)


@app.activity_trigger(input_name="who")
def meet(who: str) -> str:
    meeting_point.wait(timeout=5)
    return who


@app.orchestration_trigger(context_name="context")
def meeting(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[str]]:
    return (yield context.task_all([context.call_activity("meet", w) for w in ("ann", "bo")]))
