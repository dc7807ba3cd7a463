"""Notebook regression tests: nbval re-executes the pipeline notebooks on the fixtures and compares every
cell's output with the outputs stored in notebooks/ (refresh them deliberately with `make golden`)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from c360.run.golden import parameterized_copy
from c360.paths import PROJ_ROOT
from c360.run.notebooks import notebooks

pytestmark = pytest.mark.slow


def test_notebooks_reproduce_their_stored_outputs(tmp_path):
    # Copies carry the stored outputs; only the warehouse moves to a scratch file, so the user's is untouched.
    copies = [parameterized_copy(nb, tmp_path / nb.name, {"warehouse": str(tmp_path / "c360.duckdb")})
              for nb in notebooks()]
    command = [sys.executable, "-m", "pytest", "--nbval", *map(str, copies), "-p", "no:cacheprovider",
               "--nbval-sanitize-with", str(PROJ_ROOT / "tests" / "nbval_sanitize.cfg"), "-q",
               "--rootdir", str(tmp_path), "-c", "/dev/null"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    if result.returncode != 0 and "Address already in use" in result.stdout + result.stderr:
        # nbval's kernel listens on loopback TCP ports it found free a moment before binding them; a process
        # of the other test worker can take one in between. Not the notebooks' fault: once more.
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
