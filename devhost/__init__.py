"""Local stand-ins for the Azure services the app uses (development, tests, rehearsal)."""
