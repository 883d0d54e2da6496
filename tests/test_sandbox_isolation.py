"""What student code can reach inside the sandbox, tried from inside it: as root (as CI runs the grader) and as an
unprivileged user (created here when the tests run as root).

Each probe is an attack a submission could make; `probe_sandbox` runs them all in one sandbox and returns what
happened, as plain data, so the same probes run in this process and in one started as another user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.grading.sandbox import worker
from autograder.grading.sandbox.worker import REPO_ROOT, SANDBOX_UID, Limits, Sandbox, bubblewrap_problem
from tests.attacks.catalogue import ONLY_ATTACKS

pytestmark = [pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox: {bubblewrap_problem()}")]

UNPRIVILEGED_USER = "course-grader-test"
TMP_BYTES = 8 * 1024 ** 2
PROCESSES = 64

STATUS = """
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())
facts = {'uid': status['Uid'].split()[0], 'capabilities': status['CapEff'].strip(),
         'bounding': status['CapBnd'].strip()}
"""

REMOUNT = """
import ctypes, os, course
folder = os.path.dirname(course.__file__)
libc = ctypes.CDLL(None, use_errno=True)
remounted = libc.mount(None, folder.encode(), None, 0x20 | 0x1000, None) == 0  # MS_REMOUNT | MS_BIND, no MS_RDONLY
try:
    open(os.path.join(folder, 'planted_by_a_probe.py'), 'w').close()
    planted = True
except OSError:
    planted = False
try:
    new_namespace = libc.unshare(0x10000000) == 0  # CLONE_NEWUSER: capabilities again, in a namespace of its own
except Exception:
    new_namespace = True
"""

# write one byte of another process's memory back as it was (harmless if it succeeds), then try to trace it
WRITE_MEMORY = """
import ctypes, os
def write_memory(pid):
    try:
        with open(f'/proc/{pid}/maps') as maps:
            start = int(next(l for l in maps if ' rw-p ' in l).split('-')[0], 16)
        with open(f'/proc/{pid}/mem', 'r+b', buffering=0) as memory:
            memory.seek(start)
            byte = memory.read(1)
            memory.seek(start)
            memory.write(byte)
        return 'written'
    except (OSError, StopIteration) as error:
        return type(error).__name__
def trace(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
        return 'traced'
    return os.strerror(ctypes.get_errno())
"""

SIGNAL_FORK_SERVER = """
import os, signal
for sent in (signal.SIGSTOP, signal.SIGKILL):
    os.kill(os.getppid(), sent)
"""

FILL_TMP = f"""
import os
try:
    with open('/tmp/filler', 'wb') as f:
        for _ in range({2 * TMP_BYTES // 2 ** 20}):
            f.write(bytes(2 ** 20))
    tmp_full = False
except OSError:
    tmp_full = True
"""

FORK_MANY = f"""
import os, time
forked, refused = 0, False
for _ in range({2 * PROCESSES}):
    try:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        forked += 1
    except OSError:
        refused = True
        break
"""


def sandbox_for_probes() -> Sandbox:
    """A sandbox with the limits the probes expect."""
    return Sandbox(limits=Limits(memory_bytes=1024 ** 3, scratch_bytes=TMP_BYTES, processes=PROCESSES))


def probe_sandbox() -> dict:
    """Run every probe in one sandbox; what each achieved."""
    found = {}
    with sandbox_for_probes() as sandbox:
        attacker, sibling = sandbox.spawn(), sandbox.spawn()

        def run(executor, source, names):
            reply = executor.exec_cell(source, "probe", timeout=30)
            assert reply["ok"], reply
            return {name: d.get("value") for name, d in executor.describe(names, timeout=30).items()}

        found.update(run(attacker, STATUS, ["facts"])["facts"])
        found.update(run(attacker, REMOUNT, ["remounted", "planted", "new_namespace"]))
        fork_server = run(attacker, "import os\nparent = os.getppid()", ["parent"])["parent"]
        probes = f"{WRITE_MEMORY}\nparent = (write_memory({fork_server}), trace({fork_server}))\n" \
                 f"sibling = (write_memory({sibling.pid}), trace({sibling.pid}))\n"
        found.update(run(attacker, probes, ["parent", "sibling"]))
        found.update(run(attacker, FILL_TMP, ["tmp_full"]))
        found.update(run(attacker, FORK_MANY, ["forked", "refused"]))
        found["process_limit_from"] = "cgroup" if sandbox.cgroup is not None else "rlimit"
        found["grader_is_root"] = os.geteuid() == 0
        attacker.exec_cell(SIGNAL_FORK_SERVER, "probe", timeout=30)
        found["fork_server_answers"] = sandbox.alive()
        sandbox.reap()
        after = sandbox.spawn()
        found.update(run(after, "import os\nleft_in_tmp = sorted(os.listdir('/tmp'))", ["left_in_tmp"]))
    # the course and Python, bound read-only into the sandbox, may lie under /tmp (a clone in a temporary folder):
    # their mount points are the sandbox's, not what a submission left behind
    found["left_in_tmp"] = sorted(set(found["left_in_tmp"]) - mount_points_in_tmp())
    return found


def mount_points_in_tmp() -> set[str]:
    """The first folders under /tmp of the paths the sandbox binds (the course clone, the Python it runs)."""
    names = set()
    for path in (REPO_ROOT, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve()):
        parts = Path(path).resolve().parts
        if len(parts) > 2 and parts[:2] == ("/", "tmp"):
            names.add(parts[2])
    return names


EXPECTED = {"uid": str(SANDBOX_UID), "capabilities": "0000000000000000", "bounding": "0000000000000000",
            "remounted": False, "planted": False, "new_namespace": False,
            "parent": ["PermissionError", "Operation not permitted"],
            "sibling": ["PermissionError", "Operation not permitted"],
            "tmp_full": True, "fork_server_answers": True, "left_in_tmp": []}


def check(found: dict) -> None:
    found = json.loads(json.dumps(found))  # as it arrives from another process: tuples become lists
    assert {k: found[k] for k in EXPECTED} == EXPECTED
    assert found["refused"] and found["forked"] < PROCESSES
    assert not (REPO_ROOT / "course" / "planted_by_a_probe.py").exists()


@pytest.fixture
def cleanup_planted():
    yield
    (REPO_ROOT / "course" / "planted_by_a_probe.py").unlink(missing_ok=True)


@pytest.mark.parametrize("pids_cgroup", ["made where it can be", "none"])
def test_student_code_can_reach_nothing_when_root_starts_the_grader(cleanup_planted, monkeypatch, pids_cgroup):
    """With no pids cgroup, root starts bubblewrap as another uid (worker.as_sandbox_owner): another way in."""
    if os.geteuid() != 0:
        pytest.skip("not root: the unprivileged test covers this user")
    if pids_cgroup == "none":
        monkeypatch.setattr(worker, "pids_cgroup", lambda limit: None)
    found = probe_sandbox()
    if pids_cgroup == "none":
        assert found["process_limit_from"] == "rlimit"
    check(found)


def test_the_sandbox_starts_where_the_grader_s_package_is_closed_to_its_uid(monkeypatch, tmp_path):
    """`course hub` closes `autograder/` to all but the instructors' group; root without a pids cgroup starts
    bubblewrap as SANDBOX_OWNER_UID. The runner's files reach the sandbox through descriptors the grader opened."""
    if os.geteuid() != 0:
        pytest.skip("not root: bubblewrap runs as this user, who reads the package")
    closed = tmp_path / "closed"  # as close_instructor_only leaves it: the group's, nothing for others
    closed.mkdir()
    for name in worker.RUNNER_FILES:
        shutil.copy2(worker.HERE / name, closed / name)
        (closed / name).chmod(0o640)
    closed.chmod(0o750)
    monkeypatch.setattr(worker, "HERE", closed)
    monkeypatch.setattr(worker, "pids_cgroup", lambda limit: None)
    with sandbox_for_probes() as sandbox:
        executor = sandbox.spawn()
        assert executor.exec_cell("def answer():\n    return 6 * 7", "cell", timeout=30)["ok"]
        assert executor.call("answer", (), {}, by_hand=False, timeout=30) == {"ok": True, "result": 42, "stdout": ""}


def unprivileged_user() -> str:
    """A user without privileges to start the grader as (created when this runs as root)."""
    try:
        pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        UNPRIVILEGED_USER], check=True, capture_output=True)
    return UNPRIVILEGED_USER


@pytest.fixture
def shared_folder():
    """A folder the unprivileged user can write (pytest's own are its starter's alone)."""
    folder = tempfile.mkdtemp(prefix="course-unprivileged-")
    os.chmod(folder, 0o777)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


UNPRIVILEGED_ATTACKS = (
    "patch-numpy-comparisons", "ast-transformer-removes-asserts",  # stock nbgrader's weaknesses
    "remounts-the-course-package-and-plants-a-module",  # 1, capabilities (2, /proc/<pid>/mem: the probes above)
    "names-a-module-that-exits-the-grader",  # 3
    "answer-cell-turned-into-markdown", "written-answer-turned-into-code",  # 4
    "torch-in-a-by-hand-exercise", "torch-hidden-from-the-detector",  # 5
    "lone-surrogate-in-an-error-message", "malformed-timestamp", "hidden-tests-marker-in-an-answer",  # 6
    "raises-the-output-cap-from-inside", "error-text-of-megabytes", "100-mb-of-output", "reply-of-many-small-values",
    "memory-bomb", "fork-bomb-lite", "stops-the-process-that-forked-it", "kills-the-process-that-forked-it",
    "background-process-outlives-the-submission",  # 7
    "answer-table-learned-from-feedback", "prints-and-raises-its-hidden-inputs",  # 8
    "script-in-markdown",  # 9
    "writes-the-gradebook-and-vandalises", "holds-a-lock-on-the-gradebook")


def as_unprivileged_user(command: list[str], home, timeout: float, env: dict | None = None
                         ) -> subprocess.CompletedProcess:
    """Run command as UNPRIVILEGED_USER (made when missing), in the repository; skip where that cannot be done.
    home: a folder that user can write.

    The Python that runs the tests, and the repository, may lie in a folder that user cannot enter (/root is 0700
    where CI installs Python; a clone in a folder of mktemp -d): the command then runs in a private mount namespace
    that shows that user the Python installation and the repository and nothing else of the folder
    (worker.as_user_seeing); nothing on disk changes, so nothing is left to undo.
    """
    for tool in ("setpriv", "useradd", "unshare"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: cannot run as another user")
    user = pwd.getpwnam(unprivileged_user())
    shown = [sys.prefix, sys.base_prefix, os.path.realpath(sys.executable), str(REPO_ROOT)]
    as_user = worker.as_user_seeing(user.pw_uid, user.pw_gid, shown, [])
    for needed in (sys.executable, str(REPO_ROOT / "autograder" / "grading" / "sandbox" / "runner.py")):
        if subprocess.run(as_user + ["test", "-r", needed]).returncode != 0:
            pytest.skip(f"{UNPRIVILEGED_USER} cannot read {os.path.realpath(needed)}, which the grader needs")
    result = subprocess.run(as_user + command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                                 "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": str(home), **(env or {})})
    if result.returncode != 0 and "setting up uid map" in result.stderr + result.stdout:
        pytest.skip("this kernel does not let an unprivileged user make a user namespace")
    return result


# The hub test closes `autograder/` to every user but the instructors' group while it runs (autograder.instructor.hub
# .close_instructor_only): a grader started by another user meanwhile could not import it, so these share its group.
@pytest.mark.xdist_group("hub")
def test_student_code_can_reach_nothing_when_an_unprivileged_user_starts_the_grader(cleanup_planted, shared_folder):
    if os.geteuid() != 0:
        check(probe_sandbox())  # we are that user
        return
    result = as_unprivileged_user(
        [sys.executable, "-c", "import json, tests.test_sandbox_isolation as t; print(json.dumps(t.probe_sandbox()))"],
        shared_folder, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    check(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.pipeline
@pytest.mark.xdist_group("hub")  # see above
def test_the_attack_catalogue_holds_when_an_unprivileged_user_grades(shared_folder):
    """tests/test_attacks.py as a user without privileges (the run as root is CI's own run of it), where the process
    limit is RLIMIT_NPROC rather than a pids cgroup. A subset of the catalogue, UNPRIVILEGED_ATTACKS: the attacks on
    the sandbox and its limits (classes 1, 2 and 7), one or two of every other class, and those that tests of
    test_attacks.py name; the whole catalogue takes about 3 minutes this way (184 s measured)."""
    if os.geteuid() != 0:
        pytest.skip("not root: tests/test_attacks.py runs as this user already")
    result = as_unprivileged_user([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                                   "tests/test_attacks.py", f"--basetemp={shared_folder / 'attacks'}"],
                                  shared_folder, timeout=900, env={ONLY_ATTACKS: ",".join(UNPRIVILEGED_ATTACKS)})
    assert result.returncode == 0, result.stdout[-3000:]


def test_another_user_is_shown_exactly_the_paths_it_needs_and_nothing_changes_on_disk(tmp_path):
    """worker.as_user_seeing: a folder closed to others (0700, as /root is) stays closed on disk; the command sees
    the one path it was given inside it, and not its neighbour."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, unshare and setpriv")
    closed = tmp_path / "closed"
    (closed / "shown").mkdir(parents=True)
    (closed / "hidden").mkdir()
    (closed / "shown" / "file").write_text("seen\n")
    (closed / "hidden" / "file").write_text("secret")
    closed.chmod(0o700)
    os.chmod(tmp_path, 0o755)
    probe = f"cat {closed}/shown/file; ls {closed}; cat {closed}/hidden/file 2>/dev/null || echo refused"
    # a file inside a folder already shown (the interpreter inside its installation) comes with the folder: it must
    # not be bound again, which would first truncate the real file
    shown = [str(closed / "shown"), str(closed / "shown" / "file")]
    command = worker.as_user_seeing(SANDBOX_UID, SANDBOX_UID, shown, ["/bin/sh", "-c", probe])
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd="/")
    assert result.stdout.split() == ["seen", "shown", "refused"], result.stderr
    assert (closed / "shown" / "file").read_text() == "seen\n"
    assert closed.stat().st_mode & 0o777 == 0o700 and sorted(p.name for p in closed.iterdir()) == ["hidden", "shown"]
    as_is = subprocess.run(["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                            "cat", str(closed / "shown" / "file")], capture_output=True, text=True)
    assert as_is.returncode != 0  # without it, that user cannot read the file


def test_emptying_tmp_keeps_what_bubblewrap_bound_there_and_nothing_else(tmp_path, monkeypatch):
    """runner.empty: with the course cloned under /tmp, the sandbox's /tmp holds the folders bubblewrap bound there
    (the Python installation, `course`). A reap removes everything else, also beside them on the way, and never walks
    into them (it did at every reap: thousands of read-only files of torch, a notebook's grading time doubled)."""
    monkeypatch.syspath_prepend(str(worker.HERE))  # runner imports its neighbours as the sandbox's /runner has them
    from autograder.grading.sandbox import runner

    bound = tmp_path / "clone" / ".venv"
    (bound / "lib").mkdir(parents=True)
    (bound / "lib" / "torch.py").write_text("")
    (tmp_path / "clone" / "left-by-a-student").write_text("")
    (tmp_path / "clone" / "a-folder" / "deep").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "clone", tmp_path / "link")
    walked = []
    monkeypatch.setattr(runner.os.path, "ismount", lambda path: walked.append(path) or path == str(bound))
    runner.empty(str(tmp_path), frozenset({str(tmp_path / "clone"), str(bound)}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clone"]
    assert sorted(p.name for p in (tmp_path / "clone").iterdir()) == [".venv"]
    assert (bound / "lib" / "torch.py").exists() and str(bound / "lib") not in walked
