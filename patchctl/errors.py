"""The one error the command line reports as a single line and exit status 2."""


class UsageError(Exception):
    """Bad input: the message names what was wrong and what was expected."""
