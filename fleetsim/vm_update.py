"""A VM update (PATCH) body, validated as ARM does: tags, patch mode and hotpatching."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleetsim.errors import invalid_content, invalid_parameter
from fleetsim.fleet import VmSpec

WINDOWS_PATCH_MODES = ("Manual", "AutomaticByOS", "AutomaticByPlatform")
LINUX_PATCH_MODES = ("ImageDefault", "AutomaticByPlatform")


@dataclass(frozen=True)
class VmUpdate:
    """The VM's settings once the update applies; `tags` None keeps the VM's."""

    patch_mode: str
    enable_hotpatching: bool
    tags: dict[str, str] | None


def _object(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """A nested object of a request body; absent or null is an empty one."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        where = f"{path}.{key}" if path else key
        raise invalid_content(where, f"'{where}' must be a JSON object.")
    return value


def _patch_mode(spec: VmSpec, requested: Any, current: str, where: str) -> str:
    if requested is None:
        return current
    if not isinstance(requested, str):
        raise invalid_content(where, "patchMode must be a string.")
    modes = WINDOWS_PATCH_MODES if spec.is_windows else LINUX_PATCH_MODES
    canonical = next((m for m in modes if m.lower() == requested.lower()), None)
    if canonical is None:
        raise invalid_parameter(
            where,
            f"patchMode '{requested}' is not valid for a {spec.os_type} virtual "
            f"machine; allowed values are {', '.join(modes)}.",
        )
    return canonical


def _hotpatching(spec: VmSpec, requested: Any, current: bool, patch_mode: str, where: str) -> bool:
    if requested is None:
        hotpatching = current
    elif not isinstance(requested, bool):
        raise invalid_content(where, "enableHotpatching must be true or false.")
    else:
        hotpatching = requested
    if hotpatching and not spec.is_windows:
        raise invalid_parameter(
            "patchSettings.enableHotpatching", "Hotpatching is only supported on Windows."
        )
    if hotpatching and patch_mode != "AutomaticByPlatform":
        raise invalid_parameter(
            "patchSettings.enableHotpatching",
            "Hotpatching requires patchMode 'AutomaticByPlatform'.",
        )
    # The image is checked when hotpatch is turned on, as on Azure; a VM that
    # already has it keeps it through any other update. The SKU is the one
    # the VM's JSON reports.
    sku = spec.reported_image_sku
    if hotpatching and not current and "azure-edition" not in sku.lower():
        raise invalid_parameter(
            "patchSettings.enableHotpatching",
            f"Hotpatching is not supported for image SKU '{sku}'; "
            "it needs Windows Server Azure Edition.",
        )
    return hotpatching


def parse_vm_update(
    body: Any, spec: VmSpec, *, patch_mode: str, enable_hotpatching: bool
) -> VmUpdate:
    """Validate `body` against the VM as it is now (its patch mode and hotpatch flag)."""
    if not isinstance(body, Mapping):
        raise invalid_content("", "The request body must be a JSON object.")
    properties = _object(body, "properties", "")
    os_profile = _object(properties, "osProfile", "properties")
    config_key = "windowsConfiguration" if spec.is_windows else "linuxConfiguration"
    other_key = "linuxConfiguration" if spec.is_windows else "windowsConfiguration"
    if os_profile.get(other_key):
        raise invalid_parameter(
            f"osProfile.{other_key}",
            f"'{other_key}' cannot be set on a {spec.os_type} virtual machine.",
        )
    config = _object(os_profile, config_key, "properties.osProfile")
    settings_path = f"properties.osProfile.{config_key}"
    patch_settings = _object(config, "patchSettings", settings_path)
    settings_path += ".patchSettings"
    new_mode = _patch_mode(
        spec, patch_settings.get("patchMode"), patch_mode, f"{settings_path}.patchMode"
    )
    hotpatching = _hotpatching(
        spec,
        patch_settings.get("enableHotpatching"),
        enable_hotpatching,
        new_mode,
        f"{settings_path}.enableHotpatching",
    )
    tags = body.get("tags")
    if tags is not None and not (
        isinstance(tags, Mapping) and all(isinstance(v, str) for v in tags.values())
    ):
        raise invalid_content("tags", "tags must be an object of string values.")
    return VmUpdate(
        patch_mode=new_mode,
        enable_hotpatching=hotpatching,
        tags=None if tags is None else {str(k): v for k, v in tags.items()},
    )
