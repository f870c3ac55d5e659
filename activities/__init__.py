"""Durable activities: thin functions, each one Azure call (or one small batch),
that never sleep and never wait out a long-running operation.

Import rule: activities reach Azure through the adapters in `azure_io` and speak
the domain's types from `patching`; `patching` never imports them.
"""
