"""Kernels started ahead: each notebook still gets a fresh kernel, started in the project root, with the
libraries already imported and nothing bound in its namespace."""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from c360.run import kernels
from c360.paths import PROJ_ROOT

pytestmark = pytest.mark.slow


def _run(km, source: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, km=km, kernel_name="python3", timeout=60).execute()
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


def test_kernels_taken_ahead_are_fresh_warm_and_start_in_the_project_root():
    probe = ("print('leak' in globals())\n"
             "import os, sys\n"
             "print(os.getcwd())\n"
             "print('pandas' in sys.modules, 'c360.models' in sys.modules)\n"
             "print(sorted(k for k in globals() if not k.startswith('_') and k not in "
             "('In', 'Out', 'get_ipython', 'exit', 'quit', 'open', 'os', 'sys')))\n"
             "leak = 1")
    with kernels.Ahead("python3", PROJ_ROOT, envs=[{}, {"C360_TEST_KERNEL_ENV": "second"}]) as ahead:
        first = ahead.take()
        assert ahead.next is not None  # the second kernel is already starting
        out1 = _run(first, probe)
        kernels.stop(first)
        second = ahead.take()
        assert ahead.next is None
        out2 = _run(second, probe)
        env2 = _run(second, "import os; print(os.environ.get('C360_TEST_KERNEL_ENV'))")
        kernels.stop(second)
    leaked, cwd, warm, names = out1.splitlines()
    assert cwd == str(PROJ_ROOT)
    assert warm == "True True"  # imported while starting ...
    assert names == "[]"  # ... without binding a name in the notebook
    assert leaked == "False"
    assert out2.splitlines() == out1.splitlines()  # a fresh kernel: nothing from the first notebook
    assert env2.strip() == "second"  # each kernel gets its own variables (BigQuery: its job log)


def test_ahead_refuses_more_kernels_than_it_was_asked_for_and_stops_the_spare():
    with kernels.Ahead("python3", PROJ_ROOT, envs=[{}]) as ahead:
        km = ahead.take()
        kernels.stop(km)
        with pytest.raises(RuntimeError, match="no kernel left"):
            ahead.take()
    spare = kernels.Ahead("python3", PROJ_ROOT, envs=[{}, {}]).__enter__()
    waiting = spare.next
    spare.__exit__(None, None, None)
    assert waiting is not None and not waiting.has_kernel
