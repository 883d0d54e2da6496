"""The sandbox's memory settings take effect inside bubblewrap (see FORK_FRIENDLY_MEMORY in sandbox/worker.py).

The warm fork server's heap sits on transparent huge pages, so that each fork copies short page tables; executors
get their own new memory in small pages. Both depend on things the sandbox must show or pass on (the huge-page
settings under /sys, the environment, the prctl before forking), which a change to the bubblewrap command can lose
without any grade changing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.grading.sandbox.worker import FORK_FRIENDLY_MEMORY, Sandbox, bubblewrap_problem

HUGE_PAGES = Path("/sys/kernel/mm/transparent_hugepage/enabled")
pytestmark = [pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox: {bubblewrap_problem()}"),
              pytest.mark.skipif(not HUGE_PAGES.exists() or "[never]" in HUGE_PAGES.read_text(),
                                 reason="the kernel gives no transparent huge pages here")]

# Runs in the executor: its own huge-page switch and environment. The fork server's memory is read from outside
# the sandbox (inside, no process may read it: see runner.not_dumpable).
PROBE = """
import os, sys
own_status = open("/proc/self/status").read()
tunables = os.environ.get("GLIBC_TUNABLES")
inherited = sorted(m for m in ("sympy", "course.reuse") if m in sys.modules)
"""


def fork_server_memory(sandbox) -> str:
    """The fork server's /proc/<pid>/smaps_rollup, found among the descendants of bubblewrap."""
    pids, seen = [sandbox.process.pid], []
    while pids:
        pid = pids.pop()
        seen.append(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    for pid in seen:
        if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-s", b"/runner/runner.py"]:
            try:
                return Path(f"/proc/{pid}/smaps_rollup").read_text()
            except PermissionError:
                pytest.skip("the fork server's memory can be read only with CAP_SYS_PTRACE (as root)")
    raise AssertionError("no fork server among the sandbox's processes")


def test_the_fork_server_heap_is_on_huge_pages_and_executors_take_none_for_new_memory():
    with Sandbox() as sandbox:
        executor = sandbox.spawn()
        assert executor.exec_cell(PROBE, "probe", timeout=10)["ok"]
        found = executor.describe(["own_status", "tunables", "inherited"], timeout=10)
        executor.kill()
        server_memory = fork_server_memory(sandbox)
    values = {name: found[name]["value"] for name in found}
    values["server_memory"] = server_memory
    huge_kb = int(re.search(r"AnonHugePages:\s+(\d+) kB", values["server_memory"]).group(1))
    anonymous_kb = int(re.search(r"Anonymous:\s+(\d+) kB", values["server_memory"]).group(1))
    assert huge_kb > anonymous_kb / 2, (huge_kb, anonymous_kb)  # most of torch's ~170 MB heap
    assert re.search(r"THP_enabled:\s+0", values["own_status"])
    assert values["tunables"] == FORK_FRIENDLY_MEMORY["GLIBC_TUNABLES"]
    # what torch imports on the first out.backward(dout) (sympy, 0.35 s) and the reuse helpers come warm with the
    # fork, rather than imported again by the executor of every notebook whose visible checks use them
    assert values["inherited"] == ["course.reuse", "sympy"]
