"""HTTP triggers on the local host: routes, methods, keys, and the worker's conversions."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import azure.functions as func
import pytest

from devhost.app_loader import AppLoadError, loaded
from devhost.host import LocalHost
from fleetsim.clock import VirtualClock
from tests.devhost.host_apps import http_basics
from tests.devhost.host_apps.http_client import call

KEY = "test-key_1"
START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def host() -> Iterator[LocalHost]:
    with LocalHost(loaded(http_basics.app), clock=VirtualClock(START), function_key=KEY) as host:
        yield host


def test_route_parameters_are_matched_by_constraint_and_literals_win(host: LocalHost) -> None:
    number = call("GET", f"{host.base_url}/api/items/42").json()
    name = call("GET", f"{host.base_url}/api/items/widget").json()
    special = call("GET", f"{host.base_url}/api/items/Special").json()
    rest = call("GET", f"{host.base_url}/api/files/a/b%20c.txt").json()

    assert number["route"] == {"item_id": "42"}
    assert name["route"] == {"name": "widget"}
    assert special["route"] == {}
    assert rest["route"] == {"path": "a/b c.txt"}


def test_a_method_outside_the_route_s_methods_does_not_match(host: LocalHost) -> None:
    assert call("POST", f"{host.base_url}/api/items/widget", {}).status == 404
    # PUT is not item_by_number's method, so the number falls to item_by_name.
    put = call("PUT", f"{host.base_url}/api/items/42", raw=b"x")
    assert put.status == 200
    assert put.json()["route"] == {"name": "42"}


def test_the_request_object_carries_method_url_query_headers_and_body(host: LocalHost) -> None:
    url = f"{host.base_url}/api/files/report.txt?day=3&day=4&mode="
    echo = call("POST", url, raw=b"payload", headers={"X-Test": "yes"}).json()

    assert echo == {
        "method": "POST",
        "url": url,
        "route": {"path": "report.txt"},
        "params": {"day": "3", "mode": ""},
        "body": "payload",
        "header": "yes",
    }


@pytest.mark.parametrize(("route", "level"), [("secret", "function"), ("admin", "admin")])
def test_function_and_admin_levels_need_the_key_by_query_or_header(
    host: LocalHost, route: str, level: str
) -> None:
    url = f"{host.base_url}/api/{route}"
    missing = call("GET", url)
    wrong = call("GET", f"{url}?code=other")
    by_query = call("GET", f"{url}?code={KEY}")
    by_header = call("GET", url, headers={"x-functions-key": KEY})

    assert (missing.status, missing.body) == (401, b"")
    assert wrong.status == 401
    assert by_query.status == by_header.status
    assert by_query.status in (200, 201)
    assert by_query.body == by_header.body == f"{level} level".encode()


def test_anonymous_routes_need_no_key(host: LocalHost) -> None:
    assert call("GET", f"{host.base_url}/api/items/1").status == 200


def test_a_returned_string_is_plain_text_and_async_functions_run(host: LocalHost) -> None:
    text = call("GET", f"{host.base_url}/api/secret?code={KEY}")
    admin = call("GET", f"{host.base_url}/api/admin?code={KEY}")

    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert (admin.status, admin.headers["content-type"]) == (201, "text/plain; charset=utf-8")


def test_every_async_function_runs_on_one_event_loop_for_the_process(host: LocalHost) -> None:
    first = call("GET", f"{host.base_url}/api/loop").body
    second = call("GET", f"{host.base_url}/api/loop").body
    with LocalHost(loaded(http_basics.app), clock=VirtualClock(START)) as other:
        from_another_host = call("GET", f"{other.base_url}/api/loop").body

    assert first == second == from_another_host


def test_the_function_s_content_type_header_wins_over_its_mimetype(host: LocalHost) -> None:
    typed = call("GET", f"{host.base_url}/api/typed")
    untyped = call("GET", f"{host.base_url}/api/untyped")

    assert typed.headers["content-type"] == "text/html; charset=utf-8"
    assert typed.body == b"<p>hi</p>"
    assert untyped.headers["content-type"] == "application/octet-stream"
    assert untyped.headers["x-a"] == "1"
    assert untyped.body == b"\x00\x01"


def test_a_failing_function_answers_500_with_no_body(host: LocalHost) -> None:
    answer = call("GET", f"{host.base_url}/api/broken")
    assert (answer.status, answer.body) == (500, b"")


def test_unknown_paths_answer_404(host: LocalHost) -> None:
    assert call("GET", f"{host.base_url}/api/nothing").status == 404
    assert call("GET", f"{host.base_url}/items/1").status == 404


@pytest.mark.parametrize(("prefix", "path"), [("v1", "/v1/items/7"), ("", "/items/7")])
def test_the_route_prefix_comes_from_host_json(prefix: str, path: str) -> None:
    app = loaded(http_basics.app, host_json={"extensions": {"http": {"routePrefix": prefix}}})
    with LocalHost(app, clock=VirtualClock(START)) as host:
        assert call("GET", f"{host.base_url}{path}").json()["route"] == {"item_id": "7"}
        assert call("GET", f"{host.base_url}/api/items/7").status == 404


def test_a_route_the_host_cannot_match_is_refused_at_start() -> None:
    app = func.FunctionApp()

    @app.route(route="reports/day-{day}")
    def report(req: func.HttpRequest) -> str:
        return "never served"

    with pytest.raises(AppLoadError, match=r"'report'.*'day-\{day\}'"):
        LocalHost(loaded(app), clock=VirtualClock(START))


def test_a_function_key_that_cannot_go_into_urls_is_refused() -> None:
    with pytest.raises(ValueError, match="function key"):
        LocalHost(loaded(http_basics.app), clock=VirtualClock(START), function_key="a&b")


def test_a_binding_the_host_does_not_play_is_refused_at_start() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="message", queue_name="work", connection="Storage")
    def on_message(message: func.QueueMessage) -> None:
        pass

    with pytest.raises(AppLoadError, match=r"'on_message'.*'queueTrigger'"):
        LocalHost(loaded(app), clock=VirtualClock(START))


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST /api/items/1 HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
        (b"POST /api/items/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
    ],
)
def test_requests_the_host_cannot_read_get_a_json_refusal(
    host: LocalHost, raw: bytes, status: int
) -> None:
    port = int(host.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(raw)
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")

    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert "Message" in json.loads(body)
