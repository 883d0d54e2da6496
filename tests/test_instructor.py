"""The instructor tools on a synthetic class with known ground truth (tests/instructor_class.py).

`course report`: the shares of named mistakes, no response and unnamed failures are the planted ones, exercises are
ordered by their cost; `course similar`: every planted copy pair is listed and no independent pair; bad input: one
line and a non-zero exit. The class is stored as `course grade` stores it, graded by calling the checks directly;
tests/test_instructor_pipeline.py goes through the real `course grade`.
"""

from __future__ import annotations

import ast
import builtins
import csv
import functools
import keyword
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.instructor import graded_class, report, similarity
from autograder.instructor.html_page import escape
from autograder.instructor.submissions import fill_solutions, with_mistake
from tests import instructor_class as synthetic

STUDENTS = 20
# single-function exercises with cheap checks: (test cell, answer cell, function)
PLANTED = [("l2_penalty_tests", "l2_penalty_answer", "l2_penalty"),
           ("l1_grad_tests", "l1_grad_answer", "l1_grad"),
           ("hflip_tests", "hflip_answer", "hflip"),
           ("smooth_labels_tests", "smooth_labels_answer", "smooth_labels")]


def course(capsys, *args):
    """Run the course command in this process (the command line itself is tested by test_cli.py's help tests)."""
    from course.cli import main

    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=status, stdout=out, stderr=err)


def wrong_but_uncatalogued(*args, **kwargs):
    """A wrong answer no catalogued mistake reproduces: an empty result."""
    return {} if isinstance(args[0], dict) else np.full(np.shape(args[0]), 7.25)


def plant_class(tmp_path, seed):
    """A class of STUDENTS; in each planted exercise, random counts of two catalogued mistakes, of an uncatalogued
    wrong answer and of no response, given to random students. Returns the expected shares per exercise."""
    rng = np.random.default_rng(seed)
    source, release = synthetic.source_and_release()
    solved = fill_solutions(release, source)
    tests = {synthetic.nbs.grade_id(c): c for c in source.cells if synthetic.nbs.is_test(c)}
    submissions = {f"s{k:02d}": solved for k in range(STUDENTS)}
    outcomes = {student: {} for student in submissions}
    expected = {}
    for test_id, answer_id, function in PLANTED:
        chk, _ = synthetic.check_of(tests[test_id])
        kinds = []
        for mistake in chk.mistakes[:2]:
            message = synthetic.failure_message(tests[test_id], mistake.implementation)
            assert graded_class.mistake_name(message) == mistake.message  # the check names what was planted
            kinds.append((mistake, message))
        unnamed = synthetic.failure_message(tests[test_id], wrong_but_uncatalogued)
        assert graded_class.mistake_name(unnamed) is None
        silent = synthetic.failure_message(tests[test_id], synthetic.not_implemented)
        counts = rng.integers(0, 5, size=4)
        who = iter(rng.permutation(STUDENTS))
        shares = {}
        for (mistake, message), count in zip(kinds, counts[:2]):
            for _ in range(count):
                student = f"s{next(who):02d}"
                submissions[student] = with_mistake(submissions[student], mistake, function)
                outcomes[student][test_id] = (0.0, message)
            if count:
                shares[mistake.message] = count / STUDENTS
        for _ in range(counts[2]):
            student = f"s{next(who):02d}"
            submissions[student] = synthetic.with_cell(submissions[student], answer_id,
                                                       f"def {function}(*args, **kwargs):\n    return 0")
            outcomes[student][test_id] = (0.0, unnamed)
        for _ in range(counts[3]):
            student = f"s{next(who):02d}"
            stub = synthetic.answer_cells(release)[answer_id].source
            submissions[student] = synthetic.with_cell(submissions[student], answer_id, stub)
            outcomes[student][test_id] = (0.0, silent)
        failed = int(counts[:3].sum())
        expected[test_id] = {"mistakes": shares, "no_response": counts[3] / STUDENTS,
                             "unnamed": counts[2] / failed if failed else 0.0,
                             "full": 1 - counts.sum() / STUDENTS}
    for student, submission in submissions.items():
        synthetic.write_graded(tmp_path, student, submission, outcomes[student])
    return expected


@pytest.mark.parametrize("seed", [0, 1])
def test_report_shows_the_planted_rates(tmp_path, seed):
    expected = plant_class(tmp_path, seed)
    assert any(want["mistakes"] for want in expected.values()) and any(want["unnamed"] for want in expected.values())
    graded = graded_class.load(tmp_path, synthetic.ASSIGNMENT)
    assert len(graded.students) == STUDENTS and not graded.not_gradable
    stats = {s.exercise.grade_id: s for s in report.exercise_stats(graded)}
    for test_id, want in expected.items():
        got = stats[test_id]
        assert dict(got.mistakes) == pytest.approx(want["mistakes"])
        assert got.no_response == pytest.approx(want["no_response"])
        assert got.unnamed == pytest.approx(want["unnamed"])
        assert got.full == pytest.approx(want["full"])
    costs = [s.cost for s in report.exercise_stats(graded)]
    assert costs == sorted(costs, reverse=True)
    written, = report.write(tmp_path, [synthetic.ASSIGNMENT])
    page = written.page.read_text()
    for test_id, want in expected.items():
        for message, share in want["mistakes"].items():
            assert f"{100 * share:.0f} % of the class: {escape(message)}" in page
    with open(written.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == STUDENTS * len(graded.exercises)
    for test_id, want in expected.items():
        named = [r["mistake"] for r in rows if r["exercise"] == test_id and r["mistake"]]
        for message, share in want["mistakes"].items():
            assert named.count(message) == round(share * STUDENTS)


def test_similar_lists_every_copy_and_no_independent_pair(tmp_path):
    students, copies = synthetic.similarity_class()
    for student, submission in students.items():
        synthetic.write_graded(tmp_path, student, submission, {})
    found = similarity.write(tmp_path, synthetic.ASSIGNMENT)
    assert {(p.student_a, p.student_b) for p in found.listed} == copies
    # the two one-line answers are all alike, and yet below what lists a pair: cells count by their length
    short = next(p for p in found.pairs if (p.student_a, p.student_b) == ("a", "e"))
    assert short.similarity == 1.0 and short.matching_tokens < found.min_tokens
    page = found.page.read_text()
    assert page.count("<mark>") > len(copies) and "weighted by" in page
    with open(found.csv, newline="") as f:
        assert {(r["student_a"], r["student_b"]) for r in csv.DictReader(f)} == copies


@pytest.mark.parametrize("how", sorted(synthetic.DISGUISES))
def test_a_disguised_copy_of_one_answer_is_found(how):
    """One long answer copied and disguised still matches in full: the tokens, not the names, comments or order."""
    source, release = synthetic.source_and_release()
    original = synthetic.alternative_text(synthetic.answer_cells(fill_solutions(release, source))
                                          ["affine_sample_answer"].source)
    _, boilerplate = similarity.answer_cells_and_boilerplate(synthetic.ASSIGNMENT)
    a = similarity.fingerprint(original, boilerplate)
    b = similarity.fingerprint(synthetic.DISGUISES[how](original), boilerplate)
    tokens_a, tokens_b = similarity.matching_tokens(a, b)
    assert tokens_a / a.token_coverage > 0.9 and tokens_b / b.token_coverage > 0.9


def test_the_released_stub_is_not_a_match():
    source, release = synthetic.source_and_release()
    _, boilerplate = similarity.answer_cells_and_boilerplate(synthetic.ASSIGNMENT)
    for cell in synthetic.answer_cells(release).values():
        assert similarity.fingerprint(cell.source, boilerplate).token_coverage == 0


def test_report_of_a_class_not_graded_yet(tmp_path, capsys):
    plant_class(tmp_path, 0)
    (tmp_path / "submitted" / "s03" / synthetic.ASSIGNMENT / synthetic.NOTEBOOK).write_text(
        (tmp_path / "submitted" / "s04" / synthetic.ASSIGNMENT / synthetic.NOTEBOOK).read_text() + "\n")
    result = course(capsys, "report", synthetic.ASSIGNMENT, "--course-dir", str(tmp_path))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"course report: {synthetic.ASSIGNMENT}: 1 of {STUDENTS} submissions are not graded yet (first: s03); "
        f"run course grade {synthetic.ASSIGNMENT} first"]
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("command", [["report"], ["report", synthetic.ASSIGNMENT], ["similar", synthetic.ASSIGNMENT]])
def test_an_empty_class(tmp_path, capsys, command):
    (tmp_path / "submitted").mkdir()
    result = course(capsys, *command, "--course-dir", str(tmp_path))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "empty class" in lines[0]
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("command", ["report", "similar"])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exit:
        course(capsys, command, "--help")
    assert exit.value.code == 0 and capsys.readouterr().out.startswith(f"usage: course {command}")


IDENTIFIERS = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name) and name not in dir(builtins))


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_any_renaming_of_the_variables_still_matches(data):
    """Whatever new names a copier picks for the variables, the copy matches the original in full."""
    original = _long_answer()
    tree = ast.parse(original)
    local = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})
    new_names = data.draw(st.lists(IDENTIFIERS, min_size=len(local), max_size=len(local), unique=True))
    mapping = dict(zip(local, new_names))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
    _, boilerplate = _assignment_boilerplate()
    a, b = similarity.fingerprint(original, boilerplate), similarity.fingerprint(ast.unparse(tree), boilerplate)
    tokens_a, _ = similarity.matching_tokens(a, b)
    assert tokens_a / a.token_coverage > 0.9


@functools.lru_cache(maxsize=None)
def _long_answer() -> str:
    source, release = synthetic.source_and_release()
    return synthetic.alternative_text(synthetic.answer_cells(fill_solutions(release, source))
                                      ["affine_sample_answer"].source)


@functools.lru_cache(maxsize=None)
def _assignment_boilerplate():
    return similarity.answer_cells_and_boilerplate(synthetic.ASSIGNMENT)


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=30).filter(
    lambda line: not line.startswith("Likely mistake:")), max_size=5),
       st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                        min_size=1, max_size=30).filter(str.strip), max_size=3))
def test_the_mistake_name_is_the_last_likely_mistake_line(other_lines, mistakes):
    lines = other_lines + [f"Likely mistake: {m}" for m in mistakes]
    assert graded_class.mistake_name("\n".join(lines)) == (mistakes[-1].strip() if mistakes else None)
