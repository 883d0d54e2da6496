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


# --- a fork server with torch only where a notebook needs it (Sandbox deferred, course grade) --------------------

def test_a_deferred_fork_server_with_torch_starts_at_its_first_spawn():
    with Sandbox(deferred=True) as sandbox:
        sandbox.wait_ready()  # its twin's warm-up
        assert not sandbox.started and sandbox.by_hand.started
        assert sandbox.reap() == 0 and not sandbox.alive()
        executor = sandbox.spawn()
        assert sandbox.started and sandbox.alive()
        assert executor.exec_cell("import torch\nprint(float(torch.ones(2).sum()))", "cell", 30)["stdout"] == "2.0\n"
        executor.kill()
        sandbox.reap()
        sandbox.close_started_here()  # both started in this process
        assert not sandbox.started and not sandbox.by_hand.started


def test_the_prediction_of_torch_is_what_the_released_notebooks_show():
    """needs_torch reads the source notebooks without their solutions: it says what the release, as nbgrader makes
    it, shows the student's process."""
    from autograder.grading import course_grade, engine
    from autograder.grading.grader import shows_torch
    from autograder import notebooks as nbs

    for assignment in nbs.assignments(course_grade.SOURCE_ROOT):
        released = any(shows_torch(engine.release_version(nbs.read_notebook(path)))
                       for path in nbs.assignment_notebooks(course_grade.SOURCE_ROOT, assignment))
        assert course_grade.needs_torch(assignment) == released, assignment


def test_a_solution_that_names_torch_does_not_make_an_assignment_need_it(tmp_path, monkeypatch):
    import nbformat

    from autograder.grading import course_grade

    answer = {"nbgrader": {"grade": True, "grade_id": "a", "points": 1, "solution": True, "locked": False}}

    def assignment(name: str, source: str) -> str:
        (tmp_path / name).mkdir()
        cells = [nbformat.v4.new_code_cell("import numpy as np\nimport torch"),
                 nbformat.v4.new_code_cell(source, metadata=answer)]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / name / f"{name}.ipynb")
        return name

    monkeypatch.setattr(course_grade, "SOURCE_ROOT", tmp_path)
    solved_with_torch = "def f(x):\n    ### BEGIN SOLUTION\n    return torch.relu(x)\n    ### END SOLUTION"
    assert not course_grade.needs_torch(assignment("solution", solved_with_torch))
    assert course_grade.needs_torch(assignment("stub", "def f(x):\n    t = torch.as_tensor(x)\n    raise NotImplementedError"))


def gone(pid: int) -> bool:
    """The process has ended (a zombie that its parent has not waited for yet counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.parametrize("unsafe", [False, True], ids=["sandboxed", "unsafe"])
def test_a_run_whose_notebooks_do_not_name_torch_starts_torch_only_for_a_submission_that_uses_it(
        tmp_path, monkeypatch, unsafe):
    """Its sandboxes start without their fork servers with torch; the worker that meets a submission that uses torch
    starts its own, grades it as the others, and that fork server ends with the worker (without bubblewrap too)."""
    import os
    import time

    import nbformat
    from nbgrader.api import Gradebook

    from autograder import notebooks as nbs
    from autograder.course_dir import SOURCE_ROOT, course_id, nbgrader
    from autograder.grading import course_grade
    from autograder.grading.sandbox import worker
    from autograder.instructor.submissions import fill_solutions

    assignment = next((a for a in nbs.assignments(SOURCE_ROOT) if not course_grade.needs_torch(a)), None)
    if assignment is None:
        pytest.skip("every assignment names torch")
    nbgrader(tmp_path, "generate_assignment", assignment, "--force", quiet=True)
    students = {"plain": [], "with-torch": ["import torch\n_ones = float(torch.ones(3).sum())\n"]}
    for student, lines in students.items():
        for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
            solved = fill_solutions(nbs.read_notebook(tmp_path / "release" / assignment / path.name),
                                    nbs.read_notebook(path))
            answer = next(c for c in solved.cells if nbs.is_solution(c) and c.cell_type == "code")
            answer.source = "".join(lines) + answer.source
            (tmp_path / "submitted" / student / assignment).mkdir(parents=True, exist_ok=True)
            nbformat.write(solved, tmp_path / "submitted" / student / assignment / path.name)
    started_in = tmp_path / "started_in"
    start = worker.Sandbox.start

    def logged_start(sandbox, wait=True):
        start(sandbox, wait)
        with open(started_in, "a") as log:  # the workers are forked: they log to a file
            log.write(f"{os.getpid()} {sandbox.process.pid}\n")

    monkeypatch.setattr(worker.Sandbox, "start", logged_start)
    report = course_grade.run(tmp_path, [assignment], course_id(), jobs=2, progress=False, unsafe=unsafe)
    assert report.graded == 2 and not report.crashed
    starts = [line.split() for line in started_in.read_text().splitlines()] if started_in.exists() else []
    assert len(starts) == 1 and int(starts[0][0]) != os.getpid()  # once, in the worker that graded "with-torch"
    deadline = time.monotonic() + 10
    while not gone(int(starts[0][1])):  # its line to the worker closed as the worker left
        assert time.monotonic() < deadline, "the fork server the worker started outlived it"
        time.sleep(0.05)
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        graded = {student: {(g.notebook.name, g.name): (g.auto_score, g.max_score)
                            for n in gradebook.find_submission(assignment, student).notebooks for g in n.grades
                            if g.auto_score is not None} for student in students}
    assert graded["plain"] == graded["with-torch"] and all(got == most for got, most in graded["plain"].values())
