"""The checks at the seeds grading really uses: `course grade` draws each check's inputs from a seed of its own per
student (framework.grading_seeds), while tests/test_checks.py proves each check at seed 0. Here every check accepts
the worked solution, and rejects and names every mistake of its catalogue, for three made-up students, the way
grading draws their seeds. The whole sweep (every check, every mistake, three students) takes a few seconds of CPU
for all assignments together, so no subset is sampled.

Cases a mistake hides in by chance (a tie that decides nothing, a mask that keeps every weight, scores too small to
overflow) are built on purpose by the checks; the last tests draw many seeds for exactly those."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.course_dir import check_module
from autograder.checks import framework
from autograder.checks.framework import CheckFailed, grading_seeds
from autograder.grading.course_grade import student_seed_key
from tests.conftest import per_assignment, solution_namespace

COURSE_SECRET = b"a made-up course secret"
STUDENTS = ("ada", "grace", "alan")


def _with_mistake(assignment, chk, mistake):
    namespace = solution_namespace(assignment)
    functions = [namespace[f] for f in chk.functions]
    functions[chk.functions.index(mistake.replaces or chk.functions[0])] = mistake.implementation
    return functions


def _expect_rejected_and_named(chk, functions, mistake, **seed):
    with pytest.raises(CheckFailed) as failure:
        chk(*functions, **seed)
    assert f"Likely mistake: {mistake.message}" in str(failure.value), (
        f"{chk.name} at {seed or 'a student seed'}: {mistake.implementation.__name__} is not named:\n{failure.value}")


@pytest.mark.parametrize("assignment", per_assignment())
@pytest.mark.parametrize("student", STUDENTS)
def test_each_check_holds_at_a_students_seeds(assignment, student):
    namespace = solution_namespace(assignment)
    with grading_seeds(student_seed_key(COURSE_SECRET, student)):
        for chk in check_module(assignment).CHECKS:
            chk(*[namespace[f] for f in chk.functions])
            for mistake in chk.mistakes:
                _expect_rejected_and_named(chk, _with_mistake(assignment, chk, mistake), mistake)


def test_the_students_get_other_seeds_than_zero():
    """The sweep above is worth something only if grading_seeds really moves the inputs away from seed 0."""
    seen = set()
    chk = check_module("06_cnn_layers").check_maxout_dx
    for student in STUDENTS:
        with grading_seeds(student_seed_key(COURSE_SECRET, student)):
            seen.add(framework._seed_of_check(chk.name))
    assert 0 not in seen and len(seen) == len(STUDENTS)


# (assignment, check, mistake, a seed at which it once passed or was misnamed) where the random draw did not always
# build the case that exposes the mistake; the checks now build it on purpose, at every seed.
BUILT_ON_PURPOSE = [
    ("06_cnn_layers", "check_maxout_dx", "maxout_backward_all_ties", 7919),  # pieces that tie and win
    ("06_cnn_layers", "check_maxout_dw", "maxout_backward_all_ties", 7919),
    ("06_cnn_layers", "check_maxout_db", "maxout_backward_all_ties", 7919),
    ("06_cnn_layers", "check_dense_softmax", "dense_softmax_no_shift", 8346791020790491180),  # a score overflows exp
    ("04_dropout", "check_dropconnect_dx", "dropconnect_dx_unmasked", 16537098030733978797),  # a mask keeps and drops
    ("04_dropout", "check_dropconnect_dx", "dropconnect_dx_unscaled", 16537098030733978797),
    ("04_dropout", "check_dropconnect_dparams", "dropconnect_dW_unmasked", 17538073808327980824),
    ("04_dropout", "check_dropconnect_dparams", "dropconnect_dW_unscaled", 17538073808327980824),
]


@pytest.mark.parametrize("assignment, check_name, mistake_name, seed_that_exposed_it",
                         [pytest.param(*case, id=f"{case[1]}:{case[2]}", marks=pytest.mark.xdist_group(case[0]))
                          for case in BUILT_ON_PURPOSE])
def test_cases_built_on_purpose_catch_their_mistake_at_any_seed(assignment, check_name, mistake_name,
                                                                 seed_that_exposed_it):
    chk = getattr(check_module(assignment), check_name)
    mistake = next(m for m in chk.mistakes if m.implementation.__name__ == mistake_name)
    functions = _with_mistake(assignment, chk, mistake)
    _expect_rejected_and_named(chk, functions, mistake, seed=seed_that_exposed_it)

    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(st.integers(0, 2 ** 64 - 1))
    def rejected_at(seed):
        _expect_rejected_and_named(chk, functions, mistake, seed=seed)

    rejected_at()
