"""How a run fails: the errors the runner raises, each naming the notebook, file or warehouse concerned."""
from __future__ import annotations

import contextlib
import errno
from pathlib import Path


class RunFailed(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


class DiskFull(RunFailed):
    """No space left on device while a notebook, its report or the manifest was written; the message names it."""


class WarehouseError(RuntimeError):
    """The warehouse file cannot be copied or published as it is; the message names the file."""


class RunInProgress(RuntimeError):
    """Another run holds the warehouse."""


@contextlib.contextmanager
def disk_full_named(path: Path):
    """Turn an OSError ENOSPC into DiskFull naming `path` (or the file the error names)."""
    try:
        yield
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise DiskFull(f"no space left on device writing {e.filename or path}") from None
