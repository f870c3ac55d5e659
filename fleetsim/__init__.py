"""Fleet simulator: the ARM compute API for the VMs of a fleet file, over HTTPS on loopback.

The real `azure-mgmt-compute` and `azure-mgmt-resource-subscriptions` clients
are its clients (`base_url=sim.base_url`, `connection_verify=str(sim.ca_path)`,
`credential=sim.credential`).
"""

from fleetsim.clock import Clock, ScaledClock, VirtualClock
from fleetsim.faults import FaultConfig
from fleetsim.fleet import FleetError
from fleetsim.server import RunningSimulator, SimulatorCredential, start_simulator
from fleetsim.state import FleetState, VmSnapshot

__all__ = [
    "Clock",
    "FaultConfig",
    "FleetError",
    "FleetState",
    "RunningSimulator",
    "ScaledClock",
    "SimulatorCredential",
    "VirtualClock",
    "VmSnapshot",
    "start_simulator",
]
