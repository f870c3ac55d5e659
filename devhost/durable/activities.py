"""Running one activity the way the Python worker does.

The input arrives as the JSON text the orchestrator's action carried and is
decoded, and the return value encoded, by `azure.functions`' own activity
trigger converter; a failure becomes the Reason and Details the extension
records in `TaskFailed`.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from dataclasses import dataclass
from types import TracebackType

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.app_loader import LoadedApp, UnknownFunctionError


@dataclass(frozen=True)
class ActivityOutcome:
    result_json: str | None = None
    reason: str | None = None
    details: str | None = None

    @property
    def failed(self) -> bool:
        return self.reason is not None


def run_activity(app: LoadedApp, name: str, input_json: str | None) -> ActivityOutcome:
    try:
        spec = app.activity(name)
    except UnknownFunctionError as error:
        return ActivityOutcome(reason=str(error), details=str(error))
    try:
        value = ActivityTriggerConverter.decode(
            meta.Datum(value=input_json if input_json is not None else "null", type="json"),
            trigger_metadata=None,
        )
        returned = spec.user_function(**{spec.trigger_parameter: value})
        if inspect.iscoroutine(returned):
            returned = asyncio.run(returned)
        encoded = ActivityTriggerConverter.encode(returned, expected_type=None)
    except Exception as error:  # the activity's own failure, reported to the orchestrator
        return ActivityOutcome(
            reason=f"Activity function '{spec.name}' failed: {type(error).__name__}: {error}",
            # The first frame is this function; the user's frames follow.
            details="".join(traceback.format_exception(type(error), error, _caller_frames(error))),
        )
    return ActivityOutcome(result_json=str(encoded.value))


def _caller_frames(error: BaseException) -> TracebackType | None:
    return error.__traceback__.tb_next if error.__traceback__ is not None else None
