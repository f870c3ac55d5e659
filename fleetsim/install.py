"""What installPatches does with a request: which patches, how long, whether it reboots."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from azure.mgmt.compute.models import (
    VMGuestPatchClassificationLinux,
    VMGuestPatchClassificationWindows,
)

from fleetsim.catalog import Patch
from fleetsim.fleet import FleetError, parse_time

REBOOT_SETTINGS = ("IfRequired", "Never", "Always")
# The classifications ARM accepts per OS, as the SDK knows them.
WINDOWS_CLASSIFICATIONS = tuple(c.value for c in VMGuestPatchClassificationWindows)
LINUX_CLASSIFICATIONS = tuple(c.value for c in VMGuestPatchClassificationLinux)
_WINDOWS_ONLY = ("kbNumbersToInclude", "kbNumbersToExclude", "excludeKbsRequiringReboot")
_LINUX_ONLY = ("packageNameMasksToInclude", "packageNameMasksToExclude")
# Azure refuses install windows longer than four hours.
MAX_DURATION = timedelta(hours=4)
_MICROSECOND = timedelta(microseconds=1)

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class InvalidRequest(ValueError):
    """A request body ARM would answer with 400 InvalidParameter."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target


class InstallationState(StrEnum):
    INSTALLED = "Installed"
    FAILED = "Failed"
    EXCLUDED = "Excluded"
    NOT_SELECTED = "NotSelected"
    PENDING = "Pending"


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        raise InvalidRequest("maximumDuration", f"'{text}' is not an ISO 8601 duration")
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    try:
        return timedelta(**parts)
    except OverflowError as exc:  # beyond any timedelta: certainly beyond the 4-hour cap
        raise InvalidRequest(
            "maximumDuration", f"'{text}' is longer than the 4 hours (PT4H) allowed."
        ) from exc


@dataclass(frozen=True)
class InstallRequest:
    maximum_duration: timedelta
    reboot_setting: str
    classifications: frozenset[str]
    kbs_to_include: frozenset[str]
    kbs_to_exclude: frozenset[str]
    exclude_kbs_requiring_reboot: bool
    max_publish_date: datetime | None
    masks_to_include: tuple[str, ...]
    masks_to_exclude: tuple[str, ...]


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{where}.{key}", f"{where}.{key} must be a list of strings")
    return tuple(value)


def normalize_kb(number: str) -> str:
    """'KB5048654', 'kb5048654' and '5048654' are the same KB."""
    return number.strip().upper().removeprefix("KB")


def _canonical(value: str, allowed: Sequence[str]) -> str | None:
    # ARM compares enum values without regard to case.
    return next((a for a in allowed if a.lower() == value.lower()), None)


def _classifications(params: Mapping[str, Any], key: str, *, windows: bool) -> frozenset[str]:
    allowed = WINDOWS_CLASSIFICATIONS if windows else LINUX_CLASSIFICATIONS
    result: set[str] = set()
    for value in _strings(params, "classificationsToInclude", key):
        canonical = _canonical(value, allowed)
        if canonical is None:
            os_name = "Windows" if windows else "Linux"
            raise InvalidRequest(
                f"{key}.classificationsToInclude",
                f"'{value}' is not a valid {os_name} patch classification; "
                f"allowed values are {', '.join(allowed)}.",
            )
        result.add(canonical)
    return frozenset(result)


def parse_install_request(body: Any, *, windows: bool) -> InstallRequest:
    if not isinstance(body, Mapping):
        raise InvalidRequest("installPatchesInput", "The request body must be a JSON object.")
    duration_text = body.get("maximumDuration")
    if duration_text is None:
        raise InvalidRequest("maximumDuration", "Required parameter 'maximumDuration' is missing.")
    if not isinstance(duration_text, str):
        raise InvalidRequest(
            "maximumDuration", f"{duration_text!r} is not an ISO 8601 duration (e.g. 'PT2H')."
        )
    duration = parse_duration(duration_text)
    if not timedelta(0) < duration <= MAX_DURATION:
        raise InvalidRequest(
            "maximumDuration", "maximumDuration must be positive and at most 4 hours (PT4H)."
        )
    raw_reboot = body.get("rebootSetting")
    reboot_setting = (
        _canonical(raw_reboot, REBOOT_SETTINGS) if isinstance(raw_reboot, str) else None
    )
    if reboot_setting is None:
        raise InvalidRequest(
            "rebootSetting",
            f"rebootSetting {raw_reboot!r} is not valid; "
            f"it must be one of {', '.join(REBOOT_SETTINGS)}.",
        )
    os_name = "Windows" if windows else "Linux"
    key = "windowsParameters" if windows else "linuxParameters"
    other_key = "linuxParameters" if windows else "windowsParameters"
    if body.get(other_key) is not None:
        raise InvalidRequest(
            other_key, f"'{other_key}' cannot be used on a {os_name} virtual machine."
        )
    params = body.get(key)
    if not isinstance(params, Mapping):
        raise InvalidRequest(key, f"'{key}' is required for a {os_name} virtual machine.")
    for foreign in _LINUX_ONLY if windows else _WINDOWS_ONLY:
        if params.get(foreign) is not None:
            raise InvalidRequest(
                f"{key}.{foreign}", f"'{foreign}' is not valid for a {os_name} virtual machine."
            )
    max_publish_date = None
    if params.get("maxPatchPublishDate") is not None:
        try:
            max_publish_date = parse_time(
                params["maxPatchPublishDate"], f"{key}.maxPatchPublishDate"
            )
        except FleetError as exc:
            raise InvalidRequest(f"{key}.maxPatchPublishDate", str(exc)) from exc
    classifications = _classifications(params, key, windows=windows)
    if windows:
        kbs_to_include = frozenset(
            normalize_kb(kb) for kb in _strings(params, "kbNumbersToInclude", key)
        )
        kbs_to_exclude = frozenset(
            normalize_kb(kb) for kb in _strings(params, "kbNumbersToExclude", key)
        )
        masks_to_include: tuple[str, ...] = ()
        masks_to_exclude: tuple[str, ...] = ()
    else:
        kbs_to_include = kbs_to_exclude = frozenset()
        masks_to_include = _strings(params, "packageNameMasksToInclude", key)
        masks_to_exclude = _strings(params, "packageNameMasksToExclude", key)
    if not (classifications or kbs_to_include or masks_to_include):
        raise InvalidRequest(
            f"{key}.classificationsToInclude",
            "At least one classification, KB number or package name mask must be included.",
        )
    exclude_reboot = params.get("excludeKbsRequiringReboot", False)
    if not isinstance(exclude_reboot, bool):
        raise InvalidRequest(f"{key}.excludeKbsRequiringReboot", "must be true or false")
    return InstallRequest(
        maximum_duration=duration,
        reboot_setting=reboot_setting,
        classifications=classifications,
        kbs_to_include=kbs_to_include,
        kbs_to_exclude=kbs_to_exclude,
        exclude_kbs_requiring_reboot=exclude_reboot,
        max_publish_date=max_publish_date,
        masks_to_include=masks_to_include,
        masks_to_exclude=masks_to_exclude,
    )


def _mask_matches(patch: Patch, masks: Sequence[str]) -> bool:
    # Linux masks match the package name, or "name=version" for pinned versions.
    return any(
        fnmatch.fnmatchcase(patch.name, mask)
        or fnmatch.fnmatchcase(f"{patch.name}={patch.version}", mask)
        for mask in masks
    )


def triage(patch: Patch, request: InstallRequest) -> InstallationState:
    """Excluded: the caller blocked it (by KB, mask, or as needing a reboot);
    NotSelected: it meets no inclusion criterion or was published too late.

    Anything else is PENDING: selected, to be installed if the window allows.
    """
    kb = normalize_kb(patch.kb_id) if patch.kb_id else None
    if kb is not None and kb in request.kbs_to_exclude:
        return InstallationState.EXCLUDED
    if _mask_matches(patch, request.masks_to_exclude):
        return InstallationState.EXCLUDED
    explicitly_included = (kb is not None and kb in request.kbs_to_include) or _mask_matches(
        patch, request.masks_to_include
    )
    by_classification = any(c in request.classifications for c in patch.classifications)
    if not (explicitly_included or by_classification):
        return InstallationState.NOT_SELECTED
    if request.max_publish_date is not None and patch.published > request.max_publish_date:
        return InstallationState.NOT_SELECTED
    if request.exclude_kbs_requiring_reboot and patch.needs_reboot:
        return InstallationState.EXCLUDED
    return InstallationState.PENDING


@dataclass(frozen=True)
class InstallOutcome:
    """Everything an install will have done once its duration has passed."""

    states: tuple[tuple[Patch, InstallationState], ...]
    duration: timedelta
    status: str
    reboot_status: str
    rebooted: bool
    maintenance_window_exceeded: bool
    error: Mapping[str, Any] | None

    def count(self, state: InstallationState) -> int:
        return sum(1 for _, s in self.states if s is state)

    @property
    def installed(self) -> tuple[Patch, ...]:
        return tuple(p for p, s in self.states if s is InstallationState.INSTALLED)


def _install_order(patch: Patch) -> tuple[int, str]:
    # Critical and security first, as the guest agent does, then by name for determinism.
    return (0 if patch.is_critical_or_security else 1, patch.name)


def plan_install(
    missing: Sequence[Patch],
    request: InstallRequest,
    *,
    install_minutes: float,
    fails: bool,
    reboot_pending_before: bool,
    deallocated_after: timedelta | None = None,
) -> InstallOutcome:
    """Decide the install's result from what the VM lacks when it starts.

    The selected patches share `install_minutes` equally and go in order; those
    that would end after `maximumDuration` stay Pending and the window counts as
    exceeded. A failing VM fails every patch it tries. With rebootSetting Never a
    patch that needs a restart is left Pending (not installed) and the VM
    reports rebootStatus Required (docs/DOMAIN.md section 4). A reboot pending from an
    earlier install (rebootSetting Never) is taken when this one may reboot. A VM
    deallocated `deallocated_after` into the install stops there: what finished
    stays installed, the rest stays Pending, and the operation fails.
    """
    full_duration = min(timedelta(minutes=install_minutes), request.maximum_duration)
    interrupted = deallocated_after is not None and deallocated_after < full_duration
    budget = deallocated_after if interrupted and deallocated_after is not None else full_duration
    triaged = [(patch, triage(patch, request)) for patch in missing]
    selected = sorted((p for p, s in triaged if s is InstallationState.PENDING), key=_install_order)
    # Exact arithmetic in microseconds: patch i of n ends at full * (i + 1) / n
    # (rounded down), so the last one ends exactly when the whole install does;
    # adding up a rounded per-patch share could overshoot and leave it out.
    full_us = timedelta(minutes=install_minutes) // _MICROSECOND
    budget_us = budget // _MICROSECOND
    finished: dict[str, InstallationState] = {}
    for i, patch in enumerate(selected):
        if full_us * (i + 1) // len(selected) > budget_us:
            break
        if fails:
            finished[patch.patch_id] = InstallationState.FAILED
        elif patch.needs_reboot and request.reboot_setting == "Never":
            # Installed but not complete until the VM restarts, which it may not:
            # the patch stays pending and the VM reports rebootStatus Required.
            finished[patch.patch_id] = InstallationState.PENDING
        else:
            finished[patch.patch_id] = InstallationState.INSTALLED
    window_exceeded = not interrupted and len(finished) < len(selected)
    states = tuple((patch, finished.get(patch.patch_id, state)) for patch, state in triaged)
    installed = [p for p, s in states if s is InstallationState.INSTALLED]
    awaiting_reboot = any(finished.get(p.patch_id) is InstallationState.PENDING for p in selected)
    wants_reboot = (
        reboot_pending_before or awaiting_reboot or any(p.needs_reboot for p in installed)
    )
    if interrupted:
        rebooted = False
    elif request.reboot_setting == "Always":
        rebooted = True
    elif request.reboot_setting == "IfRequired":
        rebooted = wants_reboot
    else:
        rebooted = False
    if rebooted:
        reboot_status = "Completed"
    elif wants_reboot:
        reboot_status = "Required"
    else:
        reboot_status = "NotNeeded"
    error: Mapping[str, Any] | None = None
    if interrupted:
        status = "Failed"
        error = {
            "code": "PatchInstallationInterrupted",
            "message": "The VM was deallocated while patches were being installed; "
            f"{len(selected) - len(finished)} patch(es) were not installed.",
        }
    elif fails and selected:
        status = "Failed"
        error = {
            "code": "PatchInstallationFailure",
            "message": f"{len(finished)} patch(es) failed to install; "
            "see the patches list for details.",
        }
    elif window_exceeded:
        status = "CompletedWithWarnings"
    else:
        status = "Succeeded"
    return InstallOutcome(
        states=states,
        # The VM's install time covers the whole operation (reboot included); an
        # operation never outlasts its window.
        duration=budget,
        status=status,
        reboot_status=reboot_status,
        rebooted=rebooted,
        maintenance_window_exceeded=window_exceeded,
        error=error,
    )
