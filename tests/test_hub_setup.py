"""The parts of `course hub` that need no hub: user names and the exchange's permissions."""

from __future__ import annotations

import os
import stat

import pytest

from autograder.course_dir import CourseError
from autograder.instructor import hub


def test_user_names_are_checked_with_one_clear_line():
    assert hub.parse_users("alice, bob,carol") == ("alice", "bob", "carol")
    for bad, says in (("", "at least one"), ("alice,Bob", "not a valid user name"), ("al ice", "not a valid"),
                      ("alice,alice", "twice"), ("root;rm", "not a valid")):
        with pytest.raises(CourseError, match=says):
            hub.parse_users(bad)


@pytest.mark.skipif(os.geteuid() != 0, reason="the exchange's course folder is given to another user: root only")
def test_the_exchange_is_open_to_all_and_the_course_folder_is_the_instructors(tmp_path):
    trial = hub.Hub(tmp_path / "hub", ("alice",), "nobody", 8000, "dnn-fundamentals")
    hub.prepare_exchange(trial)
    root = trial.exchange.stat()
    assert stat.S_IMODE(root.st_mode) == 0o777  # what nbgrader release_assignment requires of the exchange root
    course = (trial.exchange / "dnn-fundamentals").stat()
    assert course.st_uid == 65534 and stat.S_IMODE(course.st_mode) == 0o755  # no student can claim it first
    hub.prepare_exchange(trial)  # a second start changes nothing
    assert stat.S_IMODE(trial.exchange.stat().st_mode) == 0o777
