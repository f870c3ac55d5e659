"""Fleet simulator: the ARM compute API for the VMs of a fleet file, over HTTPS or in process.

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

Without a server, `open_simulator` answers the same clients in process: the
same `ArmApi`, reached through an azure-core transport (`fleetsim.transport`)
instead of TLS on a socket; slow-answer faults wait through the transport's
`sleep` and time out as a socket read would::

    with open_simulator(fleet, clock=clock) as sim:
        compute = ComputeManagementClient(
            sim.credential, subscription_id, base_url=sim.base_url,
            transport=sim.transport, polling_interval=0,
        )

The HTTP layer answers every bad request in ARM's JSON error shape and serves
a bounded number of connections (`fleetsim.server`); the api-versions served
are the SDK's (`fleetsim.routes`).

Beyond docs/CONTRACTS.md section 2, the fleet may carry `"sim": {"pageSize": N}` at
the top (VM list page size, default 50) and `sim.assessMinutes` per VM (how long
an assessment runs, default 1). Retry-After and every simulated duration are in
seconds of the injected clock.

Throttling (docs/DOMAIN.md section 5): reads take a token from ARM's per-subscription
read bucket, PATCH from its write bucket (10/s, bucket 200), status polls from
Compute's operation-polling bucket. The assessPatches and installPatches POSTs
are deliberately *not* charged to ARM's subscription write bucket, only to the
guest patch buckets (200/min with a bucket of 600 per subscription and region;
2/min, bucket 6, per VM). Charged to both, a burst of patch operations would
meet ARM's 200 writes first and never show the 600-operation Compute limit the
brief describes and the rollout has to pace itself by; keeping them apart makes
the documented guest patch limits the ones a burst meets.

Every request is one line of the operations log (docs/CONTRACTS.md section 4),
refusals (401, 4xx, throttling, injected faults, internal errors) included;
an accepted assessPatches/installPatches has its line when it ends.
"""

from fleetsim.clock import Clock, ScaledClock, VirtualClock
from fleetsim.credential import SimulatorCredential
from fleetsim.faults import FaultConfig
from fleetsim.fleet import FleetError
from fleetsim.server import RunningSimulator, start_simulator
from fleetsim.state import FleetState, VmSnapshot
from fleetsim.transport import InProcessSimulator, InProcessTransport, open_simulator

__all__ = [
    "Clock",
    "FaultConfig",
    "FleetError",
    "FleetState",
    "InProcessSimulator",
    "InProcessTransport",
    "RunningSimulator",
    "ScaledClock",
    "SimulatorCredential",
    "VirtualClock",
    "VmSnapshot",
    "open_simulator",
    "start_simulator",
]
