"""Helpers shared by the emulator tests and their fixtures."""

from __future__ import annotations

import socket

PROJECT = "kfpt-emulator-test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
