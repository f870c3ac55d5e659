"""What installPatches does with a request: which patches, how long, whether it reboots."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fleetsim.catalog import Patch
from fleetsim.fleet import FleetError, parse_time

REBOOT_SETTINGS = ("IfRequired", "Never", "Always")
# Azure refuses install windows longer than four hours.
MAX_DURATION = timedelta(hours=4)

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
    return timedelta(**parts)


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


def _kb(number: str) -> str:
    return number.upper().removeprefix("KB")


def parse_install_request(body: Any, *, windows: bool) -> InstallRequest:
    if not isinstance(body, Mapping):
        raise InvalidRequest("installPatchesInput", "The request body must be a JSON object.")
    duration_text = body.get("maximumDuration")
    if not isinstance(duration_text, str):
        raise InvalidRequest("maximumDuration", "Required parameter 'maximumDuration' is missing.")
    duration = parse_duration(duration_text)
    if not timedelta(0) < duration <= MAX_DURATION:
        raise InvalidRequest(
            "maximumDuration", "maximumDuration must be positive and at most 4 hours (PT4H)."
        )
    reboot_setting = body.get("rebootSetting")
    if reboot_setting not in REBOOT_SETTINGS:
        raise InvalidRequest(
            "rebootSetting", f"rebootSetting must be one of {', '.join(REBOOT_SETTINGS)}."
        )
    key = "windowsParameters" if windows else "linuxParameters"
    params = body.get(key)
    if not isinstance(params, Mapping):
        os_name = "Windows" if windows else "Linux"
        raise InvalidRequest(key, f"'{key}' is required for a {os_name} virtual machine.")
    max_publish_date = None
    if params.get("maxPatchPublishDate") is not None:
        try:
            max_publish_date = parse_time(
                params["maxPatchPublishDate"], f"{key}.maxPatchPublishDate"
            )
        except FleetError as exc:
            raise InvalidRequest(f"{key}.maxPatchPublishDate", str(exc)) from exc
    classifications = _strings(params, "classificationsToInclude", key)
    if windows:
        kbs_to_include = frozenset(_kb(kb) for kb in _strings(params, "kbNumbersToInclude", key))
        kbs_to_exclude = frozenset(_kb(kb) for kb in _strings(params, "kbNumbersToExclude", key))
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
        classifications=frozenset(classifications),
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
    kb = patch.kb_id.upper() if patch.kb_id else None
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
    exceeded. A failing VM fails every patch it tries. A reboot pending from an
    earlier install (rebootSetting Never) is taken when this one may reboot. A VM
    deallocated `deallocated_after` into the install stops there: what finished
    stays installed, the rest stays Pending, and the operation fails.
    """
    full_duration = min(timedelta(minutes=install_minutes), request.maximum_duration)
    interrupted = deallocated_after is not None and deallocated_after < full_duration
    budget = deallocated_after if interrupted and deallocated_after is not None else full_duration
    triaged = [(patch, triage(patch, request)) for patch in missing]
    selected = sorted((p for p, s in triaged if s is InstallationState.PENDING), key=_install_order)
    per_patch = timedelta(minutes=install_minutes) / len(selected) if selected else timedelta(0)
    finished: dict[str, InstallationState] = {}
    elapsed = timedelta(0)
    for patch in selected:
        if elapsed + per_patch > budget:
            break
        elapsed += per_patch
        finished[patch.patch_id] = (
            InstallationState.FAILED if fails else InstallationState.INSTALLED
        )
    window_exceeded = not interrupted and len(finished) < len(selected)
    states = tuple((patch, finished.get(patch.patch_id, state)) for patch, state in triaged)
    installed = [p for p, s in states if s is InstallationState.INSTALLED]
    wants_reboot = reboot_pending_before or any(p.needs_reboot for p in installed)
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
