"""Quality gates every assignment in source_notebooks/ is held to, automatically.

Static gates read the notebooks; the pipeline gates release with stock nbgrader and grade with the course's engine
(the executed solution, experiments included, earns every autograded point) and validate with stock nbgrader (the
untouched release's visible checks fail readably). That the solution earns every point with its experiments skipped
too, and the untouched release none, test_self_check.py shows with course grade's grader. The checks themselves are
tested in test_checks.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator
from traitlets.config.loader import PyFileConfigLoader

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT, SOLUTIONS_ROOT, SOURCE_ROOT
from autograder.instructor.submissions import fill_solutions
from tests.conftest import per_assignment
from tests.untouched_release import HIDDEN_TEST_TRACES, assert_visible_checks_fail_readably

ASSIGNMENT_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def sources(assignment):
    return [(path, nbs.read_notebook(path)) for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment)]


# --- static gates ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("assignment", per_assignment())
def test_assignment_folder_is_named_and_has_checks(assignment):
    assert ASSIGNMENT_NAME.match(assignment), "assignment folders are named NN_name"
    assert (REPO_ROOT / "autograder" / "checks" / f"a{assignment}.py").is_file()
    assert (REPO_ROOT / "tests" / "alternatives" / f"a{assignment}.py").is_file()


@pytest.mark.parametrize("assignment", per_assignment())
def test_nbgrader_metadata_is_valid_and_ids_unique(assignment):
    ids = Counter()
    for path, notebook in sources(assignment):
        for cell in notebook.cells:
            meta = nbs.nbgrader_meta(cell)
            if not meta:
                continue
            where = f"{path.name}:{meta.get('grade_id')}"
            assert meta.get("schema_version") == 3, where
            assert re.match(r"^[A-Za-z0-9_-]+$", meta.get("grade_id") or ""), f"{where}: bad grade id"
            ids[meta["grade_id"]] += 1
            if meta.get("grade"):
                assert float(meta.get("points", 0)) > 0, f"{where}: a graded cell needs points"
            if nbs.is_test(cell):
                assert meta.get("locked"), f"{where}: test cells are locked"
            if nbs.HIDDEN_BEGIN in cell.source:
                assert nbs.is_test(cell), f"{where}: hidden tests only in test cells"
            if nbs.is_solution(cell) and cell.cell_type == "code":
                assert nbs.SOLUTION_BEGIN in cell.source and nbs.SOLUTION_END in cell.source, where
    duplicated = [gid for gid, n in ids.items() if n > 1]
    assert not duplicated, f"grade ids used twice: {duplicated}"


@pytest.mark.parametrize("assignment", per_assignment())
def test_source_notebooks_carry_no_outputs(assignment):
    for path, notebook in sources(assignment):
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs"


@pytest.mark.parametrize("assignment", per_assignment())
def test_notebook_opens_with_lecture_goals_time_and_closes_with_summary(assignment):
    for path, notebook in sources(assignment):
        first = notebook.cells[0].source
        assert first.startswith("# "), f"{path.name}: opens with a title"
        for word in ("Follows", "Time", "You will learn"):
            assert word in first, f"{path.name}: the opening cell states '{word}'"
        last_markdown = [c for c in notebook.cells if c.cell_type == "markdown"][-1].source
        assert "Summary" in last_markdown, f"{path.name}: closes with a summary"


@pytest.mark.parametrize("assignment", per_assignment())
def test_experiments_are_locked_tagged_cells_with_a_plot_title(assignment):
    for path, notebook in sources(assignment):
        for cell in notebook.cells:
            if nbs.is_experiment(cell):
                assert nbs.is_locked(cell) and nbs.grade_id(cell), f"{path.name}: experiment cells are locked"
                assert not nbs.is_grade(cell), f"{path.name}: an experiment cell is never graded"
                if "plt." in cell.source or "plot" in cell.source:
                    assert "title" in cell.source, f"{path.name}:{nbs.grade_id(cell)}: plots need titles"


# --- release, grading and solutions ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """assignment -> folder of its student version, made by stock `nbgrader generate_assignment`."""
    made = {}

    def release(assignment):
        if assignment not in made:
            root = tmp_path_factory.mktemp(f"course-{assignment}")
            # --no-db: the same release, without the gradebook these gates never read (half the time)
            subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--no-db",
                            f"--CourseDirectory.root={root}", f"--CourseDirectory.source_directory={SOURCE_ROOT}",
                            "--log-level=WARN"], cwd=REPO_ROOT, check=True,
                           env=_env_with_scripts())
            made[assignment] = root / "release" / assignment
        return made[assignment]

    return release


def _env_with_scripts():
    import os

    return dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", per_assignment())
def test_release_strips_solutions_and_hidden_tests(assignment, released):
    folder = released(assignment)
    for path, source in sources(assignment):
        text = (folder / path.name).read_text()
        for forbidden in ("autograder", nbs.HIDDEN_BEGIN, nbs.SOLUTION_BEGIN, "check_"):
            assert forbidden not in text, f"the release of {path.name} contains {forbidden!r}"
        release = nbs.read_notebook(folder / path.name)
        released_cells = {nbs.grade_id(c): c for c in release.cells if nbs.grade_id(c)}
        for cell in source.cells:
            gid = nbs.grade_id(cell)
            if nbs.is_solution(cell):
                body = cell.source.split(nbs.SOLUTION_BEGIN, 1)[-1].split(nbs.SOLUTION_END, 1)[0]
                lines = [line.strip() for line in body.split("\n")]
                leaked = [line for line in lines if line and not line.startswith("#")
                          and line in released_cells[gid].source]
                assert not leaked, f"{path.name}:{gid}: the release shows solution lines {leaked}"
            elif nbs.is_test(cell):
                assert released_cells[gid].source == nbs.remove_hidden_tests(cell.source)


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", per_assignment())
def test_solution_runs_its_experiments_and_earns_every_point(assignment, released):
    """With its experiments, as stock nbgrader runs it. Without them, as `course grade` runs it, the solution earns
    every point too: test_self_check.py grades each assignment's solution with course grade's grader."""
    for path, source in sources(assignment):
        solved = fill_solutions(nbs.read_notebook(released(assignment) / path.name), source)
        full, executed = engine.grade_notebook(solved, source, skip_experiments=False)
        for cell in full.cells:
            assert cell.manual or cell.points == cell.max_points, f"{path.name}:{cell.grade_id}: {cell.message}"
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: the solution raises {errors[0].ename}: {errors[0].evalue}"


class ValidatorKeepingItsRun(Validator):
    """Stock nbgrader Validate, which also keeps the notebook it ran: where Run All would have stopped."""

    def _preprocess(self, nb):
        self.executed = super()._preprocess(nb)
        return self.executed


ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")  # the colours of a traceback, which JupyterLab's dialog renders


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", per_assignment())
def test_untouched_release_fails_its_visible_checks_readably(assignment, released, tmp_path):
    """What a student sees who runs the untouched release and presses Validate (JupyterLab's button runs this same
    nbgrader Validator with the course's configuration; tests/browser/ presses it for two assignments): the first
    error is a NotImplementedError, every visible check fails with an exception a student can read, written answers
    are "You did not provide a response.", and nothing of the hidden tests shows. Experiment cells are left out of
    the run: Validate lists only graded cells, and no graded cell depends on an experiment (the solution earns the
    same points without them)."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO_ROOT)).load_config()
    for path, _ in sources(assignment):
        release = nbs.read_notebook(released(assignment) / path.name)
        release.cells = [c for c in release.cells if not nbs.is_experiment(c)]
        nbformat.write(release, tmp_path / path.name)
        tests = [c for c in release.cells if nbs.is_test(c)]
        written = [c for c in release.cells if nbs.is_grade(c) and nbs.is_solution(c)]
        validator = ValidatorKeepingItsRun(config=config)
        results = validator.validate(str(tmp_path / path.name))
        assert set(results) == {"failed"}, f"{path.name}: Validate says {sorted(results)}"
        errors = [o for c in validator.executed.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert errors and errors[0].ename == "NotImplementedError", \
            f"{path.name}: Run All stops at {errors[0].ename if errors else 'nothing'}"
        # source -> error (written answers share one source)
        failed = {cell["source"]: ANSI_CODES.sub("", cell["raw_error"]) for cell in results["failed"]}
        assert_visible_checks_fail_readably(path.name, tests, written, failed, len(results["failed"]))
        shown = "\n".join(text for source, error in failed.items() for text in (source, error))
        for secret in HIDDEN_TEST_TRACES:
            assert secret not in shown, f"{path.name}: Validate shows {secret!r}"


@pytest.mark.parametrize("assignment", per_assignment())
def test_solutions_folder_is_in_sync(assignment):
    for path, source in sources(assignment):
        target = SOLUTIONS_ROOT / assignment / path.name
        assert target.is_file(), f"missing {target.relative_to(REPO_ROOT)}: run make solutions"
        solution = nbs.read_notebook(target)
        expected = nbs.worked_solution(source)
        assert [(c.cell_type, c.source) for c in solution.cells] == \
            [(c.cell_type, c.source) for c in expected.cells], f"{target.name} is stale: run make solutions"
        for cell in solution.cells:
            if cell.cell_type == "code" and cell.source.strip():
                assert cell.execution_count is not None, f"{target.name}: not executed"
                assert not any(o.output_type == "error" for o in cell.outputs), f"{target.name}: error output"


def test_generated_folders_are_ignored():
    ignored = (REPO_ROOT / ".gitignore").read_text().split()
    for folder in ("release/", "submitted/", "autograded/", "feedback/", "gradebook.db", "build/"):
        assert folder in ignored
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
        assert not re.search(r"^(release|submitted|autograded|feedback)/|gradebook\.db", tracked, re.M)
