"""Local durable host benchmark: replay cost of a wide fan-out and a long chain.

A 1,000-activity fan-out and a 200-step activity chain run to completion through
the replay engine on a virtual clock, once with the engine's timestamp shortcut
and once with the SDK parsing every history timestamp itself. Each mode runs in
a fresh process (the shortcut patches the SDK module in the process that turns it
on); compare the ratio, the machine is shared and noisy.

    python -m bench.bench_durable [--fan-out 1000] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="value")  # type: ignore[untyped-decorator]
def double(value: int) -> int:
    return value * 2


@app.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    value: int = context.get_input()["start"]
    for _ in range(context.get_input()["steps"]):
        value = yield context.call_activity("double", value % 1_000_000)
    return value


@app.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def fan_out(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    count: int = context.get_input()
    doubled = yield context.task_all([context.call_activity("double", n) for n in range(count)])
    return sum(doubled)


def measure(*, fast: bool, fan_out_size: int, steps: int) -> dict[str, Any]:
    from devhost.app_loader import loaded
    from devhost.durable.engine import DurableEngine
    from fleetsim.clock import VirtualClock

    engine = DurableEngine(
        loaded(app), VirtualClock(datetime(2026, 12, 8, 18, tzinfo=UTC)), fast_timestamps=fast
    )
    try:
        began = time.perf_counter()
        wide = engine.start_new("fan_out", input=fan_out_size)
        engine.run_ready()
        fanned = time.perf_counter()
        long = engine.start_new("chain", input={"start": 1, "steps": steps})
        engine.run_ready()
        chained = time.perf_counter()
        statuses = [engine.status(wide), engine.status(long)]
        assert all(s is not None and s["runtimeStatus"] == "Completed" for s in statuses)
        stats = engine.stats()
    finally:
        engine.close()
    return {
        "fast_timestamps": fast,
        "fan_out_seconds": round(fanned - began, 3),
        "chain_seconds": round(chained - fanned, 3),
        "replayed_events": stats.replayed_events,
        "max_history_events": stats.max_history_events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fan-out", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--mode", choices=["fast", "sdk"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        result = measure(fast=args.mode == "fast", fan_out_size=args.fan_out, steps=args.steps)
        print(json.dumps(result))
        return
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    results = {}
    for mode in ("fast", "sdk"):
        command = [sys.executable, "-m", "bench.bench_durable", "--mode", mode]
        command += ["--fan-out", str(args.fan_out), "--steps", str(args.steps)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[mode] = json.loads(output.splitlines()[-1])
        print(mode, results[mode])
    for key in ("fan_out_seconds", "chain_seconds"):
        ratio = results["sdk"][key] / max(results["fast"][key], 1e-9)
        print(f"{key}: SDK parsing / shortcut = {ratio:.1f}x")


if __name__ == "__main__":
    main()
