"""Time zones: Windows ids as ARM reports them, IANA names, and which one a VM lives in."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from patching.errors import BadInput
from patching.regions import RegionInfo

UTC_ZONE = ZoneInfo("UTC")


class UnknownTimeZoneError(BadInput):
    """A time zone name that neither CLDR's Windows mapping nor the IANA database knows."""


@cache
def windows_zone(windows_id: str) -> ZoneInfo:
    """A Windows time zone id ('Pacific Standard Time') as an IANA zone (CLDR's mapping)."""
    iana = win_tz.get(windows_id)
    if iana is None:
        raise UnknownTimeZoneError(f"unknown Windows time zone id {windows_id!r}")
    return iana_zone(iana)


@cache
def iana_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZoneError(f"unknown IANA time zone {name!r}") from error


def vm_zone(
    *,
    windows_id: str | None,
    tag_zone: str | None,
    region: str,
    regions: Mapping[str, RegionInfo],
) -> ZoneInfo:
    """The VM's `timeZone` if set, else its `timeZone` tag, else its region's, else UTC."""
    if windows_id:
        return windows_zone(windows_id)
    if tag_zone:
        return iana_zone(tag_zone)
    info = regions.get(region)
    if info is not None:
        return iana_zone(info.time_zone)
    return UTC_ZONE
