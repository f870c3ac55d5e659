"""Writes the project's example fleets into examples/ (run by `make examples`)."""

from __future__ import annotations

import json
from pathlib import Path

from patchctl.fleetgen import generate_fleet

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# name: (VMs, seed, geo-pairs of regions beside the small canary region)
FLEETS = {
    "fleet-demo.json": (200, 11, 2),
    "fleet-1k.json": (1000, 1, 2),
}


def main() -> None:
    EXAMPLES.mkdir(exist_ok=True)
    for name, (count, seed, pairs) in FLEETS.items():
        document = generate_fleet(count, seed=seed, region_pairs=pairs)
        (EXAMPLES / name).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"{name}: {count} VMs")


if __name__ == "__main__":
    main()
