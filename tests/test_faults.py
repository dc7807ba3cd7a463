"""Publishing is all or nothing: one case per fault of the "Hardening" issue, each injected deterministically
(C360_FAULT=<kind>:<point>, read by c360.faults at the points the runner and the dag name, in tests only, or a monkeypatch).

A full run costs ~8 s: one good run is shared (module fixture) and copied per test; runs that only need to get
past the warehouse's preparation fail fast in the first model (C360_FAULT=fail:base__ga4__events)."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from c360 import params as P
from c360.paths import PROJ_ROOT
from c360.run import backends, errors, notebooks, publish, runner

pytestmark = pytest.mark.slow

FAIL_FAST = "fail:base__ga4__events"


def _cmd(root: Path, fault: str = "") -> list[str]:
    refresh = ["-p", "full_refresh=true"] if fault == FAIL_FAST else []  # unchanged inputs would keep the model
    return [sys.executable, "-m", "c360", "run", "--reports", str(root / "reports"),
            "-p", f"warehouse={root / 'c360.duckdb'}", *refresh]


def _run(root: Path, fault: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "C360_FAULT": fault}
    return subprocess.run(_cmd(root, fault), cwd=PROJ_ROOT, capture_output=True, text=True, timeout=600, env=env)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A warehouse and reports/latest of one good run."""
    root = tmp_path_factory.mktemp("base")
    result = _run(root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.fixture
def root(base, tmp_path) -> Path:
    """A copy of the good run's warehouse and reports."""
    shutil.copytree(base, tmp_path / "w", symlinks=True)
    return tmp_path / "w"


def _latest_id(root: Path) -> str:
    return json.loads((root / "reports" / "latest" / "manifest.json").read_text())["run_id"]


# 1. publish order: reports and manifest, journal, warehouse, latest; a run killed in between is completed


def test_a_run_killed_between_the_warehouse_swap_and_latest_is_completed_by_the_next_run(root):
    warehouse, old = root / "c360.duckdb", _latest_id(root)
    assert publish.check_published(warehouse, root / "reports" / "latest") == old
    killed = _run(root, "kill:publish:warehouse")
    assert killed.returncode == -9
    new = publish.warehouse_run_id(warehouse)
    assert new != old and _latest_id(root) == old  # the warehouse is swapped, latest is not: they disagree
    with pytest.raises(errors.WarehouseError, match=f"run {new}'s but .* shows run {old}"):
        publish.check_published(warehouse, root / "reports" / "latest")
    manifest = json.loads((root / "reports" / new / "manifest.json").read_text())  # written before the swap
    assert manifest["warehouse"]["run_id"] == new and manifest["run_id"] == new
    assert json.loads((root / "c360.duckdb.publish").read_text())["run_id"] == new
    nxt = _run(root, FAIL_FAST)  # the next run completes the publish as it starts (then fails in its first model)
    assert nxt.returncode == 1, nxt.stderr[-3000:]
    assert f"completing the publish of run {new}" in nxt.stdout
    assert "taking over the lock of a run that died" in nxt.stdout
    assert publish.check_published(warehouse, root / "reports" / "latest") == new
    assert not (root / "c360.duckdb.publish").exists() and not list(root.glob("c360.duckdb.run-*"))


def test_a_half_done_publish_whose_reports_are_gone_is_rolled_back(tmp_path, capsys):
    warehouse, work = tmp_path / "c360.duckdb", tmp_path / "c360.duckdb.run-r2"
    warehouse.write_bytes(b"previous")
    work.write_bytes(b"new")
    reports = tmp_path / "reports"
    publish.write_journal(tmp_path / "c360.duckdb.publish", {
        "run_id": "r2", "partial": str(reports / "r2.partial"), "reports": str(reports / "r2"), "work": str(work),
        "warehouse": str(warehouse)})
    publish.recover(warehouse)
    assert "rolling back the publish of run r2" in capsys.readouterr().out
    assert warehouse.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["c360.duckdb"]


# 2. a committed WAL beside the warehouse is checkpointed before the copy (or the run refuses, naming it); a
# warehouse that does not open is never published


def _leave_wal(warehouse: Path, answer: int = 42) -> Path:
    """A session that committed a table and died before its checkpoint."""
    code = ("import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute(\"PRAGMA wal_autocheckpoint='1GB'\"); "
            "con.execute(f'CREATE OR REPLACE TABLE analyst_scratch AS SELECT {sys.argv[2]} AS answer'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(warehouse), str(answer)], check=True, timeout=60)
    wal = Path(f"{warehouse}.wal")
    assert wal.exists()
    return wal


def test_a_wal_left_beside_the_warehouse_is_checkpointed_before_the_copy_or_refused_by_name(root):
    warehouse = root / "c360.duckdb"
    wal = _leave_wal(warehouse, 41)
    held = duckdb.connect(str(warehouse))  # the session is still open: the log cannot be checkpointed
    try:
        refused = _run(root, FAIL_FAST)
    finally:
        held.close()
    assert refused.returncode == 1 and f"{wal} is left beside the warehouse" in refused.stderr, refused.stderr
    wal = _leave_wal(warehouse)
    result = _run(root, FAIL_FAST)
    assert result.returncode == 1 and "01_base_extraction.ipynb failed" in result.stderr, result.stderr[-2000:]
    assert f"checkpointing {wal}" in result.stdout
    assert not wal.exists()
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("SELECT answer FROM analyst_scratch").fetchone() == (42,)
    con.close()


def test_a_working_copy_that_does_not_open_is_not_published(tmp_path):
    warehouse = tmp_path / "c360.duckdb"
    warehouse.write_bytes(b"")
    backend = backends.DuckDBBackend(P.load(overrides=[f"warehouse={warehouse}"]))
    backend.run_id, backend.work = "r1", tmp_path / "c360.duckdb.run-r1"
    backend.work.write_bytes(b"not a duckdb file" * 1000)
    (tmp_path / "r1.partial").mkdir()
    with pytest.raises(errors.WarehouseError, match=f"the warehouse {backend.work} does not open"):
        backend.publish(tmp_path / "r1.partial")
    assert warehouse.read_bytes() == b"" and not backend.journal.exists() and not (tmp_path / "latest").exists()


# 3. a warehouse path that is a symlink is published at its target; the link stays a link


def test_a_symlinked_warehouse_is_published_at_its_target(root):
    target = root / "store" / "real.duckdb"
    target.parent.mkdir()
    (root / "c360.duckdb").rename(target)
    link = root / "c360.duckdb"
    link.symlink_to(target)
    result = _run(root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert link.is_symlink() and link.resolve() == target
    assert publish.check_published(target, root / "reports" / "latest") == _latest_id(root)
    manifest = json.loads((root / "reports" / "latest" / "manifest.json").read_text())
    assert manifest["warehouse"]["path"] == str(target)
    assert not list(root.glob("store/real.duckdb.*")) and not list(root.glob("c360.duckdb.*"))


# 4. the lock is taken atomically (flock); two runs at once: one proceeds, the other exits 4 naming the holder


def test_two_runs_started_at_once_one_proceeds_and_the_other_names_the_holder(root):
    # both pause in their first model (the one that gets there holds the lock until it is killed): deterministic
    marker = root / "paused.pid"
    env = {**os.environ, "C360_FAULT": "pause:base__ga4__events", "C360_FAULT_MARKER": str(marker)}
    procs = [subprocess.Popen([*_cmd(root), "-p", "full_refresh=true"], cwd=PROJ_ROOT, env=env, text=True,
                              start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    try:
        deadline = time.time() + 300
        while not (marker.exists() and any(p.poll() is not None for p in procs)) and time.time() < deadline:
            time.sleep(0.1)
        codes = [p.poll() for p in procs]
        exited = [p.communicate()[1][-2000:] for p, code in zip(procs, codes) if code not in (None, 4)]
        assert sorted(codes, key=str) == [4, None], (codes, exited)  # one exited, the other is in its first model
        loser, winner = procs[codes.index(4)], procs[codes.index(None)]
        assert f"another run (pid {winner.pid}) is using" in loser.communicate()[1]
    finally:
        for kill in [*(lambda p=p: os.killpg(p.pid, signal.SIGKILL) for p in procs),
                     lambda: os.kill(int(marker.read_text()), signal.SIGKILL)]:
            with contextlib.suppress(ProcessLookupError, FileNotFoundError, ValueError):
                kill()
        for p in procs:
            p.communicate(timeout=60)


def test_the_lock_of_a_dead_run_is_taken_over_naming_it(tmp_path, capsys):
    warehouse = tmp_path / "c360.duckdb"
    pid = _dead_pid()
    (tmp_path / "c360.duckdb.lock").write_text(str(pid))
    lock, fd = publish.acquire_lock(warehouse)
    try:
        assert f"taking over the lock of a run that died (pid {pid})" in capsys.readouterr().out
        assert lock.read_text() == str(os.getpid())
        with pytest.raises(errors.RunInProgress, match=f"another run \\(pid {os.getpid()}\\)"):
            publish.acquire_lock(warehouse)  # flock is per open file: a second one, even in this process, is refused
    finally:
        publish.release_lock(lock, fd)
    assert not lock.exists()


# 5. a failed run names the folder that exists (.failed); the .partial folder of a dead run is renamed .failed


def test_a_failed_run_names_its_failed_folder_and_clears_a_dead_runs_partial(root):
    dead = root / "reports" / "20200101T000000-0001.partial"
    dead.mkdir()
    (dead / ".pid").write_text(str(_dead_pid()))
    result = _run(root, FAIL_FAST)
    assert result.returncode == 1
    seen = result.stderr.split("; see ")[1].split()[0]
    assert ".failed/01_base_extraction.ipynb" in seen and Path(seen).exists(), result.stderr[-2000:]
    assert (root / "reports" / "20200101T000000-0001.failed").is_dir()
    assert not list((root / "reports").glob("*.partial"))


# 6. no space left on device while a notebook is written: said so, with the path


def test_no_space_left_while_a_notebook_is_written_says_so_and_names_the_path(tmp_path, monkeypatch):
    import papermill.engines

    def full_disk(nb, path):
        Path(path).write_text('{"cells": [')  # cut short, as a full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(papermill.engines, "write_ipynb", full_disk)
    with pytest.raises(errors.DiskFull, match="no space left on device writing .*01_base_extraction.ipynb") as e:
        runner.run(P.load(overrides=[f"warehouse={tmp_path / 'c360.duckdb'}"]), tmp_path / "reports")
    assert ".failed/" in str(e.value)
    with pytest.raises(errors.DiskFull, match="truncated: no space left on device"):  # the same file, read back
        notebooks.read_notebook(next((tmp_path / "reports").glob("*.failed/01_base_extraction.ipynb")))
