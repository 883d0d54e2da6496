"""The self-study learner's workspace (course.workspace): student versions only, the learner's work kept."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, all_assignments
from course import workspace
from course.workspace import WorkspaceError

ASSIGNMENT = all_assignments()[0]
SECRETS = (nbs.SOLUTION_BEGIN, nbs.HIDDEN_BEGIN, "from autograder", "import autograder")  # hidden tests import checks


def notebook_names(assignment: str) -> list[str]:
    return [path.name for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment)]


@pytest.fixture(scope="module")
def prepared_once(tmp_path_factory) -> workspace.Prepared:
    """A new workspace with the first assignment, prepared once (one nbgrader run); tests work on copies."""
    return workspace.prepare(tmp_path_factory.mktemp("prepared") / "workspace", [ASSIGNMENT])


@pytest.fixture
def learner_workspace(prepared_once, tmp_path) -> Path:
    folder = tmp_path / "workspace"
    shutil.copytree(prepared_once.folder, folder)
    return folder


def test_prepare_adds_the_student_version_and_no_solution(prepared_once):
    prepared, folder = prepared_once, prepared_once.folder
    assert sorted(p.name for p in prepared.added) == sorted(notebook_names(ASSIGNMENT))
    assert prepared.kept == []
    for path in prepared.added:
        text = path.read_text()
        assert "NotImplementedError" in text or "YOUR ANSWER HERE" in text, path.name
        for secret in SECRETS:
            assert secret not in text, f"{path.name} holds {secret!r}"
        source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / path.name)
        ids = [nbs.grade_id(c) for c in source.cells if nbs.grade_id(c)]
        assert [nbs.grade_id(c) for c in nbs.read_notebook(path).cells if nbs.grade_id(c)] == ids
    assert not list(folder.rglob("*.partial"))


def test_prepare_again_keeps_the_learners_work(learner_workspace):
    notebook = learner_workspace / ASSIGNMENT / notebook_names(ASSIGNMENT)[0]
    edited = notebook.read_text().replace("raise NotImplementedError()", "return 42  # my answer", 1)
    notebook.write_text(edited)
    notes = learner_workspace / ASSIGNMENT / "my_notes.txt"
    notes.write_text("mine")

    prepared = workspace.prepare(learner_workspace, [ASSIGNMENT])
    assert prepared.added == []
    assert notebook in prepared.kept and notes in prepared.kept
    assert notebook.read_text() == edited
    assert notes.read_text() == "mine"


def test_prepare_adds_what_is_missing_and_touches_nothing_else(learner_workspace, prepared_once):
    notebook = learner_workspace / ASSIGNMENT / notebook_names(ASSIGNMENT)[0]
    notebook.unlink()
    notes = learner_workspace / ASSIGNMENT / "my_notes.txt"
    notes.write_text("mine")

    prepared = workspace.prepare(learner_workspace, [ASSIGNMENT])
    assert prepared.added == [notebook]
    assert notebook.read_text() == (prepared_once.folder / ASSIGNMENT / notebook.name).read_text()
    assert notes.read_text() == "mine" and notes in prepared.kept


@pytest.mark.parametrize("where, words", [
    (lambda tmp: tmp / "a_file", "is a file, not a folder"),
    (lambda tmp: SOURCE_ROOT / ASSIGNMENT, "may neither hold nor lie inside source_notebooks/"),
    (lambda tmp: REPO_ROOT, "may neither hold nor lie inside source_notebooks/"),
    (lambda tmp: REPO_ROOT / "solutions", "may neither hold nor lie inside solutions/"),
], ids=["file", "inside-sources", "repository-root", "solutions"])
def test_a_bad_folder_is_refused_in_one_line(where, words, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(WorkspaceError) as error:
        workspace.prepare(where(tmp_path), [ASSIGNMENT])
    assert words in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_assignment_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(WorkspaceError, match="unknown assignment '99_nothing'"):
        workspace.prepare(tmp_path / "new", ["99_nothing"])
    assert not (tmp_path / "new").exists()


def test_a_file_where_an_assignment_folder_belongs_is_refused(tmp_path):
    (tmp_path / ASSIGNMENT).write_text("in the way")
    with pytest.raises(WorkspaceError, match="is a file where the assignment's folder belongs"):
        workspace.prepare(tmp_path, [ASSIGNMENT])
    assert (tmp_path / ASSIGNMENT).read_text() == "in the way"


def test_a_student_install_without_the_instructor_tools_is_told_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "autograder", None)  # import autograder now raises ImportError
    with pytest.raises(WorkspaceError, match="needs a clone of the course"):
        workspace.prepare(tmp_path / "new")


def test_lab_starts_in_the_workspace_with_this_environment(tmp_path):
    command = workspace.lab_command(tmp_path, port=8899, open_browser=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in command and "--port=8899" in command and "--no-browser" in command
    env = workspace.lab_environment()
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)  # `course check` in a terminal
    assert (Path(env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0]) / "nbgrader_config.py").is_file()  # Validate
    with pytest.raises(WorkspaceError, match="no such folder"):
        workspace.start_lab(tmp_path / "absent")


def test_a_learners_jupyterlab_hides_the_instructor_panels_and_the_news_prompt(tmp_path):
    """The page config the server `course lab` starts hands to JupyterLab: instructor plugins and news disabled."""
    from tests.browser.server import JupyterLab

    (tmp_path / "root").mkdir()
    server = JupyterLab(tmp_path / "root", tmp_path / "home",
                        [workspace.write_learner_config(tmp_path / "config")]).start()
    try:
        request = urllib.request.Request(server.lab_url())
        with urllib.request.urlopen(request, timeout=30) as response:
            page = response.read().decode()
    finally:
        server.stop()
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    disabled = set(config["disabledExtensions"])
    assert set(workspace.LEARNER_HIDDEN_PLUGINS) <= disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled and "@jupyter/nbgrader" not in disabled
    assert any(e["name"] == "@jupyter/nbgrader" for e in config["federated_extensions"])  # Validate is served
    assert not (tmp_path / "home" / "config" / "labconfig").exists()  # nothing in the user's settings


def test_the_workspaces_kernel_loads_the_check_magic(tmp_path, monkeypatch):
    """The python3 kernel of `course lab`'s JupyterLab (its JUPYTER_PATH) knows %check."""
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("JUPYTER_PATH", str(workspace.write_learner_kernel(tmp_path / "data")))
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    shown = []
    try:
        client.execute_interactive("%check", timeout=120, output_hook=shown.append)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    texts = [m["content"]["data"]["text/plain"] for m in shown if m["msg_type"] == "display_data"]
    assert texts == ["this kernel defines none of the functions of the course's exercises yet"]
