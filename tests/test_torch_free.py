"""The process without torch in which `course grade` calls functions graded by hand (Sandbox.by_hand).

Each path is a notebook's cells and a function that, where torch is reachable, returns 2.0 computed by torch. In
the process without torch every one fails, or finds nothing; a function by hand with numpy is called as usual.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.grading.sandbox.worker import Sandbox, bubblewrap_problem, torch_files

pytestmark = [pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox: {bubblewrap_problem()}")]

BY_TORCH = "float(t.tensor([1.0, 1.0]).sum())"  # 2.0, if t is torch
SITE = "import os, numpy\nsite = os.path.dirname(os.path.dirname(numpy.__file__))\n"

PATHS = {
    "import torch": ("import torch as t", f"def f():\n    return {BY_TORCH}"),
    "bound by assignment": ("import torch as t\ndef by_torch():\n    return " + BY_TORCH, "f = by_torch"),
    "import_module renamed": ("from importlib import import_module as load",
                              f"def f():\n    t = load('torch')\n    return {BY_TORCH}"),
    "__import__ of a computed name": ("", f"def f():\n    t = __import__('to' + 'rch')\n    return {BY_TORCH}"),
    "__import__ renamed": ("load = __import__", f"def f():\n    t = load('to' + 'rch')\n    return {BY_TORCH}"),
    "sys.modules of an earlier cell": ("from sys import modules as loaded",
                                       f"def f():\n    t = loaded['torch']\n    return {BY_TORCH}"),
    "another package's re-export": ("from scipy._lib.array_api_compat.torch._aliases import torch as t",
                                    f"def f():\n    return {BY_TORCH}"),
    "the stand-in taken out of the way": (
        "import sys", f"def f():\n    del sys.meta_path[0]\n    sys.modules.pop('torch', None)\n    import torch as t\n"
                      f"    return {BY_TORCH}"),
    "torch's files by path": (SITE + "import importlib.util", (
        "def f():\n    spec = importlib.util.spec_from_file_location('t', os.path.join(site, 'torch', '__init__.py'))\n"
        "    t = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(t)\n"
        f"    return {BY_TORCH}")),
    "torch's library by ctypes": (SITE + "import ctypes", (
        "def f():\n    lib = ctypes.CDLL(os.path.join(site, 'torch', 'lib', 'libtorch_cpu.so'))\n    return 2.0")),
    "a new Python process": ("import subprocess, sys", (
        "def f():\n    done = subprocess.run([sys.executable, '-c', 'import torch as t; print(" + BY_TORCH + ")'],\n"
        "                          capture_output=True, text=True)\n    return float(done.stdout)")),
}


@pytest.fixture(scope="module")
def without_torch():
    with Sandbox(torch=False) as sandbox:
        yield sandbox


@pytest.fixture
def executor(without_torch):
    executor = without_torch.spawn()
    yield executor
    executor.kill()
    without_torch.reap()


@pytest.mark.parametrize("path", PATHS)
def test_a_function_graded_by_hand_cannot_reach_torch(executor, path):
    cells = [(source, f"cell-{i}") for i, source in enumerate(PATHS[path]) if source]
    executor.replay(cells, timeout=30)
    reply = executor.call("f", (), {}, by_hand=True, timeout=30)
    assert not reply.get("ok"), (path, reply)


# where torch is, these paths reach it (the others would change or start a process: they are shown in the sandbox)
LEAVE_THIS_PROCESS_AS_IT_IS = {"the stand-in taken out of the way", "torch's files by path", "a new Python process"}


@pytest.mark.parametrize("path", [p for p in PATHS if p not in LEAVE_THIS_PROCESS_AS_IT_IS])
def test_each_path_reaches_torch_where_torch_is(path):
    import torch  # noqa: F401  (in the student's kernel an earlier cell has imported it)

    namespace = {"__name__": "__main__"}
    for source in PATHS[path]:
        exec(source, namespace)
    assert namespace["f"]() == 2.0


def test_torch_s_files_are_not_there(executor):
    """Not a file of torch's distribution is readable in the sandbox (folders are empty, files empty)."""
    paths = [str(p) for p in torch_files()]
    assert any(p.endswith("/torch") for p in paths)
    executor.replay([("import os\ndef f(paths):\n    return [p for p in paths if os.path.isdir(p) and os.listdir(p) "
                      "or os.path.isfile(p) and os.path.getsize(p)]", "cell")], timeout=30)
    assert executor.call("f", (paths,), {}, by_hand=True, timeout=30) == {"ok": True, "result": [], "stdout": ""}


def test_torch_s_files_are_every_top_level_entry_its_distribution_lists():
    """torch_files reads the distribution's RECORD as text (fast); it names what Distribution.files names."""
    import importlib.metadata

    distribution = importlib.metadata.distribution("torch")
    site = Path(distribution.locate_file("")).resolve()
    tops = {Path(str(f)).parts[0] for f in distribution.files} - {".."}
    assert torch_files() == sorted(site / top for top in tops if (site / top).exists())
    assert {p.name for p in torch_files()} >= {"torch", "torchgen"}


def test_a_use_of_the_stand_in_is_named_even_when_caught(executor):
    executor.replay([("import numpy as np\nimport torch\nimport torch.nn.functional as F\n"
                      "def f(x):\n    try:\n        return F.relu(x)\n    except Exception:\n"
                      "        return np.maximum(x, 0)", "cell")], timeout=30)
    reply = executor.call("f", ([1.0, -1.0],), {}, by_hand=True, timeout=30)
    assert reply.get("torch") == "torch.nn.functional.relu" and not reply.get("ok")


def test_the_notebook_s_definitions_survive_its_torch_lines(executor):
    """A cell's statements that fail there (torch's, or any) are passed over: what comes after them is defined."""
    executor.replay([("import numpy as np\nimport torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
                      "if torch.cuda.is_available():\n    device = 'cuda'\nscale = 1.0\nraise ValueError('mine')\n"
                      "def relu(x):\n    return scale * np.maximum(x, 0)", "setup"), ("def broken(:", "syntax"),
                     ("offset = 0.5", "later")], timeout=30)
    reply = executor.call("relu", ([1.0, -1.0],), {}, by_hand=True, timeout=30)
    assert reply["ok"] and reply["result"].tolist() == [1.0, 0.0]
    assert executor.describe(["offset", "device"], timeout=30) == {"offset": {"kind": "value", "value": 0.5}}


def test_only_the_process_without_torch_calls_a_function_graded_by_hand():
    """The grader cannot call a function graded by hand where torch is (Executor.call refuses)."""
    from autograder.grading.sandbox.worker import Executor, Limits

    class WithTorch:
        torch, limits = True, Limits()

    with pytest.raises(ValueError, match="by hand"):
        Executor(WithTorch(), None, 0).call("f", (), {}, by_hand=True, timeout=1)


# --- which process runs a notebook's cells (grader.StudentSession) ----------------------------------------------

@pytest.fixture
def session():
    """A student's session in a sandbox of its own: the test reads which of its two processes ran what."""
    from autograder.grading.grader import StudentSession, Timeouts

    with Sandbox() as sandbox:
        student = StudentSession(sandbox, Timeouts(cell_seconds=30))
        yield student
        student.close()


def ran_without_torch(session) -> bool:
    return session.torch_free and session.executor.sandbox is session.sandbox.by_hand


NUMPY_ONLY = "import numpy as np\ndef relu(x):\n    return np.maximum(x, 0)\nscale = 2.0"


def test_a_notebook_that_never_uses_torch_runs_in_the_process_without_torch_alone(session):
    assert session.run_cell(NUMPY_ONLY, "answer")["ok"]
    assert session.run_cell("assert relu(-1.0) == 0.0\nprint('checked')", "visible")["stdout"] == "checked\n"
    assert session.call("relu", ([1.0, -1.0],), {}, True)["result"].tolist() == [1.0, 0.0]
    assert session.call("relu", ([3.0],), {}, False)["result"].tolist() == [3.0]
    assert ran_without_torch(session) and session.by_hand_executor is None
    assert not session.sandbox.used  # the process with torch never started


@pytest.mark.parametrize("cell, kept", [
    # names torch: moved before it runs there, so that process goes on for the functions graded by hand
    ("import torch\nvalue = float(torch.tensor([scale]).sum())", True),
    # does not: moved when it uses torch, after part of it ran there
    ("t = __import__('to' + 'rch')\nvalue = float(t.tensor([scale]).sum())", False),
    # imports torch, and only a look at a dunder (not a use by a function graded by hand) shows it wants torch
    ("import torch as t\nvalue = 2.0 if t.__version__ else 0.0", False),
])
def test_a_cell_that_needs_torch_runs_with_torch_after_the_cells_before_it(session, cell, kept):
    assert session.run_cell(NUMPY_ONLY, "answer")["ok"]
    without_torch = session.executor
    reply = session.run_cell(cell + "\nprint('ran')", "with torch")
    assert reply["ok"] and reply["stdout"] == "ran\n", reply  # what it printed without torch is not kept
    assert session.describe(["value", "scale"]) == {"value": {"kind": "value", "value": 2.0},
                                                   "scale": {"kind": "value", "value": 2.0}}
    assert not session.torch_free and session.executor.sandbox is session.sandbox
    # functions graded by hand are now called in a process without torch: the one that ran the cells before, or
    # one of their own, into which every cell is replayed
    assert session.call("relu", ([1.0, -1.0],), {}, True)["result"].tolist() == [1.0, 0.0]
    assert session.by_hand_executor.sandbox is session.sandbox.by_hand
    assert (session.by_hand_executor is without_torch) == kept and without_torch.dead != kept


def test_importing_torch_alone_leaves_the_cells_without_torch(session):
    assert session.run_cell("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n" + NUMPY_ONLY,
                            "setup")["ok"]
    assert session.run_cell("assert relu(-2.0) == 0.0", "visible")["ok"]
    assert ran_without_torch(session)


def test_a_function_not_graded_by_hand_that_uses_torch_is_called_with_torch(session):
    uses_torch = "def total(values):\n    t = __import__('to' + 'rch')\n    return float(t.tensor(values).sum())"
    assert session.run_cell(NUMPY_ONLY + "\n" + uses_torch, "answer")["ok"]
    assert ran_without_torch(session)
    assert session.call("total", ([1.0, 2.0],), {}, False)["result"] == 3.0
    assert not session.torch_free
    by_hand = session.call("total", ([1.0, 2.0],), {}, True)  # graded by hand, it still cannot reach torch
    assert not by_hand["ok"] and by_hand["torch"] == "torch.tensor"


def test_a_function_graded_by_hand_cannot_reach_torch_while_the_cells_run_without_it(session):
    assert session.run_cell("def total(values):\n    t = __import__('to' + 'rch')\n"
                            "    return float(t.tensor(values).sum())", "answer")["ok"]
    reply = session.call("total", ([1.0, 2.0],), {}, True)
    assert not reply["ok"] and reply["torch"] == "torch.tensor" and ran_without_torch(session)


def test_a_notebook_starts_with_torch_when_a_cell_the_student_process_runs_names_it():
    """Not its imports, hidden tests (run in the grader) or experiments (not run): a use in any other cell."""
    import nbformat

    from autograder.grading.grader import shows_torch

    def notebook(source: str, **metadata):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch\nimport numpy as np"),
                                               nbformat.v4.new_code_cell(source, metadata=metadata)])

    test = {"nbgrader": {"grade": True, "grade_id": "t", "points": 1, "solution": False, "locked": True}}
    hidden = "### BEGIN HIDDEN TESTS\nassert torch.ones(1)\n### END HIDDEN TESTS"
    assert not shows_torch(notebook("x = np.ones(1)"))
    assert not shows_torch(notebook("assert x.sum() == 1\n" + hidden, **test))
    assert not shows_torch(notebook("y = torch.ones(1)", tags=["experiment"]))
    assert shows_torch(notebook("y = torch.ones(1)"))
    assert shows_torch(notebook("assert float(torch.ones(1)) == 1.0\n" + hidden, **test))
