"""What one executor costs the sandbox's fork server: fork, a little work, exit; with and without the memory settings
the sandbox uses (sandbox/worker.py, FORK_FRIENDLY_MEMORY).

A process that has imported torch holds ~170 MB of anonymous memory. fork copies its page tables, and the child's
exit tears them down; glibc malloc on transparent huge pages makes those tables far shorter. With the settings, the
warm process also turns huge pages off for new memory before it forks, as the fork server does.

    .venv/bin/python benchmarks/fork_cost.py
"""

from __future__ import annotations

import gc
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 40


def measure(as_fork_server: bool) -> None:
    """In a warm process (as the fork server is): fork ROUNDS children that do a little torch, and time them."""
    import matplotlib.pyplot  # noqa: F401
    import numpy.random  # noqa: F401
    import torch

    x = torch.ones(2, requires_grad=True)
    (x * x).sum().backward()
    gc.freeze()
    if as_fork_server:  # what the fork server does once warm
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograder" / "grading" / "sandbox"))
        from runner import no_new_huge_pages

        no_new_huge_pages()

    def work():
        t = torch.randn(10, 10, requires_grad=True)
        (t @ t).sum().backward()

    before, children, started = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    for _ in range(ROUNDS):
        pid = os.fork()
        if pid == 0:
            work()
            os._exit(0)
        os.waitpid(pid, 0)
    wall = (time.perf_counter() - started) / ROUNDS
    after, children_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    parent = (after.ru_stime - before.ru_stime + after.ru_utime - before.ru_utime) / ROUNDS
    child = (children_after.ru_stime - children.ru_stime + children_after.ru_utime - children.ru_utime) / ROUNDS
    anonymous = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("RssAnon"))
    print(f"{1000 * wall:8.1f} ms {1000 * parent:14.1f} ms {1000 * child:11.1f} ms {int(anonymous) // 1024:10d} MB")


def main() -> int:
    if sys.argv[1:2] == ["--measure"]:
        measure(as_fork_server=sys.argv[2:] == ["--as-fork-server"])
        return 0
    from autograder.grading.sandbox.worker import FORK_FRIENDLY_MEMORY

    print(f"per executor (fork, a small autograd call, exit), {ROUNDS} rounds")
    print("FORK_FRIENDLY_MEMORY: " + " ".join(f"{k}={v}" for k, v in FORK_FRIENDLY_MEMORY.items()))
    print(f"{'settings':20} {'wall':>11} {'CPU: fork server':>17} {'executor':>14} {'anonymous':>13}")
    for label, extra, flags in (("default", {}, []),
                                ("FORK_FRIENDLY_MEMORY", FORK_FRIENDLY_MEMORY, ["--as-fork-server"])):
        print(f"{label:20} ", end="", flush=True)
        subprocess.run([sys.executable, __file__, "--measure", *flags], env=dict(os.environ, **extra), check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
