"""The compute adapter: discovery, patch operations and health over the real ARM clients.

Every per-VM call makes one request and returns at once: a long-running operation is
started and handed back with its status URL, and checking one is a single GET of that URL
(its body carries the result once the operation is over). Discovery and checks read ARM's
JSON through the compute client's own pipeline (credential, retries, transport), and only
URLs on the configured ARM endpoint are followed, so the bearer token goes nowhere else.
The seams are the client factory and the transport: tests point the real clients at the
fleet simulator, in process through its transport or over HTTPS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.core.polling import LROPoller, PollingMethod
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.compute import ComputeManagementClient

# The SDK's own request builder, so discovery asks what the SDK's list_all asks, api-version
# included.
from azure.mgmt.compute.operations._operations import (
    build_virtual_machines_list_all_request,
    build_virtual_machines_update_request,
)
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.resource.subscriptions import SubscriptionClient

from azure_io.arm_retry import TransientRetryPolicy, retry_after_seconds
from azure_io.compute_outcomes import (
    ArmCallError,
    ArmThrottledError,
    AssessmentCheck,
    HealthCheck,
    HotpatchOutcome,
    HotpatchSet,
    InProgress,
    InstallCheck,
    OperationFailed,
    OperationKind,
    Started,
    StartOutcome,
    Throttled,
    VmNotRunning,
    VmUpdateRefused,
)
from azure_io.credentials import credential_from_settings
from azure_io.patch_results import InstallRequest
from azure_io.settings import Settings
from azure_io.vm_mapping import (
    OperationOutput,
    assessment_result,
    error_fields,
    health_verdict,
    hotpatch_flag,
    hotpatch_update_body,
    install_parameters,
    install_result,
    operation_status,
    vm_target,
)
from patching.models import VmTarget, normalize_region
from patching.resource_ids import VmId

ComputeClientFactory = Callable[[str], ComputeManagementClient]
"""Subscription id -> a compute client for it."""


class _StatusUrlOnly(PollingMethod[None]):
    """Keeps the status URL of the operation ARM just accepted and never polls.

    Being finished from the start, it keeps LROPoller from starting a polling thread.
    """

    def __init__(self) -> None:
        self.status_url: str | None = None

    def initialize(self, client: Any, initial_response: Any, deserialization_callback: Any) -> None:
        headers = initial_response.http_response.headers
        self.status_url = headers.get("Azure-AsyncOperation") or headers.get("Location")

    def run(self) -> None:
        return None

    def status(self) -> str:
        return "Accepted"

    def finished(self) -> bool:
        return True

    def resource(self) -> None:
        return None


class ComputeAdapter:
    def __init__(
        self,
        compute_client_for: ComputeClientFactory,
        subscription_client: SubscriptionClient,
        arm_endpoint: str,
    ) -> None:
        self._compute_client_for = compute_client_for
        self._subscription_client = subscription_client
        arm_origin = _origin(arm_endpoint)
        if arm_origin is None:
            raise ValueError(f"arm_endpoint must be an absolute http(s) URL, got {arm_endpoint!r}")
        self._arm_origin = arm_origin
        self._clients: dict[str, ComputeManagementClient] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credential: TokenCredential | None = None,
        *,
        transport: HttpTransport[Any, Any] | None = None,
    ) -> ComputeAdapter:
        """Clients for `settings`; `transport` replaces the HTTPS one (e.g. an in-process
        fleet simulator's), the pipeline and its policies staying the same."""
        credential = credential or credential_from_settings(settings)
        options = arm_client_options(settings)
        if transport is not None:
            options["transport"] = transport
        return cls(
            lambda subscription_id: ComputeManagementClient(credential, subscription_id, **options),
            SubscriptionClient(credential, **options),
            settings.arm_endpoint,
        )

    # -- discovery --------------------------------------------------------------------------

    def discover(self, subscription_id: str) -> list[VmTarget]:
        """Every VM of a subscription with its placement and power state: two paged lists."""
        what = f"listing the VMs of subscription {subscription_id}"
        with _data_call(what):
            vms = self._list_all(subscription_id, what, status_only=None)
            views = {
                str(vm.get("id")).lower(): _member(_member(vm, "properties"), "instanceView")
                for vm in self._list_all(subscription_id, what, status_only="true")
            }
        try:
            return [vm_target(vm, views.get(str(vm.get("id")).lower())) for vm in vms]
        except ValueError as error:
            raise ArmCallError(f"ARM answered {what} with a VM it cannot read: {error}") from error

    def region_pairs(self, subscription_id: str) -> dict[str, str]:
        """{region: its geo-pair} for the regions of a subscription that have one."""
        with _data_call(f"listing the locations of subscription {subscription_id}"):
            locations = list(
                self._subscription_client.subscriptions.list_locations(subscription_id)
            )
        pairs: dict[str, str] = {}
        for location in locations:
            paired = location.metadata.paired_region if location.metadata else None
            if location.name and paired and paired[0].name:
                pairs[normalize_region(location.name)] = normalize_region(paired[0].name)
        return pairs

    # -- patch operations -------------------------------------------------------------------

    def start_assessment(self, vm_id: str) -> StartOutcome:
        ref = VmId.parse(vm_id)
        operations = self._client(ref.subscription_id).virtual_machines
        return self._start(
            vm_id,
            OperationKind.ASSESSMENT,
            lambda polling: operations.begin_assess_patches(
                ref.resource_group, ref.name, polling=polling
            ),
        )

    def start_install(self, vm_id: str, request: InstallRequest) -> StartOutcome:
        ref = VmId.parse(vm_id)
        operations = self._client(ref.subscription_id).virtual_machines
        return self._start(
            vm_id,
            OperationKind.INSTALL,
            lambda polling: operations.begin_install_patches(
                ref.resource_group, ref.name, install_parameters(request), polling=polling
            ),
        )

    def check_assessment(self, started: Started) -> AssessmentCheck:
        outcome = self._check(started)
        if isinstance(outcome, OperationOutput):
            with _unreadable_output(started):
                return assessment_result(started.vm_id, outcome.output)
        return outcome

    def check_install(self, started: Started) -> InstallCheck:
        outcome = self._check(started)
        if isinstance(outcome, OperationOutput):
            with _unreadable_output(started):
                return install_result(started.vm_id, outcome.output, ended_at=outcome.ended_at)
        return outcome

    def check_health(self, vm_id: str) -> HealthCheck:
        """The VM's health from its instance view: power, VM agent, Application Health."""
        ref = VmId.parse(vm_id)
        try:
            view = self._client(ref.subscription_id).virtual_machines.instance_view(
                ref.resource_group, ref.name
            )
        except HttpResponseError as error:
            if error.status_code == 429:
                return Throttled(_retry_after(error), vm_id)
            raise _call_error(error, f"reading the instance view of {vm_id}") from error
        return health_verdict(vm_id, view)

    # -- hotpatch enrollment ---------------------------------------------------------------

    def set_hotpatching(self, vm_id: str, enabled: bool) -> HotpatchOutcome:
        """One VM update (PATCH) of `patchSettings.enableHotpatching` alone: the patch mode
        and everything else stay as they are. ARM answers with the VM's model, which shows
        the flag as asked once it has taken the update."""
        ref = VmId.parse(vm_id)
        what = f"turning hotpatch {'on' if enabled else 'off'} on {vm_id}"
        client = self._client(ref.subscription_id)
        request = build_virtual_machines_update_request(
            ref.resource_group,
            ref.name,
            ref.subscription_id.lower(),
            json=hotpatch_update_body(enabled),
            content_type="application/json",
        )
        try:
            response = self._send(client, request, accepted=(200, 201, 202))
        except HttpResponseError as error:
            if error.status_code == 429:
                return Throttled(_retry_after(error), vm_id)
            if _is_refusal(error):
                code, message = _error_code_message(error)
                return VmUpdateRefused(vm_id, code, message, error.status_code)
            raise _call_error(error, what) from error
        shown = hotpatch_flag(_json_object(response, what)) if response.status_code == 200 else None
        if shown is not None and shown is not enabled:
            raise ArmCallError(f"ARM answered {what} with the VM's flag not as asked")
        return HotpatchSet(vm_id, enabled)

    def close(self) -> None:
        """Closes the clients' connection pools."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._subscription_client.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _client(self, subscription_id: str) -> ComputeManagementClient:
        key = subscription_id.lower()
        if key not in self._clients:
            self._clients[key] = self._compute_client_for(key)
        return self._clients[key]

    def _start(
        self,
        vm_id: str,
        kind: OperationKind,
        begin: Callable[[_StatusUrlOnly], LROPoller[Any]],
    ) -> StartOutcome:
        polling = _StatusUrlOnly()
        try:
            begin(polling)
        except HttpResponseError as error:
            if error.status_code == 429:
                return Throttled(_retry_after(error), vm_id)
            if error.status_code == 409:
                code, message = _error_code_message(error)
                return VmNotRunning(vm_id, code, message)
            if _is_refusal(error):
                code, message = _error_code_message(error)
                return OperationFailed(vm_id, kind, code, message, error.status_code)
            raise _call_error(error, f"starting {kind.value} on {vm_id}") from error
        if not polling.status_url:
            raise ArmCallError(f"ARM accepted {kind.value} on {vm_id} but named no status URL")
        return Started(vm_id, kind, polling.status_url)

    def _check(
        self, started: Started
    ) -> OperationOutput | InProgress | OperationFailed | Throttled:
        """One GET of the operation's status: still running, failed, or its output."""
        what = f"checking {started.kind.value} on {started.vm_id}"
        client = self._client(VmId.parse(started.vm_id).subscription_id)
        try:
            status_request = HttpRequest("GET", self._on_arm(started.status_url, what))
            response = self._send(client, status_request, accepted=(200, 202))
        except HttpResponseError as error:
            if error.status_code == 429:
                return Throttled(_retry_after(error), started.vm_id)
            if _is_refusal(error):
                code, message = _error_code_message(error)
                return OperationFailed(
                    started.vm_id, started.kind, code, message, error.status_code
                )
            raise _call_error(error, what) from error
        if response.status_code == 202:  # a Location URL answers 202 while the work goes on
            return InProgress(started.vm_id, started.kind)
        try:
            return operation_status(started, _json_object(response, what))
        except ValueError as error:
            raise ArmCallError(f"ARM answered {what} with {error}") from error

    def _list_all(
        self, subscription_id: str, what: str, *, status_only: str | None
    ) -> list[dict[str, Any]]:
        """Every item of ``virtualMachines`` list_all, page after page by ``nextLink``."""
        client = self._client(subscription_id)
        request = build_virtual_machines_list_all_request(
            subscription_id.lower(), status_only=status_only
        )
        items: list[dict[str, Any]] = []
        while True:
            page = _json_object(self._send(client, request, accepted=(200,)), what)
            value = page.get("value") or []
            if not isinstance(value, list) or not all(isinstance(vm, dict) for vm in value):
                raise ArmCallError(f"ARM answered {what} with a value that is not a list of VMs")
            items.extend(value)
            next_link = page.get("nextLink")
            if not next_link:
                return items
            request = HttpRequest("GET", self._on_arm(str(next_link), what))

    def _send(
        self, client: ComputeManagementClient, request: HttpRequest, *, accepted: tuple[int, ...]
    ) -> HttpResponse:
        """The answer to ``request`` through the client's pipeline; HttpResponseError unless
        its status is ``accepted``, raised as the SDK's own operations raise it."""
        request.headers["Accept"] = "application/json"
        response = client.send_request(request)
        if response.status_code in accepted:
            return response
        response.read()
        if response.status_code == 401:
            raise ClientAuthenticationError(response=response, error_format=ARMErrorFormat)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)

    def _on_arm(self, url: str, what: str) -> str:
        """``url`` if it is on the configured ARM endpoint, the one place the bearer token
        may go; ArmCallError (nothing sent) otherwise."""
        if _origin(url) != self._arm_origin:
            raise ArmCallError(f"refused {what}: {url} is outside the ARM endpoint, not sent")
        return url


_DEFAULT_PORTS = {"https": 443, "http": 80}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL; None for any other URL, and for one
    with user info (which could make a host look like another)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number
        return None
    if port is None or parts.username is not None or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port


def _member(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _json_object(response: HttpResponse, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise ArmCallError(f"ARM answered {what} with a body that is not JSON") from error
    if not isinstance(body, dict):
        raise ArmCallError(f"ARM answered {what} with JSON that is not an object")
    return body


def arm_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments shared by the ARM clients: endpoint, TLS trust, retries."""
    return {
        "base_url": settings.arm_endpoint,
        "connection_verify": str(settings.arm_ca_bundle) if settings.arm_ca_bundle else True,
        "retry_policy": TransientRetryPolicy(
            attempts=settings.arm_retry_attempts,
            backoff_seconds=settings.arm_retry_backoff_seconds,
        ),
    }


@contextmanager
def _unreadable_output(started: Started) -> Iterator[None]:
    try:
        yield
    except ValueError as error:
        raise ArmCallError(
            f"ARM answered {started.kind.value} on {started.vm_id} with an output it "
            f"cannot read: {error}"
        ) from error


@contextmanager
def _data_call(what: str) -> Iterator[None]:
    """Turns ARM failures of calls that return data into this module's exceptions."""
    try:
        yield
    except HttpResponseError as error:
        if error.status_code == 429:
            raise ArmThrottledError(f"ARM throttled {what}", _retry_after(error)) from error
        raise _call_error(error, what) from error


def _call_error(error: HttpResponseError, what: str) -> ArmCallError:
    if isinstance(error, ClientAuthenticationError):
        return ArmCallError(f"ARM refused the credential while {what}: {error.message}")
    return ArmCallError(f"ARM failed {what} (HTTP {error.status_code}): {error.message}")


def _is_refusal(error: HttpResponseError) -> bool:
    """A 4xx ARM will answer the same way again (not auth, not throttling)."""
    status = error.status_code or 0
    return 400 <= status < 500 and status not in (401, 403, 429)


def _retry_after(error: HttpResponseError) -> float:
    response: Any = error.response
    return retry_after_seconds(response.headers if response is not None else None)


def _error_code_message(error: HttpResponseError) -> tuple[str, str]:
    code, message = error_fields(_json_or_none(error))
    return code or str(error.status_code), message or error.message


def _json_or_none(error: HttpResponseError) -> dict[str, Any] | None:
    response: Any = error.response
    try:
        body = response.json() if response is not None else None
    except (ValueError, TypeError):
        return None
    return body if isinstance(body, dict) else None
