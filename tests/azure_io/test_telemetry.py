"""The telemetry seam: log context on every record, secrets masked, JSON lines, metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from azure_io import telemetry
from azure_io.telemetry import (
    MASK,
    JsonFormatter,
    activity_logging,
    app_logger,
    log_context,
    payload_context,
    redact,
)

VM = "/subscriptions/00000001-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-1"
ACCOUNT_KEY = "c2VjcmV0LWtleS1ub3QtcmVhbA=="
CONNECTION_STRING = (
    "DefaultEndpointsProtocol=https;AccountName=patchstore;"
    f"AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
)
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHAifQ.c2lnbmF0dXJlLXBhcnQ"


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record the test's app logger lets through, as its handlers would see it."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep(level=logging.DEBUG)
    logger = app_logger("tests.telemetry")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def test_a_record_carries_the_bound_context_and_its_extras_win(
    records: list[logging.LogRecord],
) -> None:
    log = logging.getLogger("tests.telemetry")
    with log_context(cycle="2026-03", phase=1):
        with log_context(vm=VM):
            log.info("install started")
        log.info("batch done", extra={"vm": "other"})
    log.info("outside")
    inner, outer, outside = records
    assert (inner.cycle, inner.phase, inner.vm) == ("2026-03", "1", VM)  # type: ignore[attr-defined]
    assert (outer.cycle, outer.vm) == ("2026-03", "other")  # type: ignore[attr-defined]
    assert (outside.cycle, outside.phase, outside.vm) == (None, None, None)  # type: ignore[attr-defined]


def test_an_activity_payload_names_its_cycle_phase_and_group() -> None:
    assert payload_context(
        "rollout_start_installs", {"cycle": "2026-03", "group": "p2-r0-g01"}
    ) == {
        "activity": "rollout_start_installs",
        "cycle": "2026-03",
        "group": "p2-r0-g01",
        "phase": "2",
    }
    # A re-plan's group id carries its round before the phase.
    assert payload_context("a", {"cycle": "c", "group": "t1-p0-r1-g00"})["phase"] == "0"
    assert payload_context("a", {"cycle": "c", "phase": 3, "group": "p0-r0-g00"})["phase"] == "3"
    assert payload_context("discover_subscription", "sub-1")["subscription"] == "sub-1"
    assert payload_context("rollout_subscriptions", None) == {"activity": "rollout_subscriptions"}


def test_the_activity_decorator_binds_the_payload_and_keeps_the_signature(
    records: list[logging.LogRecord],
) -> None:
    @activity_logging
    def some_activity(payload: dict[str, str]) -> str:
        logging.getLogger("tests.telemetry").info("working")
        return payload["cycle"]

    assert some_activity({"cycle": "2026-04", "group": "p1-r0-g00"}) == "2026-04"
    assert some_activity.__name__ == "some_activity"
    assert list(some_activity.__annotations__) == ["payload", "return"]
    (record,) = records
    assert (record.activity, record.cycle, record.phase) == ("some_activity", "2026-04", "1")  # type: ignore[attr-defined]
    assert telemetry.current_context() == {}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"store {CONNECTION_STRING}", ACCOUNT_KEY),
        ("queue Endpoint=sb://x/;SharedAccessKeyName=r;SharedAccessKey=abcDEF123=", "abcDEF123="),
        ("blob https://a.blob.core.windows.net/c?sv=2024&sig=AbC%2Bdef%3D&se=1", "AbC%2Bdef%3D"),
        ("SharedAccessSignature=sv=2024&sig=zzz", "zzz"),
        ("POST /api/assessments?code=fn-key-123&x=1", "fn-key-123"),
        ("GET /runtime/webhooks/eventgrid?functionName=f&code=abc_DEF-9", "abc_DEF-9"),
        ("headers {'Authorization': 'Bearer tok.en-1'}", "tok.en-1"),
        ("Authorization: SharedKey patchstore:c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        ("x-functions-key: demo-key", "demo-key"),
        (f"token {JWT}", JWT),
    ],
)
def test_redaction_masks_every_kind_of_secret(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert MASK in cleaned


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = f"install finished: Succeeded on {VM} (code NotDiscovered, 3 patches)"
    assert redact(text) == text


def test_a_record_with_secrets_in_its_message_args_extras_or_traceback_is_masked(
    records: list[logging.LogRecord],
) -> None:
    log = logging.getLogger("tests.telemetry")
    log.warning("storage %s", CONNECTION_STRING)
    log.info("call", extra={"headers": {"Authorization": "Bearer abc", "Accept": "json"}})
    log.info("url", extra={"url": "https://app/api/plan?cycle=2026-03&code=k3y"})
    try:
        raise RuntimeError(f"cannot reach {CONNECTION_STRING}")
    except RuntimeError:
        log.exception("failed")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    for record in records:
        handler.handle(record)
    written = stream.getvalue()
    assert ACCOUNT_KEY not in written and "k3y" not in written and "Bearer abc" not in written
    assert "cannot reach" in written  # the traceback stays, masked
    lines = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
    assert lines[1]["headers"] == {"Authorization": MASK, "Accept": "json"}


def test_the_json_formatter_writes_the_context_fields() -> None:
    record = logging.LogRecord("activities.rollout", logging.INFO, "f.py", 1, "hi %s", ("x",), None)
    with log_context(cycle="2026-03", vm=VM):
        telemetry.ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hi x" and line["logger"] == "activities.rollout"
    assert line["cycle"] == "2026-03" and line["vm"] == VM
    assert "phase" not in line  # unbound fields are left out, not written as null


def test_metrics_count_installs_by_cycle_phase_and_subscription(
    records: list[logging.LogRecord],
) -> None:
    reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        with log_context(cycle="2026-03", phase="0"):
            telemetry.installs_started(VM)
            telemetry.installs_started(VM)
            telemetry.install_finished(VM, "Succeeded")
            telemetry.install_finished(VM, "Failed")
            telemetry.compliance_recorded(VM, "compliant")
        telemetry.compliance_counts({"00000001": {"compliant": 7, "pending": 2}})
    finally:
        telemetry.use_meter_provider(None)
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): point.value  # type: ignore[union-attr]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }
    where = (("cycle", "2026-03"), ("phase", "0"))
    sub = ("subscription", "00000001-0000-4000-8000-000000000001")
    assert points[("patching.installs.started", (*where, sub))] == 2
    assert points[("patching.installs.finished", (*where, ("status", "succeeded"), sub))] == 1
    assert points[("patching.installs.failed", (*where, ("status", "failed"), sub))] == 1
    assert (
        points[("patching.compliance.vms", (("state", "pending"), ("subscription", "00000001")))]
        == 2
    )


def test_each_metric_is_also_a_log_record_with_its_dimensions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=telemetry.METRICS_LOGGER)
    with log_context(cycle="2026-03", phase="2"):
        telemetry.install_finished(VM, "Succeeded")
    (record,) = [r for r in caplog.records if r.name == telemetry.METRICS_LOGGER]
    assert record.metric == "patching.installs.finished"  # type: ignore[attr-defined]
    assert (record.value, record.cycle, record.phase, record.status) == (
        1,
        "2026-03",
        "2",
        "succeeded",
    )  # type: ignore[attr-defined]


def test_redaction_keeps_what_the_azure_sdk_already_masked() -> None:
    text = "Request headers:\n    'Authorization': 'REDACTED'\n    'Accept': 'application/json'"
    assert redact(text) == text
    assert redact(redact("x-functions-key: k")) == redact("x-functions-key: k")
