"""What an executor's first uses of torch's autograd and of threadpoolctl cost, by how its fork server warmed up.

An executor is a fresh fork of the warm fork server (grading/sandbox/runner.py): whatever it writes of the server's
memory it copies first, a page at a time. How the server's objects lie in memory therefore decides what a
submission's first calls cost. This script warms a process up as the fork server does (runner.warm_up) and forks
ROUNDS children from it, each of which trains a small network with autograd (as 02_initialization's checks do) and
calls threadpool_limits(1) (as the notebooks of 03 and 04 do); it prints their median time and minor page faults:
- "as now": runner.warm_up as it is;
- "sympy after torch": without runner.IMPORTED_FIRST (torch then imports sympy in the middle of the warm-up);
- "threadpoolctl cold": without runner.warm_threadpoolctl.
Each setting runs in a process of its own, with the fork server's memory settings (worker.FORK_FRIENDLY_MEMORY).

    .venv/bin/python benchmarks/executor_first_use.py
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 15
SETTINGS = ("as now", "sympy after torch", "threadpoolctl cold")
RUNNER_FOLDER = Path(__file__).resolve().parent.parent / "autograder" / "grading" / "sandbox"


def train_two_layer(steps: int = 100) -> None:
    """Full-batch gradient descent on a 4-6-2 tanh network by autograd, as a notebook's visible check does."""
    import torch

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 4, generator=generator, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64)
    w1 = torch.full((6, 4), 0.3, dtype=torch.float64, requires_grad=True)
    w2 = torch.full((2, 6), -0.2, dtype=torch.float64, requires_grad=True)
    for _ in range(steps):
        loss = torch.mean((torch.tanh(x @ w1.T) @ w2.T - y) ** 2)
        loss.backward()
        with torch.no_grad():
            for weight in (w1, w2):
                weight -= 0.2 * weight.grad
                weight.grad.zero_()


def measure(setting: str) -> None:
    """In this process: warm up as the fork server does in `setting`, then time ROUNDS forked children."""
    sys.path.insert(0, str(RUNNER_FOLDER))
    import runner

    if setting == "sympy after torch":
        runner.IMPORTED_FIRST = ()
    elif setting == "threadpoolctl cold":
        runner.warm_threadpoolctl = lambda: None
    gc.disable()
    runner.warm_up()
    gc.freeze()
    gc.enable()
    runner.no_new_huge_pages()
    from threadpoolctl import threadpool_limits

    rows = []
    for _ in range(ROUNDS):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            started = time.perf_counter()
            train_two_layer()
            trained = time.perf_counter()
            trained_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            threadpool_limits(1)
            done = time.perf_counter()
            os.write(write, (f"{1e3 * (trained - started)} {trained_faults - faults} {1e3 * (done - trained)} "
                             f"{resource.getrusage(resource.RUSAGE_SELF).ru_minflt - trained_faults}").encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as answer:
            rows.append([float(v) for v in answer.read().split()])
        os.waitpid(pid, 0)
    train_ms, train_faults, pool_ms, pool_faults = (statistics.median(column) for column in zip(*rows))
    print(f"  {setting:20} first training {train_ms:5.1f} ms, {train_faults:5.0f} page faults; "
          f"threadpool_limits(1) {pool_ms:4.1f} ms, {pool_faults:4.0f} page faults")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--setting":
        measure(sys.argv[2])
        return 0
    from autograder.grading.sandbox.worker import FORK_FRIENDLY_MEMORY

    print(f"an executor's first calls, median of {ROUNDS} forks of a process warmed up as the fork server "
          "(with its memory settings):")
    for setting in SETTINGS:
        done = subprocess.run([sys.executable, __file__, "--setting", setting],
                              env={**os.environ, **FORK_FRIENDLY_MEMORY})
        if done.returncode != 0:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
