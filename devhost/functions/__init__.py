"""The Functions host's part of the local host: triggers, bindings and webhooks."""
