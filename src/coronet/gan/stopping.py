"""Stopping a run when asked: SIGINT (Ctrl-C) and SIGTERM (what schedulers and `docker stop` send)
let the current step finish, checkpoint, and end with the command that continues the run. A second
signal stops at once (the last checkpoint stays as it was)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run stopped at a step boundary on request, its state checkpointed."""


class StopRequest:
    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:  # asked twice: stop now
            raise KeyboardInterrupt
        self.requested = True


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """While inside, SIGINT and SIGTERM set `requested` instead of killing the process (only the main
    thread can hold signal handlers; elsewhere the process keeps its own)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.signal(sig, request._handle) for sig in SIGNALS}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def terminate_as_interrupt() -> None:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does, so every command cleans up the same way."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
