"""The worked solutions in solutions/: each source notebook without solution markers or hidden tests, executed."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOLUTIONS_ROOT, SOURCE_ROOT


def build(source_path: Path, out_root: Path = SOLUTIONS_ROOT) -> tuple[Path, float]:
    """Execute the worked solution of one source notebook into out_root; returns its path and the run time (s)."""
    solution = nbs.worked_solution(nbs.read_notebook(source_path))
    started = time.perf_counter()
    engine.execute(solution, workdir=source_path.parent)
    seconds = time.perf_counter() - started
    target = out_root / source_path.parent.name / source_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    nbformat.write(solution, partial)
    partial.replace(target)  # never leave a half-written notebook behind
    return target, seconds


def build_all(assignments: list[str] | None = None) -> list[tuple[Path, float]]:
    built = []
    for name in assignments or nbs.assignments(SOURCE_ROOT):
        for path in nbs.assignment_notebooks(SOURCE_ROOT, name):
            built.append(build(path))
    return built


if __name__ == "__main__":
    import os
    import sys

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the kernels inherit it: steadier times on a shared machine
    for path, seconds in build_all(sys.argv[1:]):
        print(f"{path.relative_to(SOLUTIONS_ROOT.parent)}: {seconds:.1f} s")
