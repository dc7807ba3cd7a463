"""Publishing a run, all or nothing, and the lock that keeps two runs apart.

Every report and the manifest are written first (reports/<run_id>.partial), then a publish journal
(<warehouse>.publish) names the run, and only then are the folder renamed, the warehouse swapped and
reports/latest switched. A run killed in between leaves the journal; the next run completes it (recover).
The warehouse is locked (flock on <warehouse>.lock) for the whole run. A BigQuery dataset, which has no file to
lock, is locked by a row in its table c360__run_lock (DatasetLock): a conditional insert, an expiry the run
keeps pushing back while it lives, and a delete at the end.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from c360 import faults
from c360.run.errors import RunInProgress, WarehouseError

PID_FILE = ".pid"  # in a running run's report folder: its process id (see clear_dead_partials)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _holder(lock: Path) -> str:
    """The lock holder as its file names it (the holder writes its pid just after taking the lock)."""
    for _ in range(20):
        with contextlib.suppress(OSError):
            if pid := lock.read_text().strip():
                return f"pid {pid}"
        time.sleep(0.05)
    return "pid unknown"


def acquire_lock(warehouse: Path) -> tuple[Path, int]:
    """Take the warehouse for this run: an exclusive flock on <warehouse>.lock, held until `release_lock` (the kernel
    drops it when the process dies, so the lock of a killed run is taken over, naming it). Returns the lock and its
    open descriptor."""
    lock = warehouse.with_name(warehouse.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInProgress(f"another run ({_holder(lock)}) is using {warehouse}; its lock is {lock}") from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)  # its holder removed the file between our open and flock: take the new one
    if previous := os.read(fd, 32).decode(errors="replace").strip():
        print(f"[c360] taking over the lock of a run that died (pid {previous}): {lock}", flush=True)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return lock, fd


def release_lock(lock: Path, fd: int) -> None:
    lock.unlink(missing_ok=True)  # while still held: a run that opened the old file sees it gone (see acquire_lock)
    os.close(fd)


def clear_dead_partials(reports_root: Path) -> None:
    """Rename the report folders of runs that died mid-run (<run_id>.partial whose process is gone) to .failed."""
    for folder in sorted(reports_root.glob("*.partial")):
        try:
            pid = int((folder / PID_FILE).read_text())
        except (OSError, ValueError):  # a folder just created, or by an older c360: by its age
            pid = None if time.time() - folder.stat().st_mtime > 60 else os.getpid()
        if pid is None or not _alive(pid):
            failed = folder.with_name(folder.name.removesuffix(".partial") + ".failed")
            with contextlib.suppress(OSError):
                folder.rename(failed)
                print(f"[c360] a run that died left {folder.name}: renamed {failed.name}", flush=True)


def warehouse_run_id(path: Path) -> str | None:
    """The run that built the warehouse file (its c360__run table; None before runs recorded it). Opens it
    read-only; raises WarehouseError naming the file if it does not open."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise WarehouseError(f"the warehouse {path} does not open: {e}") from None
    try:
        if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'c360__run'").fetchall():
            return None
        return con.execute("SELECT run_id FROM c360__run").fetchone()[0]
    finally:
        con.close()


def check_published(warehouse: Path, latest: Path) -> str:
    """The run id the published warehouse and reports/latest share; raises WarehouseError if they belong to
    different runs or the warehouse does not open."""
    built = warehouse_run_id(warehouse)
    reported = json.loads((latest / "manifest.json").read_text())["run_id"]
    if built != reported:
        raise WarehouseError(f"the warehouse {warehouse} is run {built}'s but {latest} shows run {reported}")
    return built


def checkpoint_wal(path: Path) -> None:
    """Fold a committed write-ahead log left beside the warehouse (a session that died before its checkpoint) into
    the file before it is copied; raises WarehouseError naming the log if it cannot."""
    import duckdb

    for base in dict.fromkeys([path, Path(os.path.realpath(path))]):
        wal = Path(f"{base}.wal")
        if not wal.exists():
            continue
        print(f"[c360] checkpointing {wal}, left by a session that did not close", flush=True)
        try:
            con = duckdb.connect(str(base))
            con.execute("CHECKPOINT")
            con.close()
        except duckdb.Error as e:
            raise WarehouseError(f"{wal} is left beside the warehouse and cannot be checkpointed ({e}); close the "
                                 f"session that has {base} open, or remove {wal} to drop its changes") from None
        if wal.exists():
            raise WarehouseError(f"{wal} is still there after a checkpoint of {base}; remove it to drop its changes")


def switch_latest(folder: Path) -> None:
    """Point reports/latest (beside `folder`) at `folder`, atomically."""
    tmp = folder.parent / f".latest-{folder.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, folder.parent / "latest")


def write_journal(journal: Path, entry: dict[str, str]) -> None:
    tmp = journal.with_name(journal.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, indent=1) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, journal)


def complete_publish(journal: Path) -> None:
    """Do what the journal says, each step skipped if done (a killed run's journal is completed by the next run):
    the report folder renamed to reports/<run_id>, the working copy over the warehouse, reports/latest switched,
    both checked to belong to the run; then remove the journal."""
    entry = json.loads(journal.read_text())
    partial, final = Path(entry["partial"]), Path(entry["reports"])
    work, warehouse = Path(entry["work"]), Path(entry["warehouse"])
    if partial.exists():
        partial.rename(final)
    if work.exists():
        os.replace(work, warehouse)
    faults.point("publish:warehouse")
    switch_latest(final)
    check_published(warehouse, final.parent / "latest")
    journal.unlink()


def recover(warehouse: Path) -> None:
    """Finish the publish a killed run left half done (its journal), or undo it when its reports are gone."""
    journal = warehouse.with_name(warehouse.name + ".publish")
    if not journal.exists():
        return
    entry = json.loads(journal.read_text())
    if not Path(entry["partial"]).exists() and not Path(entry["reports"]).exists() and Path(entry["work"]).exists():
        print(f"[c360] rolling back the publish of run {entry['run_id']}: its reports are gone", flush=True)
        Path(entry["work"]).unlink()
        journal.unlink()
        return
    print(f"[c360] completing the publish of run {entry['run_id']}, which a killed run left half done", flush=True)
    complete_publish(journal)


LOCK_TABLE = "c360__run_lock"
LOCK_TTL_SECONDS = 15 * 60  # a run that stops renewing its lock (killed) loses it this long after its last renewal


class DatasetLock:
    """The run lock of a warehouse that is a dataset (BigQuery): one row in LOCK_TABLE per claim.

    `acquire` deletes the expired claims (naming their holders: taken over), then inserts this run's claim only
    if no live claim exists (`INSERT ... SELECT ... WHERE NOT EXISTS`), then reads the live claims back: the run
    proceeds only when its claim is the only one. Two runs that race both insert at worst (BigQuery does not
    serialize INSERTs), and then at least the later one sees the other's claim and withdraws: never both proceed.
    While the run lives a thread renews the expiry every third of LOCK_TTL_SECONDS; `release` stops it and
    deletes the claim (at the end, and on failure). Every statement is a job on `engine` (logged, counted).
    """

    def __init__(self, engine, run_id: str, where: str, ttl_seconds: int = LOCK_TTL_SECONDS,
                 log=lambda msg: print(msg, flush=True)):
        self.engine, self.run_id, self.where, self.ttl = engine, run_id, where, int(ttl_seconds)
        self.holder = f"pid {os.getpid()} on {socket.gethostname()}, run {run_id}"
        self.log = log
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.table = engine.relation(LOCK_TABLE)

    def _live(self) -> list[dict[str, Any]]:
        found = self.engine.query(f"SELECT run_id, holder, expires_at FROM {self.table} "
                                  "WHERE expires_at > CURRENT_TIMESTAMP() ORDER BY acquired_at, run_id")
        return found.to_dict("records")

    def acquire(self) -> "DatasetLock":
        """Take the lock, or raise RunInProgress naming the run that holds it (as the DuckDB lock does)."""
        e = self.engine
        e.execute(f"CREATE TABLE IF NOT EXISTS {self.table} "
                  "(run_id STRING, holder STRING, acquired_at TIMESTAMP, expires_at TIMESTAMP)")
        expired = e.query(f"SELECT holder FROM {self.table} WHERE expires_at <= CURRENT_TIMESTAMP()")
        if len(expired):
            e.execute(f"DELETE FROM {self.table} WHERE expires_at <= CURRENT_TIMESTAMP()")
            for holder in expired["holder"]:
                self.log(f"[c360] taking over the expired lock of a run that stopped ({holder}): {self.where}")
        e.execute(f"INSERT INTO {self.table} (run_id, holder, acquired_at, expires_at) "
                  "SELECT @run_id, @holder, CURRENT_TIMESTAMP(), TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL @ttl "
                  f"SECOND) FROM UNNEST([1]) AS one WHERE NOT EXISTS (SELECT 1 FROM {self.table} "
                  "WHERE expires_at > CURRENT_TIMESTAMP())", self._values())
        live = self._live()
        others = [c for c in live if c["run_id"] != self.run_id]
        if others or not live:
            if len(others) < len(live):  # we raced another run and both inserted: withdraw
                e.execute(f"DELETE FROM {self.table} WHERE run_id = @run_id", {"run_id": self.run_id})
            holder, expires = (others[0]["holder"], others[0]["expires_at"]) if others else ("unknown", "")
            raise RunInProgress(f"another run ({holder}) is using {self.where}; its lock is {LOCK_TABLE}, renewed "
                                f"while that run lives (it expires at {expires} otherwise)")
        self._renewer = threading.Thread(target=self._renew, name="c360-lock", daemon=True)
        self._renewer.start()
        return self

    def _values(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "holder": self.holder, "ttl": self.ttl}

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            with contextlib.suppress(Exception):  # a failed renewal is retried; the claim outlives two misses
                self.engine.execute(f"UPDATE {self.table} SET expires_at = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), "
                                    "INTERVAL @ttl SECOND) WHERE run_id = @run_id",
                                    {"run_id": self.run_id, "ttl": self.ttl})

    def release(self) -> None:
        """Stop renewing and delete this run's claim."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=60)
            self._renewer = None
        self.engine.execute(f"DELETE FROM {self.table} WHERE run_id = @run_id", {"run_id": self.run_id})

