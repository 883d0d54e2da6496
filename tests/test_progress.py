"""`course progress`: points per assignment and exercise across the course, from a learner's workspace."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder import notebooks as nbs
from autograder.instructor import submissions
from autograder.course_dir import SOURCE_ROOT, all_assignments, check_module
from course import progress, workspace
from tests.test_self_check import write_release

ASSIGNMENT = "00_getting_started"


@pytest.fixture(scope="module")
def learner_workspace(tmp_path_factory):
    """A workspace with the first assignment solved but for one catalogued mistake in rel_error; the rest missing."""
    folder = tmp_path_factory.mktemp("progress") / "workspace"
    (folder / ASSIGNMENT).mkdir(parents=True)
    write_release(ASSIGNMENT, folder / ASSIGNMENT)
    (path,) = nbs.assignment_notebooks(SOURCE_ROOT, ASSIGNMENT)
    mistake = check_module(ASSIGNMENT).REL_ERROR_MISTAKES[0]
    solved = submissions.fill_solutions(nbs.read_notebook(folder / ASSIGNMENT / path.name), nbs.read_notebook(path))
    nbformat.write(submissions.with_mistake(solved, mistake, "rel_error"), folder / ASSIGNMENT / path.name)
    return folder, mistake


def test_progress_shows_points_a_chart_and_what_is_missing(learner_workspace, tmp_path):
    folder, mistake = learner_workspace
    chart = tmp_path / "progress.png"
    done = subprocess.run([sys.executable, "-m", "course.cli", "progress", "--workspace", str(folder),
                           "--chart", str(chart)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    source = nbs.read_notebook(nbs.assignment_notebooks(SOURCE_ROOT, ASSIGNMENT)[0])
    most = sum(nbs.points(c) for c in source.cells if nbs.is_test(c))
    lost = sum(nbs.points(c) for c in source.cells if nbs.is_test(c) and "check_rel_error(" in c.source)
    assert f"{most - lost:g}/{most:g}" in text
    assert "still missing:" in text and mistake.message.split(",")[0] in text
    for other in all_assignments()[1:]:
        assert f"{other}/" in text and "not in your workspace" in text.split(f"{other}/", 2)[-1].split("\n")[0]
    assert chart.stat().st_size > 5000 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_as_json_is_what_the_table_shows(learner_workspace):
    folder, _ = learner_workspace
    done = subprocess.run([sys.executable, "-m", "course.cli", "progress", "--workspace", str(folder), "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = progress.from_json(done.stdout)
    assert [p.assignment for p in found] == all_assignments()
    assert [p.state for p in found] == ["graded"] + ["missing"] * (len(found) - 1)
    assert 0 < found[0].points < found[0].max_points
    assert progress.as_json(found) == done.stdout.strip()


def test_progress_without_the_instructor_tools_or_a_workspace_says_so(monkeypatch, tmp_path):
    with pytest.raises(progress.ProgressError, match="no such folder"):
        progress.collect(tmp_path / "absent")
    monkeypatch.setitem(sys.modules, "autograder", None)
    with pytest.raises(progress.ProgressError, match="instructor grades"):
        progress.collect(tmp_path)


def test_the_workspace_gets_a_progress_notebook_once(tmp_path):
    index = workspace.write_index(tmp_path)
    notebook = nbs.read_notebook(index)
    assert "from course.progress import show" in notebook.cells[-1].source
    assert not any(nbs.grade_id(c) for c in notebook.cells)  # not graded: no assignment depends on it
    index.write_text(index.read_text().replace("Your progress", "My notes"))
    assert workspace.write_index(tmp_path) is None and "My notes" in index.read_text()


def test_show_in_a_notebook_renders_the_table_and_the_chart_from_the_workspace(learner_workspace, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    folder, mistake = learner_workspace
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    progress.show(folder)
    table, figure = shown
    source = nbs.read_notebook(nbs.assignment_notebooks(SOURCE_ROOT, ASSIGNMENT)[0])
    most = sum(nbs.points(c) for c in source.cells if nbs.is_test(c))
    lost = sum(nbs.points(c) for c in source.cells if nbs.is_test(c) and "check_rel_error(" in c.source)
    html = table.data
    assert html.startswith("<pre>") and f"{ASSIGNMENT}/" in html and f"{most - lost:g}/{most:g}" in html
    assert "still missing:" in html and mistake.message.split(",")[0].replace("'", "&#x27;") in html
    for other in all_assignments()[1:]:
        assert f"{other}/" in html and html.count("not in your workspace") == len(all_assignments()) - 1
    # the chart: a grey bar of 100 % and a bar of the share earned per notebook, its points written beside it
    (axes,) = figure.axes
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert labels == all_assignments()
    earned = [bar.get_width() for bar in axes.patches[len(labels):]]
    assert earned == pytest.approx([100 * (most - lost) / most] + [0.0] * (len(labels) - 1))
    assert [t.get_text() for t in axes.texts] == [f"{most - lost:g}/{most:g}"] + ["missing"] * (len(labels) - 1)
    assert not matplotlib.pyplot.fignum_exists(figure.number)  # shown once, then closed


def test_show_says_in_one_line_what_stops_it(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    progress.show(tmp_path / "absent")
    (note,) = shown
    assert "no such folder" in note.data and note.data.count("\n") == 0
