"""Adapters to Azure: settings, credentials, the ARM compute client, Table Storage."""
