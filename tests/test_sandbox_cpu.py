"""A worker and its sandbox share one CPU when there are CPUs enough (see grading.cpu_plan)."""

from __future__ import annotations

import os
import re
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.grading.course_grade import cpu_plan, usable_cpus
from autograder.grading.sandbox.worker import Sandbox, bubblewrap_problem

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this system")

# Runs in the executor: the CPUs it and the fork server (its parent) may run on.
PROBE = """
import os
own = sorted(os.sched_getaffinity(0))
server = open(f"/proc/{os.getppid()}/status").read()
"""


@given(st.sets(st.integers(0, 63), min_size=1, max_size=16), st.integers(1, 20))
def test_each_worker_gets_a_cpu_of_its_own_when_there_are_enough(usable, jobs):
    plan = cpu_plan(jobs, usable)
    assert len(plan) == jobs
    if jobs <= len(usable):
        assert len(set(plan)) == jobs and set(plan) <= usable
    else:  # more workers than CPUs: the system places them
        assert plan == [None] * jobs


def test_no_cpus_known_means_no_plan():
    assert cpu_plan(2, set()) == [None, None]


@pytest.mark.parametrize("unsafe", [False, True], ids=["bubblewrap", "unsafe"])
def test_the_fork_server_its_executors_and_the_worker_run_on_the_sandboxs_cpu(unsafe):
    if not unsafe and bubblewrap_problem():
        pytest.skip(f"no sandbox: {bubblewrap_problem()}")
    cpu = max(usable_cpus())
    before = os.sched_getaffinity(0)
    with Sandbox(unsafe=unsafe, cpu=cpu) as sandbox:
        assert os.sched_getaffinity(0) == before  # starting it did not move the caller
        executor = sandbox.spawn()
        assert executor.exec_cell(PROBE, "probe", timeout=10)["ok"]
        found = executor.describe(["own", "server"], timeout=10)
        executor.kill()
        worker_cpus = []
        thread = threading.Thread(target=lambda: (sandbox.share_cpu(), worker_cpus.append(os.sched_getaffinity(0))))
        thread.start()
        thread.join()
    assert found["own"]["value"] == [cpu]
    assert re.search(r"Cpus_allowed_list:\s+(\S+)", found["server"]["value"]).group(1) == str(cpu)
    assert worker_cpus == [{cpu}]
    assert os.sched_getaffinity(0) == before  # share_cpu moved only the thread that asked


def test_a_sandbox_without_a_cpu_runs_where_its_starter_may():
    with Sandbox(unsafe=True) as sandbox:
        executor = sandbox.spawn()
        assert executor.exec_cell(PROBE, "probe", timeout=10)["ok"]
        own = executor.describe(["own"], timeout=10)["own"]["value"]
        executor.kill()
    assert set(own) == os.sched_getaffinity(0)
