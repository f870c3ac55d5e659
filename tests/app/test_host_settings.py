"""host.json is what docs/SCALE.md says it is, and its numbers fit the code they serve.

The Durable concurrency limits must match the Python worker's threads (the docs' worker
settings), the partition count must be one the Azure Storage backend accepts, and the
function timeout must cover the longest activity the code allows for.
"""

from __future__ import annotations

import inspect
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import function_app
from azure_io import app_settings
from azure_io.arm_retry import TransientRetryPolicy
from azure_io.settings import Settings, SettingsError
from devhost.app_loader import ACTIVITY_TRIGGER, ORCHESTRATION_TRIGGER, loaded

ROOT = Path(__file__).resolve().parents[2]
HOST_JSON: dict[str, Any] = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
DURABLE: dict[str, Any] = HOST_JSON["extensions"]["durableTask"]
WORKER_SETTINGS = ("FUNCTIONS_WORKER_PROCESS_COUNT", "PYTHON_THREADPOOL_THREAD_COUNT")
# A table row whose first cell is one backticked name: | `name` | `value` | ... |
_ROW = re.compile(r"^\|\s*`([^`]+)`[^|]*\|\s*`([^`]+)`\s*\|", re.MULTILINE)


def _stated(page: str) -> dict[str, str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return {name: value for name, value in _ROW.findall(text)}


def _at(path: str) -> Any:
    node: Any = HOST_JSON
    for key in path.split("."):
        assert isinstance(node, dict) and key in node, f"host.json has no {path}"
        node = node[key]
    return node


def _host_rows() -> dict[str, str]:
    """SCALE.md's host.json table: dotted paths, and the one top-level key it tunes."""
    stated = _stated("SCALE.md")
    return {
        name: value for name, value in stated.items() if "." in name or name == "functionTimeout"
    }


def _timespan(text: str) -> timedelta:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _worker_value(page: str, name: str) -> int:
    stated = _stated(page)
    assert name in stated, f"docs/{page} states no value for {name}"
    return int(stated[name])


def test_scale_md_states_every_tuned_setting_of_host_json() -> None:
    rows = _host_rows()
    expected = {
        "functionTimeout",
        "extensions.durableTask.hubName",
        "extensions.durableTask.storageProvider.partitionCount",
        "extensions.durableTask.maxConcurrentActivityFunctions",
        "extensions.durableTask.maxConcurrentOrchestratorFunctions",
    }
    assert expected <= rows.keys()


@pytest.mark.parametrize("path", sorted(_host_rows()))
def test_host_json_has_the_value_scale_md_states(path: str) -> None:
    assert _at(path) == json.loads(_host_rows()[path]), f"docs/SCALE.md and host.json: {path}"


def test_the_durable_limits_use_exactly_the_python_workers_threads() -> None:
    processes, threads = (_worker_value("SCALE.md", name) for name in WORKER_SETTINGS)
    limits = (
        DURABLE["maxConcurrentActivityFunctions"] + DURABLE["maxConcurrentOrchestratorFunctions"]
    )
    # More than the worker runs and work items wait on one instance; fewer wastes threads.
    assert limits == processes * threads
    assert DURABLE["maxConcurrentActivityFunctions"] >= 1
    assert DURABLE["maxConcurrentOrchestratorFunctions"] >= 1


@pytest.mark.parametrize("name", WORKER_SETTINGS)
def test_configure_md_and_the_deployment_state_the_same_worker_settings(name: str) -> None:
    value = _worker_value("SCALE.md", name)
    assert _worker_value("configure.md", name) == value
    # Where the deployment's list carries the setting, it sets the same value.
    for setting in app_settings.PLATFORM_SETTINGS:
        if setting.name == name:
            assert setting.default == str(value), f"azure_io/app_settings.py: {name}"


def test_every_activity_and_orchestrator_runs_on_the_thread_pool() -> None:
    # The concurrency arithmetic counts them on the worker's threads; an async one would
    # run on the event loop instead and the limits would no longer match.
    app = loaded(function_app.app)
    durable = app.of_type(ACTIVITY_TRIGGER) + app.of_type(ORCHESTRATION_TRIGGER)
    assert durable
    coroutines = [spec.name for spec in durable if inspect.iscoroutinefunction(spec.user_function)]
    assert coroutines == []


def test_the_partition_count_is_one_the_azure_storage_backend_accepts() -> None:
    provider = DURABLE["storageProvider"]
    assert "type" not in provider, "the Azure Storage backend is the default provider"
    assert 1 <= provider["partitionCount"] <= 16


def _largest_retry_attempts() -> int:
    attempts = 0
    while True:
        try:
            Settings.from_env({"PATCH_ARM_RETRY_ATTEMPTS": str(attempts + 1)})
        except SettingsError:
            return attempts
        attempts += 1
        assert attempts < 1000, "PATCH_ARM_RETRY_ATTEMPTS has no upper bound"


def test_the_function_timeout_covers_one_arm_calls_worst_retries() -> None:
    attempts = _largest_retry_attempts()
    policy = TransientRetryPolicy(attempts=attempts, backoff_seconds=10)
    # Each retry sleeps at most the policy's cap: the most one call can spend asleep.
    worst_sleep = timedelta(seconds=attempts * policy.backoff_max)
    timeout = _timespan(HOST_JSON["functionTimeout"])
    assert worst_sleep == timedelta(seconds=100)  # what docs/SCALE.md's timeout paragraph says
    # Room for several such calls in one batch, besides planning (32 s for 100,000 VMs).
    assert timeout >= 10 * worst_sleep


def test_the_function_timeout_is_bounded() -> None:
    # Flex Consumption may recycle an instance: activities are short and nothing is meant to
    # run without a limit ("-1") or for hours.
    assert HOST_JSON["functionTimeout"] != "-1"
    assert _timespan(HOST_JSON["functionTimeout"]) <= timedelta(hours=1)


def test_python_has_no_extended_sessions() -> None:
    # Out-of-process Python replays every history; the setting would only mislead.
    assert "extendedSessionsEnabled" not in DURABLE
