"""Timer triggers on NCRONTAB schedules; each call is recorded with the host clock's time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.functions as func

from fleetsim.clock import Clock

app = func.FunctionApp()

# Set by the test: the clock the host runs on.
clock: Clock | None = None
calls: list[tuple[str, datetime, bool, dict[str, Any]]] = []


def _record(name: str, timer: func.TimerRequest) -> None:
    assert clock is not None
    calls.append((name, clock.now(), timer.past_due, dict(timer.schedule_status)))


@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer")
def hourly(timer: func.TimerRequest) -> None:
    _record("hourly", timer)


@app.timer_trigger(schedule="0 0 10 * * 2", arg_name="timer")
async def tuesday_ten(timer: func.TimerRequest) -> None:
    _record("tuesday_ten", timer)
