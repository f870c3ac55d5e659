"""The Durable client binding and the Durable HTTP API, driven by the real SDK client."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from devhost.app_loader import loaded
from devhost.host import LocalHost
from fleetsim.clock import ScaledClock, VirtualClock
from tests.devhost.host_apps import durable_http
from tests.devhost.host_apps.http_client import Answer, call, poll_until_done

_ids = itertools.count()


@pytest.fixture(scope="module")
def host() -> Iterator[LocalHost]:
    app = loaded(durable_http.app, host_json={"extensions": {"durableTask": {"hubName": "Hub1"}}})
    with LocalHost(app, clock=ScaledClock()) as host:
        yield host


def _start(host: LocalHost, orchestrator: str, body: object, instance_id: str = "") -> Answer:
    query = f"code={host.function_key}" + (f"&id={instance_id}" if instance_id else "")
    return call("POST", f"{host.base_url}/api/start/{orchestrator}?{query}", body)


def _manage(
    host: LocalHost, instance_id: str, action: str, body: object = None, query: str = ""
) -> Answer:
    url = f"{host.base_url}/api/manage/{instance_id}/{action}?code={host.function_key}{query}"
    return call("POST", url, body)


def _started_approval(host: LocalHost) -> tuple[str, dict[str, str]]:
    """An `approval` instance waiting for its decision event."""
    instance_id = f"order-{next(_ids)}"
    links = _start(host, "approval", {"order": instance_id}, instance_id).json()
    waiting = poll_running(links["statusQueryGetUri"])
    assert waiting.json()["customStatus"] == "waiting"
    return instance_id, links


def poll_running(status_url: str) -> Answer:
    """The status once the instance has run its first episode."""
    for _ in range(500):
        answer = call("GET", status_url)
        if answer.status != 202 or answer.json()["customStatus"] is not None:
            return answer
    raise AssertionError(f"{status_url} never started")


def test_a_starter_s_check_status_response_leads_to_the_output() -> None:
    app = loaded(durable_http.app)
    with LocalHost(app, clock=ScaledClock()) as host:
        # Links take the origin of the request, as the SDK builds them from req.url.
        origin = host.base_url.replace("127.0.0.1", "localhost")
        started = call(
            "POST", f"{origin}/api/start/greetings?code={host.function_key}", ["ada", "bob"]
        )
        links = started.json()

        assert started.status == 202
        assert started.headers["location"] == links["statusQueryGetUri"]
        assert links["statusQueryGetUri"].startswith(f"{origin}/runtime/webhooks/durabletask/")
        assert (
            f"taskHub=TestHubName&connection=Storage&code={host.function_key}"
            in (links["statusQueryGetUri"])
        )
        done = poll_until_done(links["statusQueryGetUri"])
        assert done.status == 200
        assert done.json()["runtimeStatus"] == "Completed"
        assert done.json()["output"] == ["hello ada", "hello bob"]
        assert done.json()["input"] == ["ada", "bob"]


def test_a_failed_instance_answers_200_with_the_failure(host: LocalHost) -> None:
    links = _start(host, "doomed", "x").json()
    done = poll_until_done(links["statusQueryGetUri"])

    assert done.status == 200
    assert done.json()["runtimeStatus"] == "Failed"
    assert "doomed from the start" in str(done.json()["output"])


def test_the_client_binding_gives_the_extension_s_link_templates(host: LocalHost) -> None:
    links = _manage(host, "abc", "links").json()
    instance = f"{host.base_url}/runtime/webhooks/durabletask/instances/abc"
    query = f"taskHub=Hub1&connection=Storage&code={host.function_key}"

    assert links["id"] == "abc"
    assert links["statusQueryGetUri"] == links["purgeHistoryDeleteUri"] == f"{instance}?{query}"
    assert links["sendEventPostUri"] == f"{instance}/raiseEvent/{{eventName}}?{query}"
    assert links["terminatePostUri"] == f"{instance}/terminate?reason={{text}}&{query}"


def test_a_running_instance_answers_202_with_location_and_retry_after(host: LocalHost) -> None:
    instance_id, links = _started_approval(host)
    waiting = call("GET", links["statusQueryGetUri"])

    assert waiting.status == 202
    assert waiting.headers["location"].startswith(
        f"{host.base_url}/runtime/webhooks/durabletask/instances/{instance_id}?taskHub=Hub1"
    )
    assert waiting.headers["retry-after"] == "10"
    assert waiting.json()["runtimeStatus"] == "Running"
    assert {"historyEventCount", "replayCount", "createdTime", "lastUpdatedTime"} <= set(
        waiting.json()
    )


def test_the_client_raises_an_event_and_a_finished_instance_refuses_more(host: LocalHost) -> None:
    instance_id, links = _started_approval(host)

    assert _manage(host, instance_id, "raise", {"approved": True}).json() == "raised"
    done = poll_until_done(links["statusQueryGetUri"]).json()
    assert done["output"] == {"input": {"order": instance_id}, "decision": {"approved": True}}
    again = _manage(host, instance_id, "raise", {"approved": False})
    assert again.status == 409
    assert "is gone" in again.json()["error"]


def test_the_client_reads_status_and_history(host: LocalHost) -> None:
    instance_id, _ = _started_approval(host)
    status = _manage(host, instance_id, "status").json()
    unknown = _manage(host, "no-such-instance", "status").json()

    assert status["found"] is True
    assert status["runtimeStatus"] == "Running"
    assert status["instanceId"] == instance_id
    assert [event["EventType"] for event in status["historyEvents"]] == ["ExecutionStarted"]
    assert unknown == {"found": False}


def test_events_through_the_http_api(host: LocalHost) -> None:
    instance_id, links = _started_approval(host)
    send = links["sendEventPostUri"].replace("{eventName}", "decision")

    assert call("POST", send, raw=b"not json").status == 400
    unknown = links["sendEventPostUri"].replace(instance_id, "nobody")
    assert call("POST", unknown.replace("{eventName}", "decision"), "x").status == 404
    assert call("POST", send, {"approved": "by http"}).status == 202
    done = poll_until_done(links["statusQueryGetUri"]).json()
    assert done["output"]["decision"] == {"approved": "by http"}
    assert call("POST", send, {"approved": "late"}).status == 410


def test_terminate_through_the_client_and_the_http_api(host: LocalHost) -> None:
    instance_id, links = _started_approval(host)

    assert (
        _manage(host, instance_id, "terminate", query="&reason=no%20longer%20needed").status == 200
    )
    done = poll_until_done(links["statusQueryGetUri"])
    assert done.status == 200
    assert done.json()["runtimeStatus"] == "Terminated"
    assert "no longer needed" in str(done.json()["output"])
    terminate = links["terminatePostUri"].replace("{text}", "again")
    assert call("POST", terminate).status == 410
    assert call("POST", terminate.replace(instance_id, "nobody")).status == 404


def test_purge_refuses_a_running_instance_and_removes_a_finished_one(host: LocalHost) -> None:
    instance_id, links = _started_approval(host)

    running = call("DELETE", links["purgeHistoryDeleteUri"])
    assert running.status == 412
    assert "Message" in running.json()
    call("POST", links["sendEventPostUri"].replace("{eventName}", "decision"), "ok")
    poll_until_done(links["statusQueryGetUri"])
    assert _manage(host, instance_id, "purge").json() == {"deleted": 1}
    assert call("GET", links["statusQueryGetUri"]).status == 404
    assert _manage(host, instance_id, "purge").json() == {"deleted": 0}


def test_the_webhooks_need_the_key(host: LocalHost) -> None:
    _, links = _started_approval(host)
    without_key = links["statusQueryGetUri"].split("?")[0]

    assert call("GET", without_key).status == 401
    assert call("GET", without_key, headers={"x-functions-key": host.function_key}).status == 202


def test_start_through_the_http_api_with_an_id_and_list_instances(host: LocalHost) -> None:
    base = f"{host.base_url}/runtime/webhooks/durabletask"
    key = f"code={host.function_key}"
    instance_id = f"direct {next(_ids)}"

    started = call("POST", f"{base}/orchestrators/greetings/{quote(instance_id)}?{key}", ["cy"])
    assert started.status == 202
    assert started.json()["id"] == instance_id
    done = poll_until_done(started.json()["statusQueryGetUri"])
    assert done.json()["output"] == ["hello cy"]
    unknown = call("POST", f"{base}/orchestrators/nothing?{key}", [])
    assert unknown.status == 400
    assert "nothing" in unknown.json()["ExceptionMessage"]

    listed = call("GET", f"{base}/instances?{key}&runtimeStatus=Completed").json()
    assert instance_id in {status["instanceId"] for status in listed}
    assert {status["runtimeStatus"] for status in listed} == {"Completed"}
    by_client = _manage(host, "any", "list").json()
    assert instance_id in by_client


def test_the_instance_list_filters_by_prefix_and_creation_time(host: LocalHost) -> None:
    instances = f"{host.base_url}/runtime/webhooks/durabletask/instances?code={host.function_key}"
    instance_id = f"filtered-{next(_ids)}"
    poll_until_done(_start(host, "greetings", [], instance_id).json()["statusQueryGetUri"])

    by_prefix = call("GET", f"{instances}&instanceIdPrefix=filtered-").json()
    future = call("GET", f"{instances}&createdTimeFrom=2999-01-01T00:00:00Z").json()
    past = call("GET", f"{instances}&createdTimeTo=2000-01-01T00:00:00Z").json()
    assert [status["instanceId"] for status in by_prefix] == [instance_id]
    assert (future, past) == ([], [])
    assert call("GET", f"{instances}&createdTimeFrom=yesterday").status == 400


def test_show_history_adds_the_history_events(host: LocalHost) -> None:
    started = _start(host, "greetings", ["di"]).json()
    poll_until_done(started["statusQueryGetUri"])

    plain = call("GET", started["statusQueryGetUri"]).json()
    full = call("GET", started["statusQueryGetUri"] + "&showHistory=true").json()
    assert "historyEvents" not in plain
    assert full["historyEvents"][0]["EventType"] == "ExecutionStarted"
    assert full["historyEvents"][-1]["EventType"] == "ExecutionCompleted"
    assert plain["historyEventCount"] > 0


def test_on_a_virtual_clock_run_until_jumps_to_the_durable_timer() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = VirtualClock(start)
    with LocalHost(loaded(durable_http.app), clock=clock) as host:
        links = _start(host, "nap", 48).json()
        assert call("GET", links["statusQueryGetUri"]).json()["runtimeStatus"] == "Pending"

        host.run_until(start + timedelta(days=3))

        done = call("GET", links["statusQueryGetUri"])
        assert done.status == 200
        assert done.json()["output"] == (start + timedelta(hours=48)).isoformat()
