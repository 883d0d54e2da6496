"""The workspace's warm `course check` (course.check_server): the same verdicts as `course check` in a process of
its own, nothing of one request in the next, a socket only its user can use, stale sockets passed by and replaced.

One server serves the module (started over a stale socket, which it replaces; it ends when its socket is removed).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import notebooks as nbs
from autograder.instructor import submissions
from autograder.self_study.check_report import check_notebook
from autograder.course_dir import SOURCE_ROOT, check_module
from course import check_server
from course.cli import main as course_main
from tests.test_self_check import write_release

ASSIGNMENT = "00_getting_started"
LEAK_PROBE = ('import builtins, os, sys\n'
              'if (hasattr(builtins, "left_by_an_earlier_check") or "LEFT_BY_AN_EARLIER_CHECK" in os.environ\n'
              '        or "left_by_an_earlier_check" in sys.modules):\n'
              '    rel_error = None  # what an earlier check left here breaks this notebook\'s points\n')
LEAK = ('import builtins, os, sys\n'
        'builtins.left_by_an_earlier_check = True\n'
        'os.environ["LEFT_BY_AN_EARLIER_CHECK"] = "1"\n'
        'sys.modules["left_by_an_earlier_check"] = sys\n')


def start_server(workspace, *warm_up: str) -> subprocess.Popen:
    """A check server for workspace, once it accepts requests (warm_up: the assignments it warms up on)."""
    process = subprocess.Popen([sys.executable, "-m", "course.check_server", "--workspace", str(workspace),
                                "--warm-up", *warm_up], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if "ready on" in line:
                return process
            if not line:
                break
    process.kill()
    pytest.fail(f"the check server did not start: {process.stderr.read()}")


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.terminate()
    out, _ = process.communicate(timeout=60)
    return out


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """A workspace with the first assignment's notebook solved, one with a catalogued mistake, two leak probes,
    and a server for it (warmed up on that assignment's solution)."""
    # a path longer than a unix socket's address may be: the socket is reached from its folder
    folder = tmp_path_factory.mktemp("warm") / ("a-folder-with-a-long-name-" * 3) / "workspace"
    assert len(str(folder / check_server.SOCKET_NAME)) > 108
    (folder / ASSIGNMENT).mkdir(parents=True)
    write_release(ASSIGNMENT, folder / ASSIGNMENT)
    (source_path,) = nbs.assignment_notebooks(SOURCE_ROOT, ASSIGNMENT)
    released = folder / ASSIGNMENT / source_path.name
    solved = submissions.fill_solutions(nbs.read_notebook(released), nbs.read_notebook(source_path))
    mistake = check_module(ASSIGNMENT).REL_ERROR_MISTAKES[0]
    paths = {"solved": released.with_name("solved.ipynb"), "broken": released.with_name("broken.ipynb"),
             "leaks": released.with_name("leaks.ipynb"), "probes": released.with_name("probes.ipynb")}
    nbformat.write(solved, paths["solved"])
    nbformat.write(submissions.with_mistake(solved, mistake, "rel_error"), paths["broken"])
    leaks = nbformat.from_dict(solved)
    leaks.cells.append(nbformat.v4.new_code_cell(LEAK))
    nbformat.write(leaks, paths["leaks"])
    probes = nbformat.from_dict(solved)
    first_test = next(i for i, cell in enumerate(probes.cells) if nbs.is_test(cell))
    probes.cells.insert(first_test, nbformat.v4.new_code_cell(LEAK_PROBE))
    nbformat.write(probes, paths["probes"])
    stale = folder / check_server.SOCKET_NAME
    with socket.socket(socket.AF_UNIX) as dead, check_server._in_folder(stale) as address:
        dead.bind(address)  # a server that died without removing its socket
    os.chmod(stale, 0o600)
    assert stale.is_socket() and check_server.ask_server(paths["solved"]) is None  # passed by
    server = start_server(folder, ASSIGNMENT)  # replaces it
    yield folder, paths, mistake
    stale.unlink()  # the workspace's socket removed (the workspace deleted): the server ends by itself
    try:
        assert server.wait(timeout=30) == 0
    finally:
        out = stop(server)
    assert "socket was removed" in out


def cold(path) -> tuple[int, str]:
    """`course check`'s exit status and table, graded in this process without a server."""
    table, grade = check_notebook(path)
    return (0 if grade.auto_points == grade.auto_max else 1), table + "\n"


def test_the_warm_server_gives_the_verdicts_of_a_cold_check(learner):
    folder, paths, mistake = learner
    socket_path = folder / check_server.SOCKET_NAME
    assert socket_path.stat().st_mode & 0o777 == 0o600
    for kind, status in (("solved", 0), ("broken", 1)):
        answer = check_server.ask_server(paths[kind])
        assert answer.pop("cpu_seconds") > 0
        assert answer == {"status": status, "stdout": cold(paths[kind])[1], "stderr": ""}, kind
    assert mistake.message.split(",")[0] in answer["stdout"]
    # `course check` prints the server's answer and exits with its status
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert course_main(["check", str(paths["broken"])]) == 1
    assert out.getvalue() == answer["stdout"]


def test_a_request_sees_nothing_of_the_one_before(learner, monkeypatch):
    _, paths, _ = learner
    solved_table = cold(paths["solved"])[1]
    assert check_server.ask_server(paths["leaks"])["status"] == 0
    answer = check_server.ask_server(paths["probes"])
    assert answer["status"] == 0 and answer["stdout"] == solved_table
    # the probe does see a leak where there is one: graded after the leak in one process, it loses its points
    monkeypatch.setattr("builtins.left_by_an_earlier_check", True, raising=False)
    assert cold(paths["probes"])[0] == 1


def test_bad_requests_get_one_line_and_another_users_socket_is_never_used(learner, tmp_path):
    folder, paths, _ = learner
    answer = check_server.ask_server(folder / ASSIGNMENT / "absent.ipynb")
    assert answer["status"] == 2 and answer["stdout"] == "" and "\n" not in answer["stderr"].strip()
    assert check_server.ask_server(paths["solved"], assignment="99_no_such")["status"] == 2
    # a notebook outside any served workspace: no server
    assert check_server.ask_server(tmp_path / "notebook.ipynb") is None
    # a socket someone else owns, or that others may open, is passed by
    lookalike = tmp_path / "other" / check_server.SOCKET_NAME
    lookalike.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(lookalike))
        listening.listen(1)
        os.chmod(lookalike, 0o600)
        assert check_server._connect(lookalike) is not None  # ours and private: used
        if os.geteuid() == 0:
            os.chown(lookalike, 12345, 12345)
            assert check_server.find_socket(lookalike.parent / "n.ipynb") == lookalike
            assert check_server._connect(lookalike) is None
            os.chown(lookalike, 0, 0)
        os.chmod(lookalike, 0o666)
        assert check_server._connect(lookalike) is None


def test_a_second_server_for_a_workspace_refuses_to_start(learner):
    folder, _, _ = learner
    second = subprocess.run([sys.executable, "-m", "course.check_server", "--workspace", str(folder),
                             "--warm-up"], capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and second.stderr.count("\n") == 1 and "already runs" in second.stderr
    assert check_server.ask_server(folder / ASSIGNMENT / "solved.ipynb")["status"] == 0  # the first one serves


def test_the_server_ends_when_the_process_that_started_it_ends(tmp_path):
    path = tmp_path / "socket"
    path.write_text("")
    inode = path.stat().st_ino
    assert check_server._should_end(path, inode, os.getppid()) is None
    assert "ended" in check_server._should_end(path, inode, os.getppid() + 1)
    assert "replaced" in check_server._should_end(path, inode + 1, None)


plain_json = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                          max_leaves=8)


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.text(), plain_json, max_size=5), st.integers(1, 7))
def test_a_message_arrives_whole_however_the_bytes_are_cut(message, pieces):
    left, right = socket.socketpair()
    with left, right:
        data = json.dumps(message).encode()
        framed = struct.pack("!I", len(data)) + data
        cuts = sorted({len(framed) * k // pieces for k in range(1, pieces)})
        for start, end in zip([0, *cuts], [*cuts, len(framed)]):
            left.sendall(framed[start:end])
        assert check_server._receive(right) == message
        left.sendall(framed[: len(framed) // 2])
        left.shutdown(socket.SHUT_WR)  # the other side went away in the middle: no message, no exception
        assert check_server._receive(right) is None


def test_an_oversized_request_gets_no_answer(tmp_path):
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack("!I", check_server.MAX_REQUEST_BYTES + 1) + b"{}")
        left.shutdown(socket.SHUT_WR)
        check_server._serve_one(right)  # reads no further, answers nothing
        right.shutdown(socket.SHUT_WR)
        assert left.recv(16) == check_server.ACCEPTED


def test_a_server_that_takes_no_request_is_passed_by(tmp_path, monkeypatch):
    """A socket whose server is stopped (SIGSTOP) or hung: connecting works, nothing takes the request."""
    monkeypatch.setattr(check_server, "ACCEPTED_SECONDS", 0.5)
    path = tmp_path / check_server.SOCKET_NAME
    with socket.socket(socket.AF_UNIX) as hung:
        hung.bind(str(path))
        os.chmod(path, 0o600)
        hung.listen(1)  # never accepts
        started = time.monotonic()
        assert check_server.ask_server(tmp_path / "a" / "notebook.ipynb") is None
        assert time.monotonic() - started < 30
