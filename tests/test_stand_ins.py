"""Stand-ins: while a check runs a student's function, the course's versions of the other graded functions it calls
stand in for the student's own (framework.check(stand_ins=...)), in the kernel and under `course grade`."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks.framework import CheckFailed, check, expect_close

STUDENT = """
import numpy as np

def inner(x):
    return x * 3.0          # wrong: the course's inner doubles

def outer(x):
    return inner(x) + 1.0   # right, given a right inner

def outer_that_raises(x):
    inner(x)
    raise ValueError("boom")

def outer_that_looks(x):
    return np.array([float(inner.__name__ == "inner"), float("runner" in inner.__code__.co_filename)])
"""


def reference_inner(x):
    return 2.0 * np.asarray(x, dtype=float)


@check("outer", stand_ins={"inner": reference_inner})
def check_outer(outer, rng):
    for shape in [(3,), (2, 4)]:
        x = rng.normal(size=shape)
        expect_close("outer(x)", outer(x), 2.0 * x + 1.0)


def student_namespace() -> dict:
    namespace = {"__name__": "__main__"}
    exec(STUDENT, namespace)
    return namespace


def test_in_the_kernel_the_reference_stands_in_for_the_call_only():
    namespace = student_namespace()
    own = namespace["inner"]
    check_outer(namespace["outer"])                       # graded with the course's inner
    assert namespace["inner"] is own
    with pytest.raises(CheckFailed, match="boom"):
        check_outer(namespace["outer_that_raises"])
    assert namespace["inner"] is own                      # put back after an error, too


def test_a_wrong_call_of_a_stand_in_is_the_students_error():
    namespace = student_namespace()
    exec("def outer(x):\n    return inner(x, 'no such argument') + 1.0", namespace)
    with pytest.raises(CheckFailed, match="standing in for yours"):
        check_outer(namespace["outer"])


@pytest.fixture(scope="module")
def sandbox():
    from autograder.grading.sandbox.worker import Sandbox, bubblewrap_problem

    problem = bubblewrap_problem()
    if problem:
        pytest.skip(problem)
    with Sandbox() as box:
        yield box


def test_under_course_grade_the_student_process_gets_a_stub_that_asks_the_grader(sandbox):
    from autograder.grading.grader import RemoteHandle, StudentSession, Timeouts

    session = StudentSession(sandbox, Timeouts())
    try:
        assert session.run_cell(STUDENT, "answer")["ok"]
        check_outer(RemoteHandle(session, "outer"))
        assert session.lent == {"inner"}
        looked = session.call("outer_that_looks", (0.0,), {}, False,
                              {"inner": lambda name, args, kwargs: 0.0})["result"]
        assert looked.tolist() == [1.0, 1.0]              # a stub of the runner's, not the course's code
        with pytest.raises(CheckFailed, match="raised ValueError") as failure:
            check_outer(RemoteHandle(session, "outer_that_raises"))
        assert "boom" not in str(failure.value)  # the student's words in a hidden test are not repeated
        reply = session.run_cell("assert inner(1.0) == 3.0, 'the own inner is back'", "after")
        assert reply["ok"], reply
    finally:
        session.close()


def test_a_function_is_not_graded_after_its_reference_was_lent(sandbox):
    from autograder.grading.grader import RemoteHandle, StudentSession, Timeouts

    @check("inner")
    def check_inner(inner, rng):
        x = rng.normal(size=3)
        expect_close("inner(x)", inner(x), 2.0 * x)

    session = StudentSession(sandbox, Timeouts())
    try:
        assert session.run_cell(STUDENT.replace("x * 3.0", "x * 2.0"), "answer")["ok"]
        check_inner(RemoteHandle(session, "inner"))       # graded first: fine
        check_outer(RemoteHandle(session, "outer"))       # lends inner
        with pytest.raises(CheckFailed, match="stood in for it"):
            check_inner(RemoteHandle(session, "inner"))
    finally:
        session.close()


def test_answers_of_a_stand_in_earn_nothing_in_another_check(sandbox):
    """The stand-in attacks of the catalogue, graded by course grade: the replayed affine_sample gets nothing."""
    from autograder.grading import grader
    from autograder import notebooks as nbs
    from autograder.course_dir import SOURCE_ROOT
    from tests.attacks.catalogue import STAND_IN_ASSIGNMENT, stand_in_attacks

    (path,) = nbs.assignment_notebooks(SOURCE_ROOT, STAND_IN_ASSIGNMENT)
    source = nbs.read_notebook(path)
    solved = nbs.worked_solution(source)
    for attack in stand_in_attacks():
        grades, _ = grader.grade_notebook(sandbox, attack.make(solved, source), source)
        cells = {cell.grade_id: cell for cell in grades.cells}
        for grade_id, deserved in attack.deserved.items():
            assert cells[grade_id].points == deserved, (attack.name, grade_id, cells[grade_id])
        if attack.reason:
            assert attack.reason in cells["affine_sample_tests"].message, (attack.name, cells["affine_sample_tests"])
