"""A cell's code reaches the student's process compiled by the grader (worker.compiled_cell), once per worker for
the cells every submission shares, and runs as a notebook's kernel runs it: without the grader's or the runner's
own `from __future__` imports."""

from __future__ import annotations

import marshal

import numpy as np
import pytest

from autograder.grading.sandbox.worker import Sandbox, bubblewrap_problem, compiled_cell

SOURCES = ["x = 1", "def f(x: int) -> int:\n    return x + 1", "from __future__ import annotations\ndef g(y: Y): pass",
           "class C:\n    z: list\nprint(C.__annotations__)", "async def h():\n    return 1", "lambda: (yield)"]


@pytest.mark.parametrize("source", SOURCES)
def test_the_grader_compiles_a_cell_as_a_kernel_does(source):
    code = marshal.loads(compiled_cell(source, "cell-3").tobytes())
    assert code == compile(source, "cell-3", "exec", dont_inherit=True) and code.co_filename == "cell-3"


def test_a_cell_that_does_not_compile_goes_as_source():
    assert compiled_cell("def f(:\n    pass", "cell-1") is None
    assert compiled_cell("x = 1\0", "cell-1") is None


@pytest.fixture(scope="module")
def executor():
    with Sandbox(unsafe=bubblewrap_problem() is not None, deferred=True) as sandbox:
        executor = sandbox.by_hand.spawn()
        yield executor
        executor.kill()


def test_annotations_are_evaluated_as_in_the_notebook(executor):
    """The runner's own `from __future__ import annotations` does not reach the student's cells."""
    reply = executor.exec_cell("def f(x: int) -> float:\n    return x\nprint(f.__annotations__)", "cell-1", 30)
    assert reply["stdout"] == "{'x': <class 'int'>, 'return': <class 'float'>}\n"
    reply = executor.exec_cell("from __future__ import annotations\ndef g(x: int): pass\nprint(g.__annotations__)",
                               "cell-2", 30)
    assert reply["stdout"] == "{'x': 'int'}\n"  # the cell's own future import counts
    assert executor.replay([("def r(x: int): pass\nprint(r.__annotations__)", "cell-3")], 30)["ok"]
    assert executor.exec_cell("print(r.__annotations__)", "cell-4", 30)["stdout"] == "{'x': <class 'int'>}\n"


def test_a_syntax_error_is_reported_by_the_student_s_process(executor):
    assert executor.exec_cell("def f(:\n    pass", "cell-5", 30)["error"].startswith("SyntaxError: ")


@pytest.mark.parametrize("code", [np.frombuffer(b"not marshal", dtype=np.uint8), compiled_cell("y = 0", "cell-0"),
                                  np.frombuffer(marshal.dumps(("y", 0)), dtype=np.uint8)],
                         ids=["not marshal data", "another cell's code", "not code"])
def test_code_the_process_cannot_use_is_compiled_from_the_source(executor, code):
    source = "def k(y: int):\n    return y\nprint(k(2), k.__annotations__)"
    reply = executor.request({"op": "exec", "source": source, "name": "cell-6", "code": code}, 30)
    assert reply["ok"] and reply["stdout"] == "2 {'y': <class 'int'>}\n"  # compiled as a kernel compiles it
