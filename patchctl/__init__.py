"""The command line: `python -m patchctl`."""
