"""Durable orchestrators: deterministic generators that sequence activities,
sub-orchestrators and durable timers, and call the planner in `patching`.

Import rule: orchestrators import `patching` and their own payloads, never
`azure_io`; every Azure call goes through an activity.
"""
