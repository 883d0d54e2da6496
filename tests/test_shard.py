"""`course grade --shard I/N`: every submission of the class is graded by exactly one of the N parts, alike on
every machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.course_dir import REPO_ROOT
from autograder.grading.course_grade import find_tasks, in_shard
from course.cli import build_parser

ASSIGNMENTS = ["00_getting_started", "01_backprop"]
student_ids = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="._-"),
                      min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))


@settings(max_examples=30, deadline=None)
@given(students=st.sets(student_ids, max_size=12), count=st.integers(1, 6), data=st.data())
def test_every_submission_is_in_exactly_one_part(tmp_path_factory, students, count, data):
    course = tmp_path_factory.mktemp("class")
    for student in students:
        for assignment in data.draw(st.lists(st.sampled_from(ASSIGNMENTS), unique=True), label=student):
            (course / "submitted" / student / assignment).mkdir(parents=True)
    everything = find_tasks(course, ASSIGNMENTS)
    parts = [find_tasks(course, ASSIGNMENTS, shard=(i, count)) for i in range(1, count + 1)]
    assert sorted((t for part in parts for t in part), key=repr) == sorted(everything, key=repr)  # none lost or twice
    for part in parts:  # a student's submissions stay together
        for task in part:
            assert all(t.student != task.student for other in parts if other is not part for t in other)


def test_parts_are_the_same_in_every_process_and_about_equal():
    names = [f"s{k:04d}" for k in range(2000)]
    here = [next(i for i in range(1, 5) if in_shard(n, (i, 4))) for n in names]
    code = ("import json, sys; from autograder.grading.course_grade import in_shard; "
            "print(json.dumps([next(i for i in range(1, 5) if in_shard(n, (i, 4))) for n in json.load(sys.stdin)]))")
    elsewhere = subprocess.run([sys.executable, "-c", code], input=json.dumps(names), capture_output=True, text=True,
                               cwd=REPO_ROOT, env=dict(os.environ, PYTHONHASHSEED="12345"), check=True)
    assert json.loads(elsewhere.stdout) == here
    sizes = [here.count(i) for i in range(1, 5)]
    assert min(sizes) > 400 and max(sizes) < 600, sizes


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "1", "a/b", "-1/2", "1/2/3"])
def test_a_malformed_shard_is_refused_with_one_line(text, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["grade", f"--shard={text}"])
    assert exit_.value.code == 2
    assert "give part I of N as I/N" in capsys.readouterr().err


def test_a_well_formed_shard_is_read():
    assert build_parser().parse_args(["grade", "--shard", "2/3"]).shard == (2, 3)
