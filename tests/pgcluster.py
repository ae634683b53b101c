"""A throwaway PostgreSQL cluster for one test session (used by tests/conftest.py).

Same binaries as the embedded default (supportctl.db.embedded.bin_dir), same way of
running them (as `nobody` when we are root). Built for speed, not durability: a tmpfs
directory when there is one, initdb --no-sync, fsync off. The server is a CHILD of the
test process with a parent-death signal, so a killed pytest leaves no server behind; the
directories of killed runs are removed by the next run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self
from urllib.parse import quote

import psycopg2

from supportctl.db.embedded import PORT, log_tail, runnable_bin_dir, server_account

_PREFIX = "supportctl-test-"


def admin(server, sql: str, params: tuple | None = None) -> None:
    """One statement as the server's superuser, in autocommit (CREATE DATABASE needs it).
    `server` is a ThrowawayCluster or anything else with admin_connect()."""
    conn = server.admin_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


def scratch_parent() -> Path:
    """/dev/shm when writable (initdb and the tests run in memory), else the temp dir."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def remove_dead_leftovers(parent: Path) -> None:
    """Remove supportctl-test-<pid> dirs whose pytest is gone and whose server is gone too."""
    for path in parent.glob(_PREFIX + "*"):
        match = re.fullmatch(_PREFIX + r"(\d+)", path.name)
        if not match or int(match[1]) == os.getpid() or _alive(int(match[1])):
            continue
        try:  # its server got SIGTERM when pytest died; it may still be shutting down
            if _alive(int((path / "pgdata" / "postmaster.pid").read_text().split()[0])):
                continue
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(path, ignore_errors=True)


class ThrowawayCluster:
    """start() / url(dbname) / admin_connect() / stop(). Superuser `postgres`, trust auth,
    unix socket only."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else scratch_parent() / f"{_PREFIX}{os.getpid()}"
        self.pgdata = self.root / "pgdata"
        self.socket_dir = self.root / "run"  # short: socket paths are limited to ~104 bytes
        self.log_file = self.root / "postgres.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Self:
        remove_dead_leftovers(self.root.parent)
        account = server_account()
        shutil.rmtree(self.root, ignore_errors=True)  # ours from an earlier run with our pid
        os.mkdir(self.root)
        os.chmod(self.root, 0o755 if account.switch else 0o700)  # nobody must traverse it
        binaries = runnable_bin_dir(account, self.root)
        for path in (self.pgdata, self.socket_dir):
            os.mkdir(path, 0o700)
            account.chown(path)
        # The death signal for initdb too: a pytest killed now must not leave it writing.
        kwargs = account.subprocess_kwargs(die_with_parent=True)
        init = subprocess.run(
            [binaries / "initdb", "--no-sync", "-D", self.pgdata, "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C"],
            check=False, capture_output=True, text=True, **kwargs)
        if init.returncode:
            self.stop()
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        with open(self.log_file, "ab") as log:  # an inherited fd: nobody need not own the file
            self.process = subprocess.Popen(
                [binaries / "postgres", "-D", self.pgdata, "-F",
                 "-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c", "fsync=off",
                 "-c", "listen_addresses=", "-k", self.socket_dir, "-p", str(PORT),
                 "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C must not kill it before teardown runs
                **kwargs)
        self._wait_until_ready(timeout=10)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                problem = f"exited with code {self.process.returncode}"
            elif time.monotonic() > deadline:
                problem = f"did not accept connections within {timeout:.0f}s"
            else:
                try:
                    self.admin_connect().close()
                    return
                except psycopg2.OperationalError:
                    time.sleep(0.01)
                    continue
            tail = log_tail(self.log_file, lines=10)
            self.stop()
            raise RuntimeError(f"the test PostgreSQL {problem}: {tail}")

    def url(self, dbname: str) -> str:
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql+psycopg2://postgres@/{dbname}?host={host}"

    def admin_connect(self):
        """An autocommit psycopg2 connection to the `postgres` database."""
        conn = psycopg2.connect(host=str(self.socket_dir), port=PORT, user="postgres",
                                dbname="postgres", connect_timeout=5)
        conn.autocommit = True
        return conn

    def create_database(self, dbname: str) -> str:
        """A new empty database; its URL."""
        admin(self, f"CREATE DATABASE {dbname}")
        return self.url(dbname)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the directory. Safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
