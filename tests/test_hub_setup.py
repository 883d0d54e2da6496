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


def test_the_written_configuration_gives_each_user_what_is_theirs(tmp_path, monkeypatch):
    """write_config: no one's JupyterLab asks about news; students lose the instructor's tools; the course directory's
    nbgrader_config.py brings the course's templates (LaTeX with the installed MathJax) to the formgrader, which reads
    it last; COURSE_DB_URL reaches the instructor's server only."""
    import json
    import pwd
    import types

    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.instructor.feedback import COURSE_TEMPLATES

    me = pwd.getpwuid(os.getuid()).pw_name  # the instructor: files are given to them
    monkeypatch.setattr(hub.Hub, "home", lambda self, user: tmp_path / "home" / user)
    monkeypatch.setenv("COURSE_DB_URL", "postgresql+psycopg://grader@db.example.org/course")
    trial = hub.Hub(tmp_path / "hub", ("alice", "bob"), me, 8000, "dnn-fundamentals")
    trial.course_dir().mkdir(parents=True)
    config = hub.write_config(trial)

    news = "@jupyterlab/apputils-extension:announcements"
    students = json.loads((trial.config_dir / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    teacher = json.loads((trial.instructor_config_dir / "labconfig" / "page_config.json").read_text())
    assert students[news] and students["@jupyter/nbgrader:formgrader"]
    assert list(teacher["disabledExtensions"]) == [news]

    course = PyFileConfigLoader("nbgrader_config.py", path=str(trial.course_dir())).load_config()
    assert course.HTMLExporter.extra_template_basedirs[0] == str(COURSE_TEMPLATES)
    assert course.CourseDirectory.root == str(trial.course_dir())

    settings = Config()
    exec(compile(config.read_text(), str(config), "exec"), {"get_config": lambda: settings})
    environments = {}
    for user in ("alice", me):
        spawner = types.SimpleNamespace(user=types.SimpleNamespace(name=user), environment=settings.Spawner.environment)
        settings.Spawner.pre_spawn_hook(spawner)
        environments[user] = spawner.environment
    assert "COURSE_DB_URL" not in environments["alice"] and "PYTHONPATH" not in environments["alice"]
    assert environments[me]["COURSE_DB_URL"] == "postgresql+psycopg://grader@db.example.org/course"
    assert "COURSE_DB_URL" not in settings.Spawner.environment  # the shared dict is left as it was
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # the database's address, a password in it, for root alone
