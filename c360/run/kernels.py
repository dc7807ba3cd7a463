"""Kernels started ahead of time: while one notebook runs, the next notebook's kernel boots and imports the
heavy libraries, so a run pays one kernel start instead of one per notebook.

Each notebook still gets a fresh kernel (no state leaks between notebooks); only the start moves earlier.
The warm-up imports modules (c360.run.warm) without binding any name in the notebook's namespace.

A kernel process's own output (not its cells': those go to the notebook) reaches the log through a pipe and
c360.pii.mask_text, so the log (the report folder's kernels.log) holds no raw email or GA client id.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import IO

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

WARM_UP = "import c360.run.warm as _c360_warm; del _c360_warm"


def start(kernel_name: str, cwd: Path, env: dict[str, str] | None = None, log: IO | None = None) -> AsyncKernelManager:
    """Launch a kernel that imports the pipeline's libraries as it starts; returns at once (the kernel
    boots in its own process). `env`: variables set for this kernel on top of this process's environment;
    `log`: an open file for the kernel process's own stdout and stderr (cell outputs go to the notebook)."""
    km = AsyncKernelManager(kernel_name=kernel_name, **_transport())
    out, copier = _masked_pipe(log) if log is not None else (None, None)
    try:
        run_sync(km.start_kernel)(cwd=str(cwd), env={**os.environ, **(env or {})}, stdout=out, stderr=out,
                                  extra_arguments=[f"--IPKernelApp.exec_lines={WARM_UP}"])
    finally:
        if out is not None:
            out.close()  # the kernel holds its own copy: the pipe ends when the kernel does
    km._c360_log_copier = copier  # joined by stop()
    return km


def _transport() -> dict[str, str]:
    """Where the platform has them, Unix sockets of the kernel's own (files in the temporary folder) rather than
    TCP ports on the loopback: no port is picked free and bound a moment later, which another process (a second
    run, a test worker's HTTP connections) can take in between, and nothing travels in plain TCP."""
    if sys.platform == "win32":  # ZeroMQ's ipc transport is for Unix sockets
        return {}
    return {"transport": "ipc", "ip": os.path.join(tempfile.gettempdir(), f"c360-kernel-{uuid.uuid4().hex[:16]}")}


def _masked_pipe(log: IO) -> tuple[IO, threading.Thread]:
    """A pipe whose lines reach `log` masked (c360.pii.mask_text), copied by a daemon thread until the pipe's
    writers are gone; returns the pipe's write end (to hand to the kernel process) and the thread."""
    from c360.pii import mask_text

    read_fd, write_fd = os.pipe()

    def copy() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            for line in pipe:
                try:
                    log.write(mask_text(line.decode("utf-8", errors="replace")))
                    log.flush()
                except (ValueError, OSError):  # the log is closed: drain the pipe, write nothing
                    pass

    copier = threading.Thread(target=copy, name="c360-kernel-log", daemon=True)
    copier.start()
    return os.fdopen(write_fd, "wb"), copier


def stop(km: AsyncKernelManager | None) -> None:
    """Shut a kernel down (now: its notebook is done or the run is over)."""
    if km is not None and km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)
    copier = getattr(km, "_c360_log_copier", None)
    if copier is not None:  # the kernel's last lines reach the log before it is closed
        copier.join(timeout=5)


class Ahead:
    """Hands out kernels one at a time and starts the next as each is taken.

        with kernels.Ahead("python3", cwd, envs=[{}, {}, {}, {}]) as ahead:
            for nb in notebooks:
                km = ahead.take()   # started earlier, booting or ready
                ...execute nb with km...
                kernels.stop(km)
    """

    def __init__(self, kernel_name: str, cwd: Path, envs: list[dict[str, str]], log: IO | None = None):
        """envs: one entry per kernel to hand out, the variables that kernel gets; log: see `start`."""
        self.kernel_name, self.cwd, self.envs, self.log = kernel_name, cwd, list(envs), log
        self.next: AsyncKernelManager | None = None

    def __enter__(self) -> "Ahead":
        self.next = self._start()
        return self

    def _start(self) -> AsyncKernelManager | None:
        if not self.envs:
            return None
        return start(self.kernel_name, self.cwd, self.envs.pop(0), self.log)

    def take(self, more: bool = True) -> AsyncKernelManager:
        """The kernel started ahead; starts the next one unless `more` is False (no notebook may follow: a kernel
        booting then would only take CPU from the one running)."""
        km, self.next = self.next, (self._start() if more else None)
        if km is None:
            raise RuntimeError("no kernel left: envs named fewer kernels")
        return km

    def __exit__(self, *exc) -> None:
        stop(self.next)
        self.next = None
