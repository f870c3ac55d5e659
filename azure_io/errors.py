"""The base error of the Azure adapters: every error `azure_io` raises derives from it."""

from __future__ import annotations


class AzureIoError(Exception):
    """Base of every error the Azure adapters (ARM, Table Storage, settings) raise."""
