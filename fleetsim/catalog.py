"""The patches an assessment finds on a VM: the fleet file's list or a built-in catalog."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleetsim.fleet import PatchSpec, VmSpec

NEVER_REBOOTS = "NeverReboots"


@dataclass(frozen=True)
class Patch:
    patch_id: str
    name: str
    version: str
    kb_id: str | None
    classifications: tuple[str, ...]
    reboot_behavior: str
    published: datetime

    @property
    def key(self) -> str:
        """What identifies the patch once installed: its KB, or its package name on Linux."""
        return self.kb_id if self.kb_id is not None else self.name

    @property
    def needs_reboot(self) -> bool:
        # CanRequestReboot patches do ask for one in this simulator, so that
        # excludeKbsRequiringReboot and rebootSetting have something to decide.
        return self.reboot_behavior != NEVER_REBOOTS

    @property
    def is_critical_or_security(self) -> bool:
        return any(c in ("Critical", "Security") for c in self.classifications)


@dataclass(frozen=True)
class _CatalogEntry:
    kb_id: str | None
    name: str
    version: str
    classifications: tuple[str, ...]
    reboot_behavior: str
    days_before_epoch: int
    hotpatch_only: bool = False


# Realistic shapes, invented numbers: a hotpatch (only offered to hotpatch-enabled
# VMs), a cumulative update that needs a reboot, a critical fix that may ask for
# one, and classifications the scheduled cycle never installs.
_WINDOWS_CATALOG = (
    _CatalogEntry(
        "5050001",
        "2026-11 Security Hotpatch Update for Windows Server 2022 Azure Edition",
        "20348.2966.1.1",
        ("Security",),
        NEVER_REBOOTS,
        14,
        hotpatch_only=True,
    ),
    _CatalogEntry(
        "5050002",
        "2026-11 Cumulative Update for Microsoft server operating system",
        "20348.2966",
        ("Security",),
        "AlwaysRequiresReboot",
        14,
    ),
    _CatalogEntry(
        "5050003",
        "2026-11 Servicing Stack Update for Microsoft server operating system",
        "20348.2962",
        ("Critical",),
        "CanRequestReboot",
        14,
    ),
    _CatalogEntry(
        "5050004",
        "2026-11 Critical Update for Windows Malicious Software Removal Tool",
        "5.131",
        ("Critical",),
        NEVER_REBOOTS,
        14,
    ),
    _CatalogEntry(
        "5050005",
        "2026-11 Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1",
        "4.8.1",
        ("UpdateRollUp",),
        "AlwaysRequiresReboot",
        20,
    ),
    _CatalogEntry(
        "2267602",
        "Security Intelligence Update for Microsoft Defender Antivirus",
        "1.421.1.0",
        ("Definition",),
        NEVER_REBOOTS,
        1,
    ),
    _CatalogEntry(
        "5050006",
        "Update for Microsoft Edge",
        "131.0.2903.70",
        ("Updates",),
        NEVER_REBOOTS,
        7,
    ),
)

_LINUX_CATALOG = (
    _CatalogEntry(None, "openssl", "3.0.2-0ubuntu1.18", ("Security",), NEVER_REBOOTS, 10),
    _CatalogEntry(
        None, "linux-image-azure", "6.8.0-1018.21", ("Security",), "AlwaysRequiresReboot", 12
    ),
    _CatalogEntry(None, "libc6", "2.35-0ubuntu3.8", ("Critical",), "CanRequestReboot", 15),
    _CatalogEntry(None, "curl", "7.81.0-1ubuntu1.19", ("Critical",), NEVER_REBOOTS, 5),
    _CatalogEntry(None, "vim", "2:8.2.3995-1ubuntu2.21", ("Other",), NEVER_REBOOTS, 30),
    _CatalogEntry(None, "tzdata", "2026a-0ubuntu0.22.04", ("Other",), NEVER_REBOOTS, 3),
)


def _patch_id(vm_os: str, name: str, version: str, kb_id: str | None) -> str:
    if vm_os == "Linux":
        return f"{name}_{version}_Ubuntu_22.04"
    digest = hashlib.sha256(f"{kb_id}|{name}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def _from_spec(vm: VmSpec, spec: PatchSpec, epoch: datetime) -> Patch:
    version = spec.version or ("1.0" if spec.kb_id is None else f"KB{spec.kb_id}")
    return Patch(
        patch_id=spec.patch_id or _patch_id(vm.os_type, spec.name, version, spec.kb_id),
        name=spec.name,
        version=version,
        kb_id=spec.kb_id,
        classifications=spec.classifications,
        reboot_behavior=spec.reboot_behavior,
        published=spec.published or epoch,
    )


def patches_for(vm: VmSpec, epoch: datetime, *, hotpatching: bool) -> tuple[Patch, ...]:
    """Every patch the VM lacks before anything is installed.

    `epoch` anchors the built-in catalog's publish dates (the simulator's start),
    so a catalog patch is always published before the run begins. Hotpatches
    are offered only while `hotpatching` is on, as on Azure Edition.
    """
    if vm.available_patches is not None:
        return tuple(_from_spec(vm, spec, epoch) for spec in vm.available_patches)
    catalog = _WINDOWS_CATALOG if vm.is_windows else _LINUX_CATALOG
    day = epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    return tuple(
        Patch(
            patch_id=_patch_id(vm.os_type, entry.name, entry.version, entry.kb_id),
            name=entry.name,
            version=entry.version,
            kb_id=entry.kb_id,
            classifications=entry.classifications,
            reboot_behavior=entry.reboot_behavior,
            published=day - timedelta(days=entry.days_before_epoch),
        )
        for entry in catalog
        if hotpatching or not entry.hotpatch_only
    )
