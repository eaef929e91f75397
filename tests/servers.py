"""Real throwaway servers for the tests: PostgreSQL and Dovecot (IMAP).

Each helper starts its server on a free loopback port in a temporary directory and stops it
again; the fixtures in `tests/conftest.py` wrap them (SMTP lives in
`tests/integration/smtp_server.py`). When a server's binaries are missing the test is
skipped, unless `REQUIRE_SERVICES=1` (as in CI), in which case it fails.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"
DOVECOT_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
POOL_SIZE = 300


def services_required(env: Mapping[str, str] | None = None) -> bool:
    """Say whether a missing server must fail the run instead of skipping."""
    env = os.environ if env is None else env
    return env.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str, env: Mapping[str, str] | None = None) -> None:
    """Skip the test for `reason`, or fail it when services are required."""
    if services_required(env):
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def find_binary(candidates: tuple[str, ...] | list[str]) -> str | None:
    """Return the first existing executable among paths and glob patterns."""
    for pattern in candidates:
        for path in sorted(glob.glob(pattern), reverse=True):  # newest version first
            if os.access(path, os.X_OK):
                return path
    return None


def require_binary(
    candidates: tuple[str, ...] | list[str], what: str, env: Mapping[str, str] | None = None
) -> str:
    """Return the binary's path; skip or fail the test when it is missing."""
    path = find_binary(candidates)
    if path is None:
        unavailable(f"{what} is not installed (looked for {', '.join(candidates)})", env)
    assert path is not None
    return path


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on the loopback port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _service_dir(prefix: str, owner: str | None = None) -> Path:
    # Not under pytest's tmp dir: that is 0700 root-only, and the servers drop privileges.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if owner is not None and os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


# --------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, trust auth, loopback only."""

    def __init__(self, bindir: str) -> None:
        self.bindir = Path(bindir)
        self.root = _service_dir("dealreg-pg-", owner="postgres")
        self.datadir = self.root / "data"
        self.port = 0
        self._numbers = itertools.count(1)
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=self._user,
            cwd=self.root,
            check=True,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PGTZ": "UTC"},
        )

    def start(self) -> None:
        """Create the cluster (first time) and start it on a free port."""
        if not self.datadir.exists():
            self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        for attempt in range(3):
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self._run("pg_ctl", "-D", str(self.datadir), "-o", options,
                          "-l", str(self.root / "server.log"), "-w", "start")  # fmt: skip
                return
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise RuntimeError(self.log_tail()) from None

    def stop(self) -> None:
        """Stop the server (fast shutdown); safe to call twice."""
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "server.log"
        return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else ""

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, template: str = "template1") -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = f"test_{os.getpid()}_{next(self._numbers)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database`, closing its leftover connections."""
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_postgres(env: Mapping[str, str] | None = None) -> PostgresServer:
    """Start a throwaway cluster, or skip/fail when PostgreSQL is not installed."""
    initdb = require_binary([INITDB_GLOB], "PostgreSQL (initdb)", env)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root but there is no 'postgres' OS user", env)
    server = PostgresServer(os.path.dirname(initdb))
    atexit.register(server.cleanup)
    server.start()
    return server


# --------------------------------------------------------------------------- Dovecot

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {uid}
last_valid_uid = 0
mail_location = maildir:{root}/mail/%u
mail_max_userip_connections = 200
shutdown_clients = yes
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
"""


@dataclass
class ImapAccount:
    """One mailbox user on the test Dovecot."""

    host: str
    port: int
    user: str
    password: str
    server: DovecotServer | None = field(default=None, repr=False)

    @property
    def imap_url(self) -> str:
        return self.url()

    def url(self, folder: str = "INBOX") -> str:
        """Return `imap://user:password@host:port/FOLDER`."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"imap://{user}:{password}@{self.host}:{self.port}/{quote(folder)}"

    @contextlib.contextmanager
    def client(self) -> Iterator[object]:
        """Yield a logged-in imapclient connection."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> None:
        """Deliver raw message bytes into `folder` (created when missing)."""
        with self.client() as client:
            if not client.folder_exists(folder):  # type: ignore[attr-defined]
                client.create_folder(folder)  # type: ignore[attr-defined]
            client.append(folder, raw, flags=flags)  # type: ignore[attr-defined]

    def messages(self, folder: str = "INBOX") -> dict[int, tuple[tuple[bytes, ...], bytes]]:
        """Return {uid: (flags, raw)} of a folder, read without setting \\Seen."""
        with self.client() as client:
            if not client.folder_exists(folder):  # type: ignore[attr-defined]
                return {}
            client.select_folder(folder, readonly=True)  # type: ignore[attr-defined]
            uids = client.search("ALL")  # type: ignore[attr-defined]
            if not uids:
                return {}
            data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])  # type: ignore[attr-defined]
            return {uid: (d[b"FLAGS"], d[b"BODY[]"]) for uid, d in data.items()}

    def clear(self) -> None:
        """Delete every message in every folder of this user."""
        with self.client() as client:
            for _flags, _sep, name in client.list_folders():  # type: ignore[attr-defined]
                client.select_folder(name)  # type: ignore[attr-defined]
                uids = client.search("ALL")  # type: ignore[attr-defined]
                if uids:
                    client.delete_messages(uids)  # type: ignore[attr-defined]
                    client.expunge()  # type: ignore[attr-defined]


class DovecotServer:
    """Dovecot in the foreground on a free loopback port, users added on demand."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self.root = _service_dir("dealreg-imap-")
        self.conf = self.root / "dovecot.conf"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        entry = pwd.getpwnam("dovecot")
        self._uid, self._gid = entry.pw_uid, entry.pw_gid
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, self._uid, self._gid)
        # Dovecot rereads the passwd-file at most about once a second, so a pool of users is
        # written up front; users beyond it are appended and waited for.
        self._pool = [(f"user{n}", f"pw-{n}") for n in range(1, POOL_SIZE + 1)]
        self._write_users([("dealreg", "intake-secret"), *self._pool])
        self.default = ImapAccount(self.host, self.port, "dealreg", "intake-secret", self)

    # The default account's details, so the server object itself reads like an account.
    @property
    def user(self) -> str:
        return self.default.user

    @property
    def password(self) -> str:
        return self.default.password

    @property
    def imap_url(self) -> str:
        return self.default.imap_url

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver into the default account."""
        self.default.append(raw, folder)

    def clear(self) -> None:
        """Empty the default account."""
        self.default.clear()

    def _write_users(self, users: list[tuple[str, str]]) -> None:
        with (self.root / "users").open("a") as file:
            file.writelines(f"{user}:{{PLAIN}}{password}\n" for user, password in users)

    def add_user(self) -> ImapAccount:
        """Return a user nobody has used yet, so its mailbox is empty."""
        with self._lock:
            if self._pool:
                user, password = self._pool.pop(0)
                return ImapAccount(self.host, self.port, user, password, self)
            number = next(self._numbers)
            user, password = f"extra{number}", f"pw-extra-{number}"
            self._write_users([(user, password)])
        account = ImapAccount(self.host, self.port, user, password, self)
        self._wait_login(account, timeout=5.0)
        return account

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start Dovecot on this server's port and wait until a login succeeds."""
        if self.running:
            return
        self.conf.write_text(
            DOVECOT_CONF.format(root=self.root, port=self.port, uid=self._uid, gid=self._gid)
        )
        log = (self.root / "stdout.log").open("ab")
        self._proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        log.close()
        self._wait_login(self.default)

    def _wait_login(self, account: ImapAccount, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(f"dovecot exited:\n{self.log_tail()}")
            try:
                with account.client():
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dovecot not ready:\n{self.log_tail()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop Dovecot and every session process, as a crash would; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # The master alone would leave IMAP sessions running for seconds after it exits.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            proc.poll()
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart(self) -> None:
        """Stop and start again on the same port (a fault for reconnect tests)."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("stdout.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text


def start_dovecot(env: Mapping[str, str] | None = None) -> DovecotServer:
    """Start a throwaway Dovecot, or skip/fail when it is not installed."""
    binary = require_binary(list(DOVECOT_PATHS), "Dovecot (dovecot-imapd)", env)
    try:
        pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        unavailable("the 'dovecot'/'dovenull' OS users are missing", env)
    server = DovecotServer(binary)
    atexit.register(server.cleanup)
    server.start()
    return server
