"""The two kinds of failure the command line reports without a traceback."""


class InputError(Exception):
    """Something the user gave cannot be used (a file, a column, a head file, an option):
    exit status 2. The message says what is wrong and what to do."""

    exit_status = 2


class SetupError(Exception):
    """The tool cannot run here (no built model, a damaged one, a missing package): exit
    status 1. The message says what to run."""

    exit_status = 1
