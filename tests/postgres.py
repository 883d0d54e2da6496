"""A throwaway PostgreSQL server for tests: `initdb` in a temporary folder, listening on a unix socket there only.

PostgreSQL refuses to run as root; as root the server runs as `nobody` in a folder that user owns. Every test that
needs it skips with one line where the PostgreSQL binaries (Debian's `postgresql` package) are missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "postgres"
SEARCH = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"]


def binaries() -> Path | None:
    """The folder holding initdb and postgres, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent
    return next((Path(p) for p in SEARCH if (Path(p) / "initdb").exists() and (Path(p) / "postgres").exists()),
                None)


def missing_reason() -> str | None:
    """Why no test server can start here (one line), or None when it can."""
    if binaries() is None:
        return "PostgreSQL is not installed (initdb and postgres; Debian's postgresql package, see .ci/run)"
    return None


class Server:
    """A running server; url(database) gives SQLAlchemy's address of one of its databases (psycopg 3)."""

    def __init__(self, folder: Path, process: subprocess.Popen):
        self.folder, self.process = folder, process

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=SUPERUSER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def server():
    """Start a server in a new temporary folder; stop it and remove the folder afterwards, also on failure."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="course-postgres-"))
    # as root: the server runs as nobody, the owner of its folder (the test, root, still reaches the socket)
    as_user = dict(user="nobody", group="nogroup", extra_groups=[]) if os.geteuid() == 0 else {}
    process = None
    try:
        for sub in ("data", "socket"):
            (folder / sub).mkdir(mode=0o700)
        if as_user:
            for path in (folder, folder / "data", folder / "socket"):
                os.chown(path, 65534, 65534)
        subprocess.run([str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER,
                        "--auth=trust", "--no-sync", "-E", "UTF8", "--no-locale"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **as_user)
        process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(folder / "data"), "-k", str(folder / "socket"),
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **as_user)
        deadline = time.monotonic() + 30
        while not (folder / "socket" / ".s.PGSQL.5432").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the PostgreSQL test server did not start")
            time.sleep(0.05)
        # the socket file appears before the server accepts: wait until a connection succeeds
        import psycopg

        while True:
            try:
                psycopg.connect(host=str(folder / "socket"), user=SUPERUSER, dbname="postgres").close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield Server(folder, process)
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # fast shutdown: ends open connections too
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)
