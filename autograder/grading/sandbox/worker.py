"""The trusted side of the sandbox: start the warm fork server (inside bubblewrap), spawn executors, talk to them.

    with Sandbox() as sandbox:
        executor = sandbox.spawn()
        executor.exec_cell("def f(x):\\n    return 2 * x", timeout=10)
        executor.call("f", (3,), {}, by_hand=False, timeout=10)      # -> 6
        by_hand = sandbox.by_hand.spawn()                             # a process without torch, for functions
        by_hand.replay([("def f(x):\n    return 2 * x", "cell")], timeout=10)  # graded by hand
        by_hand.call("f", (3,), {}, by_hand=True, timeout=10)         # -> 6
        sandbox.reap()                                                # nothing of that submission survives

bubblewrap gives the fork server and everything it forks: no network; a read-only view of the Python installation,
the virtual environment and the student package `course` only (not the course's sources, `autograder`, the
gradebook or any submission); a private, size-capped /tmp and scratch folder; its own PID namespace, so that reaping
can find every process a submission started, with the fork server as its init (which its processes cannot signal);
its own user namespace, in which student code is an ordinary user (SANDBOX_UID) without a single capability, whoever
starts the grader. Memory, CPU time and file size are limited per executor (runner.py); the number of processes by
a pids cgroup, or else RLIMIT_NPROC (for root, with bubblewrap started as SANDBOX_OWNER_UID: see as_sandbox_owner);
wall time per request, and the size of every reply, here.

Each sandbox has a twin without torch (`Sandbox.by_hand`), in which functions graded by hand are called, and where
a notebook's cells run until one needs torch (grader.StudentSession): a second warm fork server, in a sandbox that
does not mount torch's files at all, where `import torch` gives a stand-in whose every use fails
(torch_stand_in.py). No path leads from student code there to torch, whatever the code names.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import fcntl
import functools
import importlib.metadata
import io
import itertools
import marshal
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.grading.sandbox import wire

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent.parent  # autograder/grading/sandbox/ -> the folder that holds autograder
RUNNER_FILES = ("runner.py", "wire.py", "torch_stand_in.py")
START_TIMEOUT_SECONDS = 120
SANDBOX_UID = 65534  # the uid and gid student code has inside the sandbox ("nobody")
USER_OPTIONS = ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns",
                "--cap-drop", "ALL", "--as-pid-1"]  # see _bubblewrap_command
# The last argument of every sandbox process, so that `ps` shows whose it is: the grader that loaded this module
# (its forked workers inherit the value, and so do the sandboxes they restart).
OWNER_LABEL = f"course-sandbox-of-{os.getpid()}"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or does not work here; the message says how to install it or to pass --unsafe."""


class SandboxDied(RuntimeError):
    """The fork server itself is gone (a submission killed it); restart() makes a new one."""


class ExecutorDied(RuntimeError):
    """The student's process ended (crash, os._exit, kill) or stopped answering in time."""


class ExecutorTimedOut(ExecutorDied):
    """The student's process did not answer in time (an endless loop?) and was killed."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 4 * 1024 ** 3       # on top of the warm process's own address space
    cpu_seconds: int = 600
    file_bytes: int = 64 * 1024 ** 2
    output_bytes: int = 64 * 1024
    scratch_bytes: int = 256 * 1024 ** 2   # each of /scratch and /tmp, in memory
    processes: int = 256                   # processes and threads of the sandbox's user, the fork server's included


@functools.lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """None when bubblewrap can make a sandbox here, else why not (asked once per process: each probe starts a
    sandbox, and a grader starts two per worker)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", *USER_OPTIONS,
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"bubblewrap cannot create a sandbox here (version 0.8 or newer is needed): "
                f"{probe.stderr.strip().splitlines()[-1:]}")
    return None


def pids_cgroup(limit: int) -> Path | None:
    """A new cgroup that holds at most `limit` processes and threads (the kernel's pids controller), or None where
    this process may not make one (an unprivileged user: RLIMIT_NPROC in the sandbox limits processes instead).

    root needs it: RLIMIT_NPROC does not apply to a user that is root outside the sandbox's user namespace.
    """
    name = f"{CGROUP_PREFIX}{os.getpid()}-{next(_cgroup_numbers)}"
    for pids_root in _pids_roots():
        _sweep_cgroups(pids_root)
        folder = pids_root / name
        try:
            folder.mkdir()
            (folder / "pids.max").write_text(str(limit))
            _open_cgroups.add(folder)
            return folder
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
    return None


# The uid outside the sandbox's user namespace of a sandbox that root starts where no pids cgroup can be made: one no
# user and no other program has, so that the kernel counts the sandbox's processes against RLIMIT_NPROC (which it
# never does for processes that are root outside every namespace). Set COURSE_SANDBOX_OWNER_UID where it is taken.
SANDBOX_OWNER_UID = int(os.environ.get("COURSE_SANDBOX_OWNER_UID", "2000065534"))


def as_sandbox_owner(command: list[str]) -> list[str]:
    """The bubblewrap command to start as SANDBOX_OWNER_UID rather than root.

    Where root can make no pids cgroup, the process limit is RLIMIT_NPROC, which the fork server sets on every
    executor; the kernel ignores it for any process whose real uid outside the namespaces is root, whatever uid it has
    inside. Started as an unused uid, every process of the sandbox has that uid outside, so the limit binds, and the
    student cannot lift it (raising a hard limit takes CAP_SYS_RESOURCE, which the sandbox drops).
    """
    try:
        owner = pwd.getpwuid(SANDBOX_OWNER_UID).pw_name
    except KeyError:
        owner = None
    if owner is not None:
        raise SandboxUnavailable(f"uid {SANDBOX_OWNER_UID} belongs to the user {owner}; the sandbox needs a uid no one "
                                 "has: set COURSE_SANDBOX_OWNER_UID to one")
    sources = [command[i + 1] for i, option in enumerate(command[:-1]) if option == "--ro-bind"]
    return as_user_seeing(SANDBOX_OWNER_UID, SANDBOX_OWNER_UID, sources, command)


def as_user_seeing(uid: int, gid: int, paths: list[str], command: list[str]) -> list[str]:
    """`command` run as uid/gid (no other groups), able to read `paths` though a folder above them is closed to it
    (a Python installed under /root, which is 0700).

    Only the new process sees the change: in a private mount namespace (util-linux's unshare), each closed folder is
    covered by an empty tmpfs into which exactly `paths` are bound, from descriptors the shell opened before covering
    it. Nothing on disk changes, and nothing is left to undo when the process ends.
    """
    closed: dict[str, list[str]] = {}
    shown = list(dict.fromkeys(os.path.realpath(p) for p in paths))
    # a path inside another one shown comes with it; binding it again would first write into the real folder
    shown = [path for path in shown if not any(path != other and _is_inside(path, other) for other in shown)]
    for path in shown:
        folder = _closed_above(path)
        if folder is not None:
            closed.setdefault(folder, []).append(path)
    script, fd = ["set -e"], 3
    for folder, inside in closed.items():
        script += [f"exec {fd + i}<{shlex.quote(path)}" for i, path in enumerate(inside)]
        script.append(f"mount -t tmpfs -o mode=0755,size=1m course-view {shlex.quote(folder)}")
        for path in inside:
            target = shlex.quote(path)
            script.append(f"mkdir -p {target}" if os.path.isdir(path)
                          else f"mkdir -p {shlex.quote(os.path.dirname(path))} && : > {target}")
            script += [f"mount --no-canonicalize --bind /proc/self/fd/{fd} {target}", f"exec {fd}<&-"]
            fd += 1
    if fd > 10:
        raise ValueError(f"too many paths under closed folders to show: {sum(closed.values(), [])}")
    script.append(f'exec setpriv --reuid={uid} --regid={gid} --clear-groups -- "$@"')
    prefix = ["unshare", "--mount", "--propagation", "private", "--"] if closed else []
    return prefix + ["/bin/sh", "-c", "\n".join(script), "sh"] + command


def _is_inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _closed_above(path: str) -> str | None:
    """The highest folder on the way to path that others may not pass through (no o+x), or None."""
    parts = Path(path).parts
    for depth in range(2, len(parts)):
        folder = os.path.join(*parts[:depth])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


_cgroup_numbers = itertools.count()
CGROUP_PREFIX = "course-sandbox-"


def _pids_roots() -> list[Path]:
    """Where a pids cgroup can be made: cgroup v1's pids hierarchy, or v2's root with the pids controller on."""
    roots = []
    for pids_root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if pids_root.name == "cgroup" and "pids" not in _read(pids_root / "cgroup.subtree_control"):
            continue
        if (pids_root / "cgroup.procs").exists():
            roots.append(pids_root)
    return roots


def _sweep_cgroups(pids_root: Path, wait_seconds: float = 0.0) -> None:
    """Remove the empty cgroups of sandboxes that are closed: this process's, and those of graders that have ended.

    A sandbox's processes leave its cgroup a moment after the kill (a big address space takes time to tear down),
    so close() does not wait for them: the next sandbox made, or this process's exit, removes the cgroup.
    """
    deadline = time.monotonic() + wait_seconds
    for folder in pids_root.glob(f"{CGROUP_PREFIX}*"):
        owner = folder.name[len(CGROUP_PREFIX):].split("-")[0]
        if owner.isdigit() and int(owner) != os.getpid() and Path(f"/proc/{owner}").exists():
            continue  # another grader's, still running
        if folder in _open_cgroups:
            continue
        while True:
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:  # processes still in it
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)


_open_cgroups: set[Path] = set()


@atexit.register
def _sweep_at_exit() -> None:
    for pids_root in _pids_roots():
        _sweep_cgroups(pids_root, wait_seconds=2.0)


@functools.lru_cache(maxsize=1)
def torch_files() -> list[Path]:
    """The folders and files of the installed torch distribution (torch, functorch, torchgen and its metadata),
    which the sandbox without torch covers; its scripts outside the site-packages folder only import it."""
    try:
        distribution = importlib.metadata.distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        return []
    site = Path(distribution.locate_file("")).resolve()
    record = distribution.read_text("RECORD")
    if record is not None:  # its first column, read as text: Distribution.files makes a path of each of the
        names = [row[0] for row in csv.reader(io.StringIO(record)) if row]  # 15,000 lines (1 s of CPU)
    else:
        names = [str(f) for f in distribution.files or ()]
    tops = {name.replace("\\", "/").split("/", 1)[0] for name in names} - {"..", ""}
    return sorted(site / top for top in tops if (site / top).exists())


def open_runner_files() -> dict[str, int]:
    """name -> a descriptor open on HERE/name, numbered above the few that as_user_seeing's shell uses (3 to 10)."""
    fds = {}
    for name in RUNNER_FILES:
        fd = os.open(HERE / name, os.O_RDONLY | os.O_CLOEXEC)
        fds[name] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64)
        os.close(fd)
    return fds


def _bubblewrap_command(python: str, limits: Limits, control_fd: int, runner_fds: dict[str, int],
                        torch: bool = True) -> list[str]:
    prefix = Path(sys.prefix).resolve()          # the virtual environment
    base = Path(sys.base_prefix).resolve()       # the Python installation it was made from
    command = ["bwrap", "--die-with-parent", "--unshare-all", "--new-session", "--clearenv"]
    # Student code holds no capability and no privileged uid, whoever starts the grader (root included): a user
    # namespace of its own in which it is an ordinary user, every capability dropped, and no further user namespace
    # (which would give it capabilities again). The fork server is the namespace's init, so its processes cannot
    # signal it (the kernel drops SIGSTOP and SIGKILL sent to an init from inside its namespace).
    command += USER_OPTIONS
    # a private /tmp first: the binds below may lie under /tmp (a clone in a temporary folder) and must stay visible
    command += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.scratch_bytes), "--tmpfs", "/tmp"]
    for system in ("/usr", "/bin", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/alternatives"):
        if os.path.exists(system):
            command += ["--ro-bind", system, system]
    huge_pages = "/sys/kernel/mm/transparent_hugepage"  # glibc reads it (see FORK_FRIENDLY_MEMORY)
    if os.path.isdir(huge_pages):
        command += ["--ro-bind", huge_pages, huge_pages]
    for folder in {str(prefix), str(base)}:
        command += ["--ro-bind", folder, folder]
    if not torch:  # torch's files are not there: an empty, read-only folder over each folder, /dev/null over a file
        for path in torch_files():
            command += (["--tmpfs", str(path), "--remount-ro", str(path)] if path.is_dir()
                        else ["--ro-bind", "/dev/null", str(path)])
    course = REPO_ROOT / "course"
    command += ["--ro-bind", str(course), str(course)]   # the student package; `autograder` stays outside
    # these three files and nothing else of ours, copied by bubblewrap from descriptors the grader opened: the
    # sandbox reads them even where our package is closed to its uid (`course hub` gives `autograder` to the
    # instructors' group alone, and root without a pids cgroup starts bubblewrap as SANDBOX_OWNER_UID)
    for name in RUNNER_FILES:
        command += ["--ro-bind-data", str(runner_fds[name]), f"/runner/{name}"]
    command += ["--size", str(limits.scratch_bytes), "--tmpfs", "/scratch", "--chdir", "/scratch"]
    environment = {"HOME": "/scratch", "MPLCONFIGDIR": "/scratch/.matplotlib", "MPLBACKEND": "Agg",
                   "OMP_NUM_THREADS": "1", "COURSE_SANDBOXED": "1", "COURSE_SCRATCH": "/scratch",
                   "PATH": f"{prefix}/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    environment.update(_runner_environment(limits))
    if not torch:
        environment["COURSE_WITHOUT_TORCH"] = "1"
    for key, value in environment.items():
        command += ["--setenv", key, value]
    return command + [python, "-s", "/runner/runner.py", str(control_fd), OWNER_LABEL]


# The fork server forks an executor per notebook, and a fork copies the page tables of its ~170 MB heap (torch's
# import); the executor's exit tears them down again. Objects on glibc malloc (PYTHONMALLOC), whose heap glibc
# backs with transparent huge pages (hugetlb=1), make those tables 512 times shorter. glibc reads whether it may
# from /sys/kernel/mm/transparent_hugepage, which the sandbox shows read-only for that reason. Once warm, the fork
# server turns huge pages off for new memory (runner.no_new_huge_pages), so executors get theirs in 4 kB pages
# rather than zeroed 2 MB at a time. And glibc keeps what an executor frees (trim_threshold) and serves arrays of up
# to 32 MB from its heap (mmap_threshold), rather than asking the kernel for fresh zeroed pages for every large array.
# A class of 280 submissions, runs alternating: 25.6-32.4 s with these settings, 29.5-35.3 s with PYTHONMALLOC and
# hugetlb=1 alone (which glibc could not act on in the sandbox); benchmarks/fork_cost.py measures one executor.
FORK_FRIENDLY_MEMORY = {"PYTHONMALLOC": "malloc", "GLIBC_TUNABLES": ":".join((
    "glibc.malloc.hugetlb=1", f"glibc.malloc.trim_threshold={256 * 1024 ** 2}",
    f"glibc.malloc.mmap_threshold={32 * 1024 ** 2}"))}  # 32 MB is the largest mmap_threshold glibc accepts


def _runner_environment(limits: Limits) -> dict[str, str]:
    """What the fork server needs in its environment, in the sandbox or not: its limits and its memory settings."""
    return {"COURSE_MEMORY_LIMIT": str(limits.memory_bytes), "COURSE_CPU_LIMIT": str(limits.cpu_seconds),
            "COURSE_FILE_LIMIT": str(limits.file_bytes), "COURSE_OUTPUT_CAP": str(limits.output_bytes),
            "COURSE_PROCESS_LIMIT": str(limits.processes),
            **FORK_FRIENDLY_MEMORY}


@contextlib.contextmanager
def on_cpu(cpu: int | None):
    """Within the block, this thread (and every process it starts) runs on `cpu` only; None changes nothing."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class Sandbox:
    """A warm fork server for student code; sandboxed with bubblewrap unless unsafe=True.

    by_hand: its twin without torch, for the calls of functions graded by hand and the cells of a notebook that does
    not use torch (see the module's docstring); it warms up alongside, is reaped and closed with this one, and
    restarted on its own. Without a sandbox (unsafe) the twin has the stand-in for torch but torch's files stay
    readable: trusted work only.
    """

    def __init__(self, unsafe: bool = False, limits: Limits = Limits(), wait: bool = True, cpu: int | None = None,
                 torch: bool = True, deferred: bool = False):
        """Start the fork server (and its twin without torch); with wait=False, return at once and let wait_ready()
        wait for their warm-up.

        cpu: run the fork server and every executor it forks on this CPU only (see grading.cpu_plan for why).
        torch: False for the twin itself.
        deferred: start the twin now, and this fork server (with torch: some 2 s of CPU and a few hundred MB) at its
        first spawn, in the process that spawns: a run of notebooks that do not name torch may never need it.
        """
        self.unsafe = unsafe
        self.limits = limits
        self.cpu = cpu
        self.torch = torch
        self.process = None  # the fork server, once started
        self.used = False  # a process started in it since it started or was last reaped
        if not deferred:
            self._launch()
        self.by_hand = Sandbox(unsafe, limits, wait=False, cpu=cpu, torch=False) if torch else None
        if wait:
            self.wait_ready()

    @property
    def started(self) -> bool:
        return self.process is not None

    def start(self, wait: bool = True) -> None:
        """Start the fork server if it was deferred (and wait for its warm-up, unless wait=False)."""
        if not self.started:
            self._launch()
        if wait:
            self.wait_ready()

    def _launch(self) -> None:
        unsafe, limits = self.unsafe, self.limits
        if not unsafe:
            problem = bubblewrap_problem()
            if problem:
                raise SandboxUnavailable(f"{problem}; or grade without a sandbox with --unsafe (trusted work only)")
        self.control, theirs = socket.socketpair()
        python = str(Path(sys.prefix) / "bin" / "python")
        self._tmp, self.cgroup = None, None
        runner_fds = {}
        try:
            if unsafe:
                # no sandbox: a scratch folder of its own, and the runner copied next to it, outside our package
                self._tmp = tempfile.TemporaryDirectory(prefix="course-sandbox-")
                runner_dir, scratch = Path(self._tmp.name) / "runner", Path(self._tmp.name) / "scratch"
                runner_dir.mkdir()
                scratch.mkdir()
                for name in RUNNER_FILES:
                    shutil.copy2(HERE / name, runner_dir / name)
                env = dict(os.environ, COURSE_SCRATCH=str(scratch), MPLBACKEND="Agg", OMP_NUM_THREADS="1",
                           **_runner_environment(limits), **({} if self.torch else {"COURSE_WITHOUT_TORCH": "1"}))
                command = [python, "-s", str(runner_dir / "runner.py"), str(theirs.fileno()), OWNER_LABEL]
                cwd = str(scratch)
            else:
                env, cwd = None, None
                runner_fds = open_runner_files()
                command = _bubblewrap_command(python, limits, theirs.fileno(), runner_fds, self.torch)
                self.cgroup = pids_cgroup(limits.processes)
                if self.cgroup is not None:  # bubblewrap starts in it, and so does every process of the sandbox
                    command = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.cgroup)] + command
                elif os.geteuid() == 0:  # RLIMIT_NPROC limits processes, and binds no process of root's
                    command = as_sandbox_owner(command)
                    cwd = "/"  # bubblewrap starts where that uid may be, and moves to /scratch
            with on_cpu(self.cpu):  # the fork server inherits this thread's CPUs, and its executors inherit its own
                self.process = subprocess.Popen(command, pass_fds=[theirs.fileno(), *runner_fds.values()], env=env,
                                                cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)
        finally:
            for fd in runner_fds.values():
                os.close(fd)
        theirs.close()
        self._started_by = os.getpid()
        self.sandboxed = None
        self.used = False  # a process started in it since it started or was last reaped

    def wait_ready(self) -> None:
        """Wait until the fork server (and its twin) has warmed up; SandboxUnavailable when it did not start."""
        if self.by_hand is not None:
            try:
                self.by_hand.wait_ready()
            except SandboxUnavailable:
                self.close()
                raise
        if not self.started or self.sandboxed is not None:  # deferred: waited for at its first spawn
            return
        self.control.settimeout(START_TIMEOUT_SECONDS)
        try:
            hello = wire.receive(self.control)
        except (EOFError, OSError, wire.WireError) as error:
            stderr = self._stderr_tail()
            self.close()
            raise SandboxUnavailable(f"the sandbox did not start ({error}): {stderr}") from None
        self.sandboxed = bool(hello.get("sandboxed"))

    def _stderr_tail(self) -> str:
        try:
            self.process.kill()
            return (self.process.stderr.read() or b"").decode(errors="replace")[-500:]
        except Exception:
            return ""

    def _command(self, command: str, fds=()) -> dict:
        try:
            self.control.settimeout(30)
            socket.send_fds(self.control, [command.encode()], list(fds))
            return wire.receive(self.control)
        except (OSError, EOFError, wire.WireError) as error:
            raise SandboxDied(f"the sandbox stopped answering ({error.__class__.__name__})") from None

    def alive(self) -> bool:
        """The fork server runs and answers."""
        if not self.started:
            return False
        # only the process that started it can poll it (a worker forked later would read "exited")
        if os.getpid() == self._started_by and self.process.poll() is not None:
            return False
        try:
            return bool(self._command("ping").get("pong"))
        except SandboxDied:
            return False

    def share_cpu(self) -> None:
        """Run the calling thread on this sandbox's CPU, if it has one (the grader's worker that talks to it)."""
        if self.cpu is not None:
            os.sched_setaffinity(0, {self.cpu})

    def restart(self) -> None:
        """A new fork server in a new sandbox, after a submission killed the old one (the twin goes on)."""
        self._close()
        self.start()

    def spawn(self) -> "Executor":
        if not self.started:
            self.start()
        ours, theirs = socket.socketpair()
        try:
            reply = self._command("spawn", [theirs.fileno()])
        finally:
            theirs.close()
        if "pid" not in reply:
            ours.close()
            raise SandboxDied(reply.get("error", "the sandbox started no process"))
        self.used = True
        return Executor(self, ours, reply["pid"])

    def kill(self, pid: int) -> None:
        try:
            self._command(f"kill {pid}")
        except SandboxDied:
            pass

    def reap(self) -> int:
        """Kill everything submissions left running in the sandbox (and its twin) and empty its scratch folder. One
        in which no process started since it was last reaped has nothing of a submission: most notebooks never use
        the one with torch (grader.StudentSession)."""
        killed = 0
        if self.by_hand is not None:
            try:
                killed += self.by_hand.reap()
            except SandboxDied:  # a submission killed it: started anew, empty
                self.by_hand.restart()
        if self.used:
            killed += self._command("reap")["killed"]
            self.used = False
        return killed

    def close(self) -> None:
        """Stop the fork server; the twin too, unless only this one is restarted (restart)."""
        self._close()
        if self.by_hand is not None:
            self.by_hand.close()

    def let_go(self) -> None:
        """Close this process's copies of the lines to the fork servers: a forked worker's, of another worker's
        sandbox."""
        for box in (self, self.by_hand):
            if box is not None and box.started:
                box.control.close()

    def close_started_here(self) -> None:
        """Stop the fork servers this process started (a deferred one, or one it restarted); those another process
        started are that process's to stop (a forked worker cannot wait for them, nor should it remove their
        files)."""
        for box in (self, self.by_hand):
            if box is not None and box.started and box._started_by == os.getpid():
                box._close()

    def _close(self) -> None:
        if not self.started:
            return
        try:
            self.control.close()
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
            if self._tmp is not None:
                self._tmp.cleanup()
            _open_cgroups.discard(self.cgroup)  # removed once empty (see _sweep_cgroups)
            self.process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


REPLY_BYTES = 64 * 1024 ** 2           # the most a reply of the student's process may be, arrays included
REPLY_TREE_BYTES = 4 * 1024 ** 2       # ... and of its values outside arrays (see wire.receive)
ERROR_TEXT_CHARACTERS = 4000           # of an error message or traceback from the student's process
OUTPUT_PER_PROCESS = 16                # the student's process may print this many times Limits.output_bytes


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[:max(room, 0)] + f"\n[cut: {len(text) - max(room, 0)} more characters]"


MAX_STAND_IN_ANSWER_BYTES = 16 * 1024 ** 2
MAX_STAND_IN_QUESTIONS = 10_000  # per call of a student function


def _stand_in_answer(stand_in, question: dict) -> bytes:
    """The answer to a student process's question for a stand-in, encoded for the wire: {"ok": True, "result": plain
    data} or an error. Only names lent for this call are answered; answers are size-limited (measured on the encoded
    answer, which is then sent as it is: an 01 notebook asks about 300 questions)."""
    name, args, kwargs = question.get("name"), question.get("args"), question.get("kwargs")
    if type(name) is not str or type(args) is not list or type(kwargs) is not dict:
        return wire.encode({"ok": False, "error": "a malformed question"})
    try:
        result = stand_in(name, tuple(args), kwargs)
        answer = wire.encode({"ok": True, "result": result})
        if len(answer) > MAX_STAND_IN_ANSWER_BYTES:
            return wire.encode({"ok": False, "error": f"the answer of {name} is over {MAX_STAND_IN_ANSWER_BYTES} "
                                                      "bytes"})
        return answer
    except KeyError:
        return wire.encode({"ok": False, "error": f"no stand-in for {name} in this call"})
    except Exception as error:  # StudentError: a wrong call of the stand-in; the student's function sees it raise
        return wire.encode({"ok": False, "error": f"{type(error).__name__}: {error}"})


@functools.lru_cache(maxsize=4096)
def _marshalled_cell(source: str, name: str) -> bytes | None:
    try:
        return marshal.dumps(compile(source, name, "exec", dont_inherit=True))
    except Exception:  # SyntaxError, RecursionError, ValueError (a null byte): the student's process says which
        return None


def compiled_cell(source: str, name: str) -> np.ndarray | None:
    """A cell's code as the student's process compiles it (runner.cell_code), marshalled into a uint8 array for
    the wire, or None where it does not compile. Compiled once per worker: most cells are the same in every
    submission (the course's own cells, and answers as released), and the process with torch and the one without
    both run each cell."""
    marshalled = _marshalled_cell(source, name)
    return None if marshalled is None else np.frombuffer(marshalled, dtype=np.uint8)


class Executor:
    """One submission's student process: a namespace in which cells run and functions are called.

    The limits on what its replies carry are applied here, outside it (runner.py caps output too, but the student's
    code can change anything in its own process).
    """

    def __init__(self, sandbox: Sandbox, sock: socket.socket, pid: int):
        self.sandbox, self.sock, self.pid = sandbox, sock, pid
        self.dead = False
        self.output_left = OUTPUT_PER_PROCESS * sandbox.limits.output_bytes

    def _capped(self, reply: dict) -> dict:
        for key in ("error", "traceback", "torch", "torch_look"):
            if type(reply.get(key)) is str:
                reply[key] = _cut(reply[key], ERROR_TEXT_CHARACTERS)
        if type(reply.get("stdout")) is str:
            stdout = _cut(reply["stdout"], min(self.sandbox.limits.output_bytes, self.output_left))
            self.output_left -= len(stdout)
            reply["stdout"] = stdout
        return reply

    def request(self, message: dict, timeout: float, stand_in=None) -> dict:
        """Send a request and wait for the answer; ExecutorDied when the process dies or the time runs out.

        stand_in(name, args, kwargs) -> plain data: answers the student process's questions for a stand-in during
        a call (see Executor.call), within the same time limit; its errors go back as an error answer.
        """
        if self.dead:
            raise ExecutorDied("the student process is no longer running")
        deadline = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        try:
            wire.send(self.sock, message)
            reply = wire.receive(self.sock, limit=REPLY_BYTES, tree_limit=REPLY_TREE_BYTES)
            questions = 0
            while stand_in is not None and type(reply) is dict and reply.get("op") == "stand_in":
                questions += 1
                wire.send_encoded(self.sock, _stand_in_answer(stand_in, reply) if questions <= MAX_STAND_IN_QUESTIONS
                                  else wire.encode({"ok": False, "error": f"more than {MAX_STAND_IN_QUESTIONS} "
                                                                          "questions in one call"}))
                self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
                reply = wire.receive(self.sock, limit=REPLY_BYTES, tree_limit=REPLY_TREE_BYTES)
        except socket.timeout:
            self.kill()
            raise ExecutorTimedOut(f"no answer within {timeout:g} s (an endless loop?)") from None
        except (EOFError, OSError) as error:
            self.kill()
            raise ExecutorDied(f"the student process ended ({error.__class__.__name__})") from None
        except wire.WireError as error:
            self.kill()
            raise ExecutorDied(f"the student process sent malformed data: {error}") from None
        if type(reply) is not dict:
            self.kill()
            raise ExecutorDied("the student process sent malformed data")
        return self._capped(reply)

    def exec_cell(self, source: str, name: str, timeout: float) -> dict:
        return self.request({"op": "exec", "source": source, "name": name, "code": compiled_cell(source, name)},
                            timeout)

    def describe(self, names: list[str], timeout: float) -> dict:
        return self.request({"op": "describe", "names": names}, timeout).get("names", {})

    def replay(self, cells: list[tuple[str, str]], timeout: float) -> dict:
        """Run (source, name) cells statement by statement, whatever fails (see runner.Executor.replay): how the
        process without torch gets the notebook's definitions. "torch" in the answer: the first use of its stand-in.
        """
        return self.request({"op": "replay", "cells": [list(cell) for cell in cells],
                             "codes": [compiled_cell(source, name) for source, name in cells]}, timeout)

    def call(self, name: str, args: tuple, kwargs: dict, by_hand: bool, timeout: float,
             stand_ins: dict | None = None) -> dict:
        """Call a student function. stand_ins: name -> stand_in(name, args, kwargs), the course's version of another
        function, computed here when the student's function calls that name (the student's process gets a stub
        that asks, see runner.Executor.stand_in). by_hand: the function is graded by hand, which only a process of
        the sandbox without torch may call ("torch" in the answer: the first use of torch's stand-in)."""
        if by_hand and self.sandbox.torch:
            raise ValueError(f"{name} is graded by hand: call it in an executor of Sandbox.by_hand, without torch")
        message = {"op": "call", "name": name, "args": list(args), "kwargs": kwargs}
        if not stand_ins:
            return self.request(message, timeout)
        message["stand_ins"] = sorted(stand_ins)
        return self.request(message, timeout, stand_in=lambda asked, a, k: stand_ins[asked](asked, a, k))

    def kill(self) -> None:
        if not self.dead:
            self.dead = True
            self.sandbox.kill(self.pid)
            self.sock.close()
