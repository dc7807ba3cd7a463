"""Fault injection for the failure tests (tests/test_faults.py, tests/test_runner.py): the one place where the
environment variable C360_FAULT reaches production code. Unset, every call is a no-op.

- `C360_FAULT=fail:<point>` raises RuntimeError at that point;
- `C360_FAULT=kill:<point>` ends the process at once, as kill -9 would;
- `C360_FAULT=pause:<point>` writes this process id to the file C360_FAULT_MARKER names, then sleeps (a run
  caught mid-model, for the lock and recovery tests).

Points: `publish:warehouse`, `publish:journal` (the runner's publish) and each model's name (mid-build, with its
staging table written and nothing swapped).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def point(name: str) -> None:
    """A named point where a test may make the run fail, die or pause (see the module docstring)."""
    fault = os.environ.get("C360_FAULT", "")
    if not fault:
        return
    if fault == f"fail:{name}":
        raise RuntimeError(f"C360_FAULT: {name} failed")
    if fault == f"kill:{name}":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == f"pause:{name}":
        marker = os.environ.get("C360_FAULT_MARKER")
        if marker:
            Path(marker).write_text(str(os.getpid()))
        time.sleep(3600)
