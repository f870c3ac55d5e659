"""PatchAssessmentWaves: the waves of an assessment round, so its orchestrations pass a
round id and a wave index instead of VM lists (docs/CONTRACTS.md section 7, an addition).

A partition per round (its orchestration instance id), a row per wave (`{index:05d}`):
its start, subscription, region and VM ids (a JSON array; a wave holds at most 100 VMs,
about 25 KiB, inside one string property).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from azure_io.rollout_records import checked_key_part
from azure_io.table_rows import Entity, checked_string_property, utc
from patching.assessment import Wave


def wave_partition(round_id: str) -> str:
    return checked_key_part("assessment round id", round_id)


def wave_row_key(index: int) -> str:
    if not 0 <= index < 100_000:
        raise ValueError(f"wave index {index} is outside 0-99999")
    return f"{index:05d}"


def wave_rows(round_id: str, waves: Sequence[Wave], *, recorded_at: datetime) -> list[Entity]:
    """The rows of a round's waves, indexed by their position in `waves`."""
    partition = wave_partition(round_id)
    recorded_at = utc(recorded_at)
    return [
        {
            "PartitionKey": partition,
            "RowKey": wave_row_key(index),
            "start": utc(wave.start),
            "subscription": wave.subscription,
            "region": wave.region,
            "vms": checked_string_property(
                "vms", json.dumps(list(wave.vms)), owner=f"wave {index} of round {round_id}"
            ),
            "recordedAt": recorded_at,
        }
        for index, wave in enumerate(waves)
    ]


def wave_from_entity(entity: Mapping[str, Any]) -> Wave:
    return Wave(
        start=utc(entity["start"]),
        subscription=entity["subscription"],
        region=entity["region"],
        vms=tuple(json.loads(entity["vms"])),
    )
