"""Stopping a local helper process (the tests' Orthanc and nginx) the same way everywhere."""

from __future__ import annotations

import signal
import subprocess


def stop_process(process: subprocess.Popen[bytes], first: signal.Signals = signal.SIGTERM) -> None:
    """Send `first` to a running `process`, wait up to 10 s, then kill it; nothing when it has ended."""
    if process.poll() is None:
        process.send_signal(first)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
