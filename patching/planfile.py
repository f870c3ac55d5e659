"""The plan file (docs/CONTRACTS.md section 3) to and from its JSON form."""

from __future__ import annotations

from typing import Any

from patching.errors import BadInput
from patching.models import (
    Assignment,
    Classification,
    Cycle,
    Phase,
    Plan,
    RebootSetting,
    Release,
    ReleaseKind,
    Skip,
)
from patching.timefmt import format_time, parse_time

# The time format lives in patching.timefmt; it is named here too because the plan
# file is where the command line has always found it.
__all__ = [
    "PLAN_VERSION",
    "PlanFileError",
    "format_time",
    "parse_time",
    "plan_from_json",
    "plan_to_json",
]

PLAN_VERSION = 1


class PlanFileError(BadInput):
    """A plan document this version cannot read."""


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "cycle": plan.cycle.id,
        "release": release_to_json(plan.cycle.release),
        "deadline": format_time(plan.cycle.deadline),
        "phases": [phase_to_json(phase) for phase in plan.phases],
        "assignments": [_assignment_json(a) for a in plan.assignments],
        "skipped": [{"vm": s.vm, "reason": s.reason} for s in plan.skipped],
        "makespanHours": plan.makespan_hours,
        "lowerBoundHours": plan.lower_bound_hours,
    }


def plan_from_json(document: dict[str, Any]) -> Plan:
    """The plan a plan document describes; PlanFileError when it is not one."""
    try:
        return _plan_from_json(document)
    except PlanFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PlanFileError(f"not a plan file of version {PLAN_VERSION}: {error!r}") from error


def _plan_from_json(document: dict[str, Any]) -> Plan:
    if document.get("version") != PLAN_VERSION:
        raise PlanFileError(f"plan version {document.get('version')!r} is not {PLAN_VERSION}")
    release = document["release"]
    cycle = Cycle(
        id=document["cycle"],
        release=Release(
            kind=ReleaseKind(release["kind"]),
            released_at=parse_time(release["releasedAt"]),
            release_id=release.get("releaseId"),
        ),
        deadline=parse_time(document["deadline"]),
    )
    return Plan(
        cycle=cycle,
        phases=tuple(
            Phase(
                index=p["index"],
                regions=tuple(p["regions"]),
                start=parse_time(p["start"]),
                end=parse_time(p["end"]),
                retry=p.get("retry", False),
            )
            for p in document["phases"]
        ),
        assignments=tuple(
            Assignment(
                vm=a["vm"],
                phase=a["phase"],
                start=parse_time(a["start"]),
                end=parse_time(a["end"]),
                reboot_setting=RebootSetting(a["rebootSetting"]),
                exclude_kbs_requiring_reboot=a["excludeKbsRequiringReboot"],
                classifications=tuple(Classification(c) for c in a["classifications"]),
            )
            for a in document["assignments"]
        ),
        skipped=tuple(Skip(s["vm"], s["reason"]) for s in document["skipped"]),
        makespan_hours=document["makespanHours"],
        lower_bound_hours=document["lowerBoundHours"],
    )


def release_to_json(release: Release) -> dict[str, Any]:
    """The plan file's `release` object; the rehearsal's report.json carries the same."""
    body: dict[str, Any] = {
        "kind": release.kind.value,
        "releasedAt": format_time(release.released_at),
    }
    if release.release_id is not None:
        body["releaseId"] = release.release_id
    return body


def phase_to_json(phase: Phase) -> dict[str, Any]:
    """A plan file's phase; the rehearsal's report.json lists the same."""
    body: dict[str, Any] = {
        "index": phase.index,
        "regions": list(phase.regions),
        "start": format_time(phase.start),
        "end": format_time(phase.end),
    }
    if phase.retry:
        body["retry"] = True
    return body


def _assignment_json(assignment: Assignment) -> dict[str, Any]:
    return {
        "vm": assignment.vm,
        "phase": assignment.phase,
        "start": format_time(assignment.start),
        "end": format_time(assignment.end),
        "rebootSetting": assignment.reboot_setting.value,
        "excludeKbsRequiringReboot": assignment.exclude_kbs_requiring_reboot,
        "classifications": [c.value for c in assignment.classifications],
    }
