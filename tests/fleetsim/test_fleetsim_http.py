"""The HTTPS server's own layer: every bad request gets ARM's JSON error, none hangs."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

import pytest
from fleetsim_helpers import API, compute, fleet_of, raw_session, vm_id, vm_url, windows_vm

from fleetsim import start_simulator

VM_PATH = vm_id("web-01")


def _connect(sim) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(sim.ca_path))
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _answer(connection: ssl.SSLSocket) -> tuple[http.client.HTTPResponse, dict]:
    response = http.client.HTTPResponse(connection)  # type: ignore[arg-type]
    response.begin()
    return response, json.loads(response.read())


def _is_closed(connection: ssl.SSLSocket) -> bool:
    try:
        return connection.recv(1) == b""
    except TimeoutError:
        return False
    except (ssl.SSLError, OSError):
        return True


def _head(request_line: str, *headers: str) -> bytes:
    lines = [request_line, "Host: 127.0.0.1", "Authorization: Bearer x", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


@pytest.mark.parametrize(
    ("sent", "status", "code"),
    [
        (_head(f"PATCH {VM_PATH}?{API} HTTP/1.1", "Content-Length: abc"), 400, "BadRequest"),
        (_head(f"PATCH {VM_PATH}?{API} HTTP/1.1", "Content-Length: -5"), 400, "BadRequest"),
        (
            _head(f"PATCH {VM_PATH}?{API} HTTP/1.1", "Content-Length: 2", "Content-Length: 3"),
            400,
            "BadRequest",
        ),
        (
            _head(f"PATCH {VM_PATH}?{API} HTTP/1.1", "Transfer-Encoding: chunked"),
            411,
            "LengthRequired",
        ),
        (
            _head(f"PATCH {VM_PATH}?{API} HTTP/1.1", f"Content-Length: {2 * 1024 * 1024}"),
            413,
            "RequestEntityTooLarge",
        ),
        (_head(f"GET /{'x' * 70_000} HTTP/1.1"), 414, "RequestUriTooLong"),
        (
            _head(f"GET {VM_PATH} HTTP/1.1", f"X-Big: {'y' * 70_000}"),
            431,
            "RequestHeaderFieldsTooLarge",
        ),
        (
            _head(f"GET {VM_PATH} HTTP/1.1", *(f"X-{i}: {i}" for i in range(101))),
            431,
            "RequestHeaderFieldsTooLarge",
        ),
        (b"HELLO\r\n\r\n", 400, "BadRequest"),
        (_head(f"GET {VM_PATH}?{API} HTTP/x.y"), 400, "BadRequest"),
        (_head(f"GET {VM_PATH}?{API}"), 400, "BadRequest"),  # HTTP/0.9: no version
        (_head(f"GET {VM_PATH}?{API} HTTP/2.0"), 505, "HttpVersionNotSupported"),
        (_head(f"GET {VM_PATH}?{API} HTTP/0.9"), 505, "HttpVersionNotSupported"),
    ],
    ids=[
        "length-not-a-number",
        "length-negative",
        "two-lengths",
        "chunked",
        "body-too-large",
        "uri-too-long",
        "header-too-long",
        "too-many-headers",
        "bad-request-line",
        "bad-version",
        "no-version",
        "http-2",
        "http-0.9",
    ],
)
def test_what_http_refuses_is_json_and_closes_the_connection(serve, sent, status, code):
    sim = serve(fleet_of(windows_vm("web-01")))
    connection = _connect(sim)
    connection.sendall(sent)
    response, body = _answer(connection)
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json; charset=utf-8"
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert response.getheader("Connection") == "close"
    assert _is_closed(connection)
    # The server goes on serving others.
    assert raw_session(sim).get(f"{vm_url(sim, 'web-01')}?{API}").status_code == 200


def test_a_refused_body_is_counted_and_logged_and_not_read(serve, tmp_path):
    log = tmp_path / "operations.jsonl"
    sim = serve(fleet_of(windows_vm("web-01")), log_path=log)
    connection = _connect(sim)
    header = f"Content-Length: {1024 * 1024 + 1}"
    connection.sendall(_head(f"PATCH {VM_PATH}?{API} HTTP/1.1", header))
    response, body = _answer(connection)
    assert response.status == 413
    assert "1048577 bytes" in body["error"]["message"]
    requests = sim.state.requests
    sim.stop()
    [line] = [json.loads(text) for text in log.read_text().splitlines()]
    assert requests == 1
    assert (line["op"], line["vm"], line["httpStatus"], line["error"]) == (
        "virtualMachines.update",
        VM_PATH,
        413,
        "RequestEntityTooLarge",
    )
    assert line["request"] is None


def test_head_and_options_are_405_and_keep_the_connection(serve):
    sim = serve(fleet_of(windows_vm("web-01")))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", sim.port, context=ssl.create_default_context(cafile=str(sim.ca_path))
    )
    headers = {"Authorization": "Bearer x"}
    connection.request("HEAD", f"{VM_PATH}?{API}", headers=headers)
    head = connection.getresponse()
    assert head.status == 405
    assert head.getheader("Content-Type") == "application/json; charset=utf-8"
    assert int(head.getheader("Content-Length")) > 0
    assert head.read() == b""  # a HEAD answer has no body
    socket_before = connection.sock

    connection.request("OPTIONS", f"{VM_PATH}?{API}", headers=headers)
    options = connection.getresponse()
    assert options.status == 405
    assert json.loads(options.read())["error"]["code"] == "MethodNotAllowed"

    connection.request("GET", f"{VM_PATH}?{API}", headers=headers)
    get = connection.getresponse()
    assert get.status == 200
    assert json.loads(get.read())["id"] == VM_PATH
    assert connection.sock is socket_before  # one keep-alive connection throughout


def test_connections_beyond_the_cap_get_503_until_one_closes(serve):
    sim = serve(fleet_of(windows_vm("web-01")), max_connections=2)
    get = _head(f"GET {VM_PATH}?{API} HTTP/1.1")
    held = []
    for _ in range(2):  # two keep-alive connections, idle after one answer each
        connection = _connect(sim)
        connection.sendall(get)
        response, _ = _answer(connection)
        assert response.status == 200
        held.append(connection)

    extra = _connect(sim)
    extra.sendall(get)
    response, body = _answer(extra)
    assert response.status == 503
    assert body["error"]["code"] == "ServerBusy"
    assert response.getheader("Retry-After") == "1"
    assert _is_closed(extra)

    held.pop().close()
    deadline = time.monotonic() + 5
    while True:  # the server notices the close when its thread reads the EOF
        retry = _connect(sim)
        retry.sendall(get)
        response, _ = _answer(retry)
        if response.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status == 200
    assert sim.state.requests >= 4


def test_the_sdk_follows_next_links_over_https(serve):
    sim = serve(fleet_of(*(windows_vm(f"web-{i}") for i in range(3)), sim={"pageSize": 2}))
    pages = list(compute(sim).virtual_machines.list_all().by_page())
    assert [[vm.name for vm in page] for page in pages] == [["web-0", "web-1"], ["web-2"]]


def test_a_port_in_use_is_an_os_error_and_the_first_server_keeps_serving(serve):
    sim = serve(fleet_of(windows_vm("web-01")))
    with pytest.raises(OSError):
        start_simulator(fleet_of(windows_vm("web-01")), port=sim.port)
    assert raw_session(sim).get(f"{vm_url(sim, 'web-01')}?{API}").status_code == 200
