"""Fleet simulator: the ARM compute API for the VMs of a fleet file, over HTTPS on loopback.

The real `azure-mgmt-compute` and `azure-mgmt-resource-subscriptions` clients
are its clients::

    clock = VirtualClock(datetime(2026, 12, 8, 18, tzinfo=UTC))
    with start_simulator(fleet, clock=clock) as sim:
        compute = ComputeManagementClient(
            sim.credential, subscription_id, base_url=sim.base_url,
            connection_verify=str(sim.ca_path), polling_interval=0,
        )
        poller = compute.virtual_machines.begin_install_patches(rg, name, parameters)
        clock.advance(timedelta(hours=2))  # installs end by the clock
        result = poller.result()
        sim.state.vm(vm_id).installed_kbs

Beyond CONTRACTS.md section 2, the fleet may carry `"sim": {"pageSize": N}` at
the top (VM list page size, default 50) and `sim.assessMinutes` per VM (how long
an assessment runs, default 1). Retry-After and every simulated duration are in
seconds of the injected clock.
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
