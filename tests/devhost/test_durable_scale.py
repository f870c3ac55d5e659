"""The engine at the size the next step needs: a wide fan-out and a long chain."""

from __future__ import annotations

from tests.devhost.durable_support import engine_on_virtual_clock, status_of


def test_a_thousand_activity_fan_out_and_a_200_step_chain_complete_with_exact_counts() -> None:
    """Their speed is measured by bench/bench_durable.py, not here."""
    with engine_on_virtual_clock() as (engine, _clock):
        fan_out = engine.start_new("fan_out", input=1000)
        chain = engine.start_new("chain", input={"start": 1, "steps": 200})
        engine.run_ready()
        assert status_of(engine, fan_out)["output"] == sum(2 * n for n in range(1000))
        assert status_of(engine, chain)["runtimeStatus"] == "Completed"
        chain_status = status_of(engine, chain)
        assert chain_status["replayCount"] == 200
        assert chain_status["historyEventCount"] == 2 + 4 * 200 + 2
