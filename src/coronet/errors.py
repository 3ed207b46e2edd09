"""Errors raised at coronet's boundaries.

Every error a user can cause (bad config, missing data, impossible budget, wrong checkpoint) is a
`CoronetError`; the CLI prints its message and exits with status 2 instead of a traceback. Each
message names the problem and what to change.
"""

from __future__ import annotations


class CoronetError(Exception):
    """Base class of every error a user of coronet can cause and fix."""


class ConfigError(CoronetError):
    """An option or configuration value is invalid."""


class DataError(CoronetError):
    """A dataset folder or image is missing, empty or unreadable."""


class BudgetError(CoronetError):
    """A compression target cannot be met (<= 0, > 1, or below the never-pruned floor)."""


class NonFiniteError(CoronetError):
    """Weights, a loss or an exported model's output hold NaN or infinite values."""


class CheckpointError(CoronetError):
    """A checkpoint or exported generator file is missing, corrupt or of the wrong kind."""


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system failure: the path, what went wrong, what to do."""
    import errno

    where = exc.filename or "a file"
    if exc.errno == errno.ENOSPC:
        return f"no space left on the disk holding {where}; free some space or write elsewhere (--out)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write {where} ({exc.strerror}); choose a folder you can write to, or change "
                f"its permissions")
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return f"{where} is in the way: a file stands where a folder must go; move it or choose another path"
    if exc.errno == errno.ENOENT:
        return f"{where} does not exist"
    if exc.errno == errno.ELOOP:
        return f"{where} is a symbolic link loop; remove the link"
    return f"{where}: {exc.strerror or exc}"
