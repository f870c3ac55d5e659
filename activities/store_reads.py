"""Reads of many VMs' records that the activities share: one store query per subscription
of the VMs named, never one per VM."""

from __future__ import annotations

from collections.abc import Iterable

from azure_io.patch_views import VmView
from azure_io.ports import PatchStore
from patching.models import VmTarget
from patching.resource_ids import VmId


def _subscriptions(vm_ids: Iterable[str]) -> list[str]:
    return sorted({VmId.parse(vm).subscription_id.lower() for vm in vm_ids})


def recorded_views(store: PatchStore, vm_ids: Iterable[str]) -> dict[str, VmView]:
    """The recorded views of every VM of the subscriptions of ``vm_ids``, by VM key."""
    return {
        key: view
        for subscription in _subscriptions(vm_ids)
        for key, view in store.vm_views(subscription).items()
    }


def inventoried(store: PatchStore, vm_ids: Iterable[str]) -> dict[str, VmTarget]:
    """The discovered VMs of the subscriptions of ``vm_ids``, by VM key."""
    return {
        target.key: target
        for subscription in _subscriptions(vm_ids)
        for target in store.inventory(subscription)
    }
