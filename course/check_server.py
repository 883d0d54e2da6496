"""A warm `course check` for a self-study workspace: a process that has torch and the checks imported already.

`course lab` starts one beside JupyterLab (`python -m course.check_server --workspace FOLDER`). It listens on a unix
socket in the workspace (SOCKET_NAME), which only its own user can open (mode 0600, and the server answers no other
user: SO_PEERCRED). `course check NOTEBOOK` looks for the socket in the notebook's folder and the ones above it; when
a server answers, the server forks and the child grades the notebook exactly as `course check` grades it in a
process of its own (autograder.self_study.check_report.check_notebook), so one request's names, modules and state
never reach the next. When there is no server, or it does not answer, `course check` grades in its own process as
before.

The server ends when the process that started it ends (JupyterLab's `course lab`), when its socket is removed or
replaced (the workspace deleted, another server started), or on SIGTERM/SIGINT. A socket left behind by a server
that died is stale: the next server removes it, and `course check` passes it by. Start one by hand with
`course check-server` to keep it in a terminal.

Self-study has no sandbox by design: the code is the learner's own, run with the learner's rights, as their notebook
runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import socket
import stat
import struct
import sys
from pathlib import Path

from course.warm import long_lived_imports

SOCKET_NAME = ".course-check.sock"
CONNECT_SECONDS = 2.0     # a server that does not accept within this is passed by
ACCEPTED_SECONDS = 10.0   # nor one whose child does not say within this that it took the request (a stopped server)
ACCEPTED = b"+"
POLL_SECONDS = 1.0        # how often the server looks whether it should end
MAX_REQUEST_BYTES = 1 << 16


class ServerError(Exception):
    """The server cannot start (another one runs there, a bad folder): one line."""


# --- the client side: `course check` (imports nothing heavy) ----------------------------------------------------

def find_socket(notebook: Path) -> Path | None:
    """The socket of a workspace server in the notebook's folder or a folder above it, if one is there."""
    for folder in Path(notebook).resolve().parents:
        candidate = folder / SOCKET_NAME
        if candidate.is_socket():
            return candidate
    return None


def _is_ours(path: Path) -> bool:
    """Whether path is a socket of this user that no one else may open (another user's socket is never used)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


@contextlib.contextmanager
def _in_folder(path: Path):
    """The address to bind or connect to for path: a unix socket's path is limited to about 100 bytes, so a long one
    is reached from its folder by its name (a chdir for the moment of the call)."""
    if len(os.fsencode(str(path))) < 100:
        yield str(path)
        return
    previous = os.getcwd()
    os.chdir(path.parent)
    try:
        yield path.name
    finally:
        os.chdir(previous)


def _connect(path: Path, seconds: float = CONNECT_SECONDS) -> socket.socket | None:
    """A connection to the server at path, or None when no server of this user answers there (a stale socket)."""
    if not _is_ours(path):
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(seconds)
    try:
        with _in_folder(path) as address:
            client.connect(address)
    except OSError:
        client.close()
        return None
    return client


def _send(connection: socket.socket, message: dict) -> None:
    data = json.dumps(message).encode()
    connection.sendall(struct.pack("!I", len(data)) + data)


def _receive(connection: socket.socket, limit: int | None = None) -> dict | None:
    """One message (a 4-byte length, then JSON), or None when the other side closed early."""
    header = _read_exactly(connection, 4)
    if header is None:
        return None
    (length,) = struct.unpack("!I", header)
    if limit is not None and length > limit:
        return None
    data = _read_exactly(connection, length)
    return None if data is None else json.loads(data)


def _read_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def ask_server(notebook: Path, assignment: str | None = None) -> dict | None:
    """Ask the workspace's server to check the notebook: {"status", "stdout", "stderr", "cpu_seconds"}, or None
    without a server (none there, or one that does not take the request within ACCEPTED_SECONDS).

    status is `course check`'s exit status (0 every point, 1 not, 2 bad input: stderr says why). None also when a
    server accepted but died before answering: the caller then grades in its own process.
    """
    found = find_socket(notebook)
    connection = _connect(found) if found else None
    if connection is None:
        return None
    with connection:
        try:
            connection.settimeout(ACCEPTED_SECONDS)
            if _read_exactly(connection, len(ACCEPTED)) != ACCEPTED:
                return None
            connection.settimeout(None)  # grading takes as long as the cells do; each cell has its own limit
            _send(connection, {"notebook": str(Path(notebook).resolve()), "assignment": assignment})
            return _receive(connection)
        except (OSError, ValueError):  # socket.timeout is an OSError
            return None


# --- the server ----------------------------------------------------------------------------------------------

def one_thread() -> None:
    """torch on one thread: the checks' tensors are small, and on a busy machine idle threads spinning for work
    cost more CPU than they save (a notebook's check: about 5x). It also keeps a fork safe: no thread pool to copy."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def warm_up(solutions=None) -> None:
    """Import what checking a notebook imports, once, before any request: torch, the checks, nbgrader, plotting.

    Then it checks the worked solution of each assignment in solutions (all when None) once: the course's own code,
    not a learner's, so that what a check does the first time in a process (torch's first operations, the
    references' cache) is done here and not in every request (a request's CPU time: about 0.5 s -> 0.15 s).
    """
    os.environ.setdefault("MPLBACKEND", "Agg")  # the learner's plots are drawn nowhere
    one_thread()
    import matplotlib.pyplot  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401  (released checksums of an untouched notebook)
    import nbgrader.utils  # noqa: F401

    import course.data  # noqa: F401
    import course.gradcheck  # noqa: F401
    import course.plots  # noqa: F401
    import course.train  # noqa: F401
    from autograder.self_study import check_report, self_check
    from autograder.grading import engine
    from autograder.course_dir import SOLUTIONS_ROOT, all_assignments, check_module

    engine.nbgrader_config()
    self_check._stubs()
    for assignment in all_assignments():
        check_module(assignment)
        warm = solutions is None or assignment in solutions
        for solution in sorted((SOLUTIONS_ROOT / assignment).glob("*.ipynb")) if warm else ():
            with contextlib.suppress(Exception):
                check_report.check_notebook(solution)


def answer(request: dict) -> dict:
    """Check the notebook a request names, as `course check` does in a process of its own."""
    from autograder import notebooks as nbs
    from autograder.self_study.check_report import check_notebook
    from autograder.course_dir import CourseError

    try:
        notebook, assignment = Path(request["notebook"]), request.get("assignment")
        if not notebook.is_absolute() or not isinstance(assignment, (str, type(None))):
            raise ValueError("a request names a notebook by its absolute path")
        table, grade = check_notebook(notebook, assignment=assignment)
    except (nbs.NotebookError, CourseError, ValueError, KeyError, TypeError) as error:
        return {"status": 2, "stdout": "", "stderr": str(error).splitlines()[0] if str(error) else repr(error)}
    return {"status": 0 if grade.auto_points == grade.auto_max else 1, "stdout": table + "\n", "stderr": ""}


def _peer_uid(connection: socket.socket) -> int | None:
    try:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return struct.unpack("3i", credentials)[1]


def _serve_one(connection: socket.socket) -> None:
    """In a forked child: read one request, answer it, exit."""
    if _peer_uid(connection) != os.geteuid():
        return
    connection.sendall(ACCEPTED)
    request = _receive(connection, limit=MAX_REQUEST_BYTES)
    if not isinstance(request, dict):
        return
    reply = answer(request)
    times = os.times()  # a forked child's own: they start at 0
    _send(connection, dict(reply, cpu_seconds=times.user + times.system))


def _claim(path: Path) -> socket.socket:
    """Bind the socket at path with mode 0600, after removing a stale one; a ServerError when a server answers."""
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise ServerError(f"{path} exists and is not a socket")
        live = _connect(path, seconds=1.0)
        if live is not None:
            live.close()
            raise ServerError(f"{path}: a check server already runs for this workspace")
        path.unlink()  # stale: its server died without removing it
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # the socket is created 0600: no moment in which another user could connect
    try:
        with _in_folder(path) as address:
            server.bind(address)
    finally:
        os.umask(previous)
    return server


def _should_end(path: Path, inode: int, parent: int | None) -> str | None:
    if parent is not None and os.getppid() != parent:
        return "the process that started it ended"
    try:
        if path.lstat().st_ino != inode:
            return "its socket was replaced"
    except OSError:
        return "its socket was removed"
    return None


def serve(workspace: Path, parent: int | None = None, ready=None, solutions=None) -> str:
    """Serve the workspace's `course check` requests until told to end; returns why it ended.

    parent: end when this process is no longer our parent (the `course lab` that started us).
    ready: called once the socket accepts requests (a test, a log line).
    solutions: the assignments whose worked solutions warm it up (warm_up; all when None).
    """
    workspace = Path(workspace).resolve()
    if not workspace.is_dir():
        raise ServerError(f"{workspace}: no such folder")
    path = workspace / SOCKET_NAME
    server = _claim(path)
    inode = path.lstat().st_ino
    stopping = []

    def stop(signum, frame):
        stopping.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # finished children are reaped by the kernel
    server.settimeout(POLL_SECONDS)
    try:
        with long_lived_imports():
            warm_up(solutions)
        server.listen(16)  # until now a connect is refused, and `course check` grades in its own process
        if ready:
            ready(path)
        while not stopping:
            why = _should_end(path, inode, parent)
            if why:
                return why
            try:
                connection, _ = server.accept()
            except (socket.timeout, InterruptedError):
                continue
            except OSError as error:
                if error.errno in (errno.EINTR, errno.ECONNABORTED):
                    continue
                raise
            child = os.fork()
            if child == 0:  # the child answers this request alone; its state dies with it
                status = 1
                try:
                    server.close()
                    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                        signal.signal(signum, signal.SIG_DFL)  # a cell's subprocess.wait needs its children
                    connection.settimeout(None)
                    with connection:
                        _serve_one(connection)
                    status = 0
                finally:
                    os._exit(status)
            connection.close()
        return f"stopped by {stopping[0]}"
    finally:
        server.close()
        with contextlib.suppress(OSError):
            if path.lstat().st_ino == inode:
                path.unlink()


def start(workspace: Path) -> "subprocess.Popen":
    """Start a server for the workspace as a child of this process, which it does not outlive."""
    import subprocess

    # a session of its own: a Ctrl+C meant for JupyterLab (which asks before it stops) does not reach it
    return subprocess.Popen([sys.executable, "-m", "course.check_server", "--workspace", str(workspace),
                             "--parent", str(os.getpid())], stdin=subprocess.DEVNULL, start_new_session=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="course check-server", description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", required=True, help="the workspace folder whose notebooks it checks")
    parser.add_argument("--parent", type=int, help="end when this process ends")
    parser.add_argument("--warm-up", metavar="ASSIGNMENT", nargs="*",
                        help="the assignments whose worked solutions it checks once at start (default: all)")
    args = parser.parse_args(argv)
    try:
        why = serve(Path(args.workspace), parent=args.parent, solutions=args.warm_up,
                    ready=lambda path: print(f"course check-server: ready on {path}", flush=True))
    except ServerError as error:
        print(f"course check-server: {error}", file=sys.stderr)
        return 2
    print(f"course check-server: ended ({why})", flush=True)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # at once: tearing down torch's modules at exit takes seconds on a busy machine
