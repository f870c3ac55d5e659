"""`patchctl export-fleet`: a fleet file (docs/CONTRACTS.md section 2) from real subscriptions.

The VMs come through the app's own compute adapter (`ComputeAdapter.discover`, the two
paged lists a cycle's discovery reads) and the regions' pairs through its
`region_pairs` (ARM's `listLocations`), so the file holds what the app would plan with:
plan or rehearse it and the planner sees the fleet a cycle would. ARM is the settings'
(`PATCH_ARM_ENDPOINT`, `PATCH_ARM_CA_BUNDLE`, `PATCH_ARM_CREDENTIAL`; by default
management.azure.com with DefaultAzureCredential).

What ARM does not say is written as the app assumes it: a region's time zone is the
built-in table's (UTC for a region the table lacks), a region ARM names no pair for keeps
the table's, and a VM in an availability set whose instance view gives no update domain
(a deallocated VM) is in domain 0, as the planner reads it. The document is checked
against the fleet schema before it is written, and written whole or not at all.
"""

from __future__ import annotations

import argparse
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from azure_io.settings import Settings, SettingsError
from patchctl.files import refuse_to_overwrite, write_json
from patching.errors import BadInput
from patching.fleet import FleetError, parse_fleet
from patching.models import VmTarget
from patching.regions import BUILTIN_REGIONS

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    from azure_io.compute import ComputeAdapter

FLEET_VERSION = 1


class ExportFailed(BadInput):
    """ARM (or the credential) failed, or answered what no fleet file can hold; exit 1,
    since the input was fine. Nothing is written."""

    exit_code: ClassVar[int] = 1


def subscription_argument(text: str) -> str:
    """A subscription GUID in its 8-4-4-4-12 form, lowercased (as ARM ids compare)."""
    try:
        canonical = str(uuid.UUID(text.strip()))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a subscription GUID "
            "(expected e.g. 11111111-1111-1111-1111-111111111111)"
        ) from error
    if len(text.strip()) != len(canonical):
        raise argparse.ArgumentTypeError(f"{text!r} is not in the 8-4-4-4-12 GUID form")
    return canonical


def run(arguments: argparse.Namespace) -> int:
    subscriptions = tuple(dict.fromkeys(arguments.subscription))
    # Refused before ARM is asked anything; checked again when the file is written.
    refuse_to_overwrite(arguments.out, flag="--out", inputs={})
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise BadInput(str(error)) from error
    document = export_fleet(settings, subscriptions)
    write_json(arguments.out, document, flag="--out", inputs={})
    print(
        f"exported {len(document['vms'])} VMs of {len(subscriptions)} subscriptions in "
        f"{len(document['regions'])} regions -> {arguments.out}"
    )
    return 0


def export_fleet(
    settings: Settings,
    subscriptions: Sequence[str],
    *,
    credential: TokenCredential | None = None,
) -> dict[str, Any]:
    """The fleet document of `subscriptions` as ARM (the settings' endpoint) describes them;
    ExportFailed when ARM fails or its answer makes no valid fleet file."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    from azure_io.compute import ComputeAdapter, arm_client_options
    from azure_io.credentials import credential_from_settings
    from azure_io.errors import AzureIoError

    credential = credential or credential_from_settings(settings)
    adapter = ComputeAdapter.from_settings(settings, credential)
    names_client = SubscriptionClient(credential, **arm_client_options(settings))
    try:
        with _quiet_sdk_warnings():
            names, vms, pairs = _read_arm(adapter, names_client, subscriptions)
    except (AzureError, AzureIoError) as error:
        # The first line says what failed; DefaultAzureCredential adds a page of what it tried.
        said = next(iter(str(error).splitlines()), type(error).__name__)
        refused = isinstance(error, ClientAuthenticationError) or isinstance(
            error.__cause__, ClientAuthenticationError
        )
        hint = " (sign in, e.g. `az login`, with Reader on the subscriptions)" if refused else ""
        raise ExportFailed(
            f"cannot read the fleet from ARM ({settings.arm_endpoint}): {said}{hint}"
        ) from error
    finally:
        adapter.close()
        names_client.close()
        close = getattr(credential, "close", None)
        if callable(close):
            close()
    document = fleet_document(subscriptions, names, vms, pairs)
    _check(document)
    return document


def _read_arm(
    adapter: ComputeAdapter, names_client: SubscriptionClient, subscriptions: Sequence[str]
) -> tuple[dict[str, str | None], list[VmTarget], dict[str, str]]:
    """The subscriptions' display names, their VMs and their regions' pairs, from ARM."""
    names = {
        str(sub.subscription_id).lower(): sub.display_name
        for sub in names_client.subscriptions.list()
        if sub.subscription_id
    }
    vms: list[VmTarget] = []
    pairs: dict[str, str] = {}
    for subscription in subscriptions:
        # In id order: one file per fleet whatever order ARM lists in, and the planner
        # breaks ties between equal slots by the fleet's order.
        vms += sorted(adapter.discover(subscription), key=lambda vm: vm.key)
        pairs.update(adapter.region_pairs(subscription))
    return names, vms, pairs


def fleet_document(
    subscriptions: Sequence[str],
    names: Mapping[str, str | None],
    vms: Sequence[VmTarget],
    pairs: Mapping[str, str],
) -> dict[str, Any]:
    """A version-1 fleet file of these VMs, with the regions they are in and ARM's pairs."""
    return {
        "version": FLEET_VERSION,
        "subscriptions": [
            {"id": sub, **({"displayName": names[sub]} if names.get(sub) else {})}
            for sub in subscriptions
        ],
        "regions": _regions({vm.region for vm in vms}, pairs),
        "vms": [_vm_entry(vm) for vm in vms],
    }


def _regions(present: Iterable[str], arm_pairs: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each region a VM is in, with its pair (ARM's laid over the built-in table, as a
    cycle's discovery does) and time zone; a pair the table lacks is listed too, so the
    file names no region it does not describe."""
    written: dict[str, dict[str, Any]] = {}
    pending = sorted(present)
    while pending:
        name = pending.pop(0)
        if name in written:
            continue
        builtin = BUILTIN_REGIONS.get(name)
        pair = arm_pairs.get(name) or (builtin.paired_region if builtin else None)
        written[name] = {
            "name": name,
            "pairedRegion": pair,
            "timeZone": builtin.time_zone if builtin else "UTC",
        }
        if pair is not None and pair not in BUILTIN_REGIONS and pair not in written:
            pending.append(pair)
    return [written[name] for name in sorted(written)]


def _vm_entry(vm: VmTarget) -> dict[str, Any]:
    """Every field of the VM the planner reads, in the fleet file's names."""
    entry: dict[str, Any] = {
        "id": vm.id,
        "location": vm.location,
        "osType": vm.os_type.value,
        "patchMode": vm.patch_mode.value,
        "powerState": vm.power_state.value,
        "enableHotpatching": vm.enable_hotpatching,
    }
    if vm.zone is not None:
        entry["zone"] = vm.zone
    if vm.availability_set is not None:
        entry["availabilitySet"] = vm.availability_set
        # The file requires a set member's domain; the planner reads an unknown one as 0.
        entry["updateDomain"] = vm.update_domain or 0
    elif vm.update_domain is not None:
        entry["updateDomain"] = vm.update_domain
    if vm.fault_domain is not None:
        entry["faultDomain"] = vm.fault_domain
    if vm.image_sku:
        entry["imageSku"] = vm.image_sku
    if vm.time_zone:
        entry["timeZone"] = vm.time_zone
    if vm.tags:
        entry["tags"] = dict(vm.tags)
    return entry


@contextmanager
def _quiet_sdk_warnings() -> Iterator[None]:
    """The SDK logs a failure's details as warnings (to stderr, with no handler set) before
    raising it; the refusal says it once, on one line."""
    sdk = logging.getLogger("azure")
    level = sdk.level
    sdk.setLevel(logging.ERROR)
    try:
        yield
    finally:
        sdk.setLevel(level)


_VM_INDEX = re.compile(r"^vms\[(\d+)\]")


def _check(document: dict[str, Any]) -> None:
    """The document is a fleet file `patchctl plan` reads; else ExportFailed naming the VM."""
    try:
        parse_fleet(document)
    except FleetError as error:
        message = str(error)
        found = _VM_INDEX.match(message)
        if found is not None:
            message += f" (VM {document['vms'][int(found.group(1))]['id']})"
        raise ExportFailed(f"ARM's answer makes no valid fleet file: {message}") from error
