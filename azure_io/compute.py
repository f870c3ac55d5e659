"""The compute adapter: discovery, patch operations and health over the real ARM clients.

Every per-VM call makes one or two requests and returns at once: long-running
operations are started and handed back as continuation tokens, and checking one is a
single status request (plus the final-result request once it is done). The seams are the
client factory and the transport: tests point the real clients at the fleet simulator,
in process through its transport or over HTTPS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.core.polling import LROPoller
from azure.core.polling.base_polling import BadStatus
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as arm
from azure.mgmt.core.polling.arm_polling import ARMPolling
from azure.mgmt.resource.subscriptions import SubscriptionClient

from azure_io.arm_retry import TransientRetryPolicy, retry_after_seconds
from azure_io.compute_outcomes import (
    ArmCallError,
    ArmThrottledError,
    AssessmentCheck,
    HealthCheck,
    InProgress,
    InstallCheck,
    OperationFailed,
    OperationKind,
    Started,
    StartOutcome,
    Throttled,
    VmNotRunning,
)
from azure_io.credentials import credential_from_settings
from azure_io.patch_results import InstallRequest
from azure_io.settings import Settings
from azure_io.vm_mapping import (
    assessment_result,
    error_fields,
    health_verdict,
    install_parameters,
    install_result,
    vm_target,
)
from patching.models import VmTarget, normalize_region
from patching.resource_ids import VmId

ComputeClientFactory = Callable[[str], ComputeManagementClient]
"""Subscription id -> a compute client for it."""

_Result = TypeVar("_Result")


class _NonBlockingPolling(ARMPolling):
    """ARM polling that never waits.

    With ``look=False`` (starting an operation) it sends nothing after the initial
    request. With ``look=True`` (checking) it sends one status request and, only if that
    says the operation is over, the request for its final result (or raises its failure).
    """

    def __init__(self, *, look: bool) -> None:
        super().__init__(timeout=0)
        self._look = look

    def run(self) -> None:
        if not self._look:
            return
        try:
            self.update_status()
        except BadStatus as error:
            raise HttpResponseError(response=self._pipeline_response.http_response) from error
        if self.finished():
            super().run()  # the status is known: fetches the result or raises the failure


class ComputeAdapter:
    def __init__(
        self,
        compute_client_for: ComputeClientFactory,
        subscription_client: SubscriptionClient,
    ) -> None:
        self._compute_client_for = compute_client_for
        self._subscription_client = subscription_client
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
        )

    # -- discovery --------------------------------------------------------------------------

    def discover(self, subscription_id: str) -> list[VmTarget]:
        """Every VM of a subscription with its placement and power state: two paged lists."""
        virtual_machines = self._client(subscription_id).virtual_machines
        with _data_call(f"listing the VMs of subscription {subscription_id}"):
            models = list(virtual_machines.list_all())
            views = {
                str(vm.id).lower(): vm.instance_view
                for vm in virtual_machines.list_all(status_only="true")
            }
        return [vm_target(vm, views.get(str(vm.id).lower())) for vm in models]

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
            lambda: operations.begin_assess_patches(
                ref.resource_group, ref.name, polling=_NonBlockingPolling(look=False)
            ),
        )

    def start_install(self, vm_id: str, request: InstallRequest) -> StartOutcome:
        ref = VmId.parse(vm_id)
        operations = self._client(ref.subscription_id).virtual_machines
        return self._start(
            vm_id,
            OperationKind.INSTALL,
            lambda: operations.begin_install_patches(
                ref.resource_group,
                ref.name,
                install_parameters(request),
                polling=_NonBlockingPolling(look=False),
            ),
        )

    def check_assessment(self, started: Started) -> AssessmentCheck:
        ref = VmId.parse(started.vm_id)
        operations = self._client(ref.subscription_id).virtual_machines
        poller = operations.begin_assess_patches(
            ref.resource_group,
            ref.name,
            continuation_token=started.continuation_token,
            polling=_NonBlockingPolling(look=True),
        )
        outcome = self._check(started, poller)
        if isinstance(outcome, arm.VirtualMachineAssessPatchesResult):
            return assessment_result(started.vm_id, outcome)
        return outcome

    def check_install(self, started: Started) -> InstallCheck:
        ref = VmId.parse(started.vm_id)
        operations = self._client(ref.subscription_id).virtual_machines
        poller = operations.begin_install_patches(
            ref.resource_group,
            ref.name,
            _RESUME_ONLY,
            continuation_token=started.continuation_token,
            polling=_NonBlockingPolling(look=True),
        )
        outcome = self._check(started, poller)
        if isinstance(outcome, arm.VirtualMachineInstallPatchesResult):
            return install_result(started.vm_id, outcome)
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
        self, vm_id: str, kind: OperationKind, begin: Callable[[], LROPoller[Any]]
    ) -> StartOutcome:
        try:
            poller = begin()
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
        return Started(vm_id, kind, poller.continuation_token())

    def _check(
        self, started: Started, poller: LROPoller[_Result]
    ) -> _Result | InProgress | OperationFailed | Throttled:
        try:
            poller.wait()
            if not poller.done() or poller.status().lower() not in _TERMINAL:
                return InProgress(started.vm_id, started.kind)
            return poller.result()
        except HttpResponseError as error:
            if error.status_code == 429:
                return Throttled(_retry_after(error), started.vm_id)
            if error.status_code is not None and error.status_code < 300:
                # The operation itself ended Failed or Canceled (its status body says why).
                code, message = error_fields(_json_or_none(error))
                return OperationFailed(
                    started.vm_id, started.kind, code or poller.status(), message or str(error)
                )
            if _is_refusal(error):
                code, message = _error_code_message(error)
                return OperationFailed(
                    started.vm_id, started.kind, code, message, error.status_code
                )
            raise _call_error(error, f"checking {started.kind.value} on {started.vm_id}") from error


_TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}
# The SDK wants install parameters even when resuming from a token; they are not sent.
_RESUME_ONLY = arm.VirtualMachineInstallPatchesParameters(reboot_setting="IfRequired")


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
