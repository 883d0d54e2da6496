"""Where the course's files are, and running stock nbgrader commands on a course directory."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from autograder import notebooks as nbs

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOT = REPO_ROOT / "source_notebooks"
SOLUTIONS_ROOT = REPO_ROOT / "solutions"
# nbconvert template folders for the feedback pages and the formgrader, the course's first
# (autograder.instructor.feedback).
# Found without importing nbgrader (a second): nbgrader_config.py names them, and `course check` reads that file.
COURSE_TEMPLATES = Path(__file__).parent / "instructor" / "templates"
NBGRADER_TEMPLATES = (Path(importlib.util.find_spec("nbgrader").submodule_search_locations[0])
                      / "server_extensions" / "formgrader" / "templates")


class CourseError(Exception):
    """A problem the user can fix (unknown assignment, missing folder, a failed nbgrader step): one line."""


def nbgrader_config():
    """The course's nbgrader configuration (nbgrader_config.py at the repository root)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(REPO_ROOT)).load_config()


def course_id() -> str:
    return nbgrader_config().CourseDirectory.course_id


def all_assignments() -> list[str]:
    return nbs.assignments(SOURCE_ROOT)


def require_assignments(names) -> list[str]:
    """The given assignment names (all of them when none are given); a CourseError for an unknown one."""
    known = all_assignments()
    for name in names:
        if name not in known:
            raise CourseError(f"unknown assignment {name!r} (known: {', '.join(known) or 'none'})")
    return list(names) or known


def check_module(assignment: str):
    """The module of checks of an assignment: autograder.checks.a00_getting_started for 00_getting_started."""
    return importlib.import_module(f"autograder.checks.a{assignment}")


def nbgrader(course_dir: str | Path, *args: str, quiet: bool = False) -> None:
    """Run a stock nbgrader command on course_dir (with this course's nbgrader_config.py and sources)."""
    command = [sys.executable, "-m", "nbgrader", *args,
               f"--CourseDirectory.root={Path(course_dir).resolve()}",
               f"--CourseDirectory.source_directory={SOURCE_ROOT}"]
    if quiet:
        command.append("--log-level=WARN")
    # nbgrader runs `alembic` from PATH: put this environment's scripts first
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE if quiet else None,
                            stderr=subprocess.STDOUT if quiet else None, text=True)
    if result.returncode != 0:
        tail = ("\n" + result.stdout[-3000:]) if quiet and result.stdout else ""
        raise CourseError(f"nbgrader {args[0]} failed (exit {result.returncode}){tail}")
