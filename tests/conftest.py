"""Shared fixtures: the assignments, their solution functions (from the source notebooks), alternatives."""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# one BLAS / torch thread per process: tests run in parallel, and kernels inherit this
os.environ.setdefault("OMP_NUM_THREADS", "1")

from autograder import notebooks as nbs  # noqa: E402
from autograder.course_dir import SOURCE_ROOT, all_assignments, check_module  # noqa: E402

ASSIGNMENTS = all_assignments()


def per_assignment(names=ASSIGNMENTS):
    """Parameters for a test run once per assignment, grouped so that one xdist worker handles an assignment."""
    return [pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in names]


@functools.lru_cache(maxsize=None)
def solution_namespace(assignment: str) -> dict:
    """Run the non-experiment code of an assignment's source notebooks (hidden tests removed); return its names."""
    namespace: dict = {"__name__": f"solution_{assignment}"}
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        for source in nbs.graded_code(nbs.read_notebook(path)):
            exec(compile(source, f"{path.name}", "exec"), namespace)
    return namespace


def alternatives(assignment: str):
    """tests/alternatives/a<assignment>.py: second, differently written correct implementations."""
    return importlib.import_module(f"tests.alternatives.a{assignment}")


def all_checks():
    """(assignment, check) for every check of every assignment, as pytest parameters."""
    params = []
    for assignment in ASSIGNMENTS:
        for chk in check_module(assignment).CHECKS:
            params.append(pytest.param(assignment, chk, id=f"{assignment}:{chk.name}",
                                       marks=pytest.mark.xdist_group(assignment)))
    return params


@pytest.fixture
def repo_root() -> Path:
    return SOURCE_ROOT.parent
