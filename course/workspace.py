"""A self-study learner's workspace: the student version of every assignment, in a folder of their own.

`prepare` releases the assignments the workspace lacks files of with stock `nbgrader generate_assignment`, into a
temporary course directory, and copies what the learner does not have yet into the workspace (`workspace/` of the
clone by default). It never overwrites a file, so running it again keeps the learner's work and only adds what is
missing (a new assignment, a deleted notebook). The workspace never holds the sources or the solutions: only what
a student gets.
`start_lab` opens JupyterLab there. From a clone: `make lab` (or `.venv/bin/course lab`).

Preparing needs the instructor tools of a clone (the `autograder` package, which holds the sources' machinery);
a student install has JupyterLab but no sources to release, so it gets a one-line explanation instead.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKSPACE = REPO_ROOT / "workspace"  # git-ignored
# Files nbgrader leaves out of a release (its CourseDirectory.ignore); they are never expected in a workspace.
RELEASE_IGNORES = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
# A learner's JupyterLab leaves out what only instructors use, and asks nothing about news: JupyterLab plugins
# disabled in the page config of the server `start_lab` starts (nobody else's). Validate and the assignment list stay.
LEARNER_HIDDEN_PLUGINS = (
    "@jupyter/nbgrader:create-assignment",            # the Create Assignment sidebar
    "@jupyter/nbgrader:formgrader",                   # Nbgrader > Formgrader
    "@jupyter/nbgrader:course-list",                  # Nbgrader > Course List: an instructor's courses
    "@jupyterlab/apputils-extension:announcements",   # "Would you like to get notified about Jupyter news?"
)


class WorkspaceError(Exception):
    """A problem the learner can fix (a bad folder, an unknown assignment, no clone): one line."""


@dataclass
class Prepared:
    """What `prepare` did: the files it added and the learner's files it left as they were (paths in folder)."""

    folder: Path
    added: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    index: Path | None = None  # the progress notebook, when this run added it

    def summary(self) -> str:
        return (f"workspace {self.folder}: {len(self.added)} file(s) added, "
                f"{len(self.kept)} of yours kept as they are"
                + (f"; {self.index.name} shows your progress" if self.index else ""))


def prepare(folder: str | Path = DEFAULT_WORKSPACE, assignments: list[str] | None = None) -> Prepared:
    """Put the student version of the assignments (all when None) into folder, adding only missing files."""
    course_dir = _instructor_tools()
    folder = _checked_folder(Path(folder))
    try:
        names = course_dir.require_assignments(assignments or [])
    except course_dir.CourseError as error:
        raise WorkspaceError(str(error)) from None
    for name in names:
        if (folder / name).exists() and not (folder / name).is_dir():
            raise WorkspaceError(f"{folder / name} is a file where the assignment's folder belongs")
    prepared = Prepared(folder)
    missing = [name for name in names if _missing_files(course_dir.SOURCE_ROOT / name, folder / name)]
    if missing:
        with tempfile.TemporaryDirectory(prefix="course-workspace-") as scratch:
            # one nbgrader process for all (its assignment id is a glob); a missing one alone by its name
            _release(course_dir, Path(scratch), missing[0] if len(missing) == 1 else "*")
            for name in missing:
                _copy_missing(Path(scratch) / "release" / name, folder / name, prepared)
    for name in names:  # what was there before and was not added now is the learner's
        prepared.kept += sorted(p for p in (folder / name).rglob("*") if p.is_file() and p not in prepared.added)
    prepared.index = write_index(folder)
    return prepared


INDEX_NOTEBOOK = "progress.ipynb"


def write_index(folder: Path) -> Path | None:
    """progress.ipynb in the workspace: the learner's progress and how to check inside a notebook.

    Written when missing (the learner's copy is never touched); returns its path when written. The assignments'
    notebooks do not depend on it: they are the student versions as released.
    """
    import nbformat

    target = folder / INDEX_NOTEBOOK
    if target.exists():
        return None
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(
            "# Your progress\n\n"
            "Run the cell below to grade every notebook of this workspace, as saved, with the course's hidden "
            "checks: points per assignment, a bar chart, and what is still missing (`course progress` in a "
            "terminal prints the same).\n\n"
            "Inside an assignment's notebook, a cell with\n\n"
            "```python\nfrom course.self_check import check; check()\n```\n\n"
            "checks the exercises you have defined so far in a second; `check(\"batchnorm_forward\")` checks one. "
            "In this JupyterLab `%check` and `%check batchnorm_forward` do the same."),
        nbformat.v4.new_code_cell("from course.progress import show\n\nshow()"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    nbformat.write(notebook, partial)
    partial.replace(target)
    return target


def lab_command(folder: Path, port: int | None = None, open_browser: bool = True) -> list[str]:
    """The command that runs JupyterLab of this environment on folder."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}"]
    if port:
        command.append(f"--port={port}")
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run as root; JupyterLab refuses it unasked
        command.append("--allow-root")
    if os.name == "posix":
        # Started without a terminal, JupyterLab opens login shells, whose profile resets PATH and would hide this
        # environment's `course` command; the learner's own shell, not as a login shell, keeps it.
        shell = os.environ.get("SHELL") or shutil.which("sh") or "/bin/sh"
        command.append(f"--ServerApp.terminado_settings=shell_command={shlex.quote(shell)}")
    return command


def lab_environment(config_dirs: list[Path] = ()) -> dict[str, str]:
    """os.environ for JupyterLab: this environment's commands first, and the course's nbgrader settings.

    PATH: a terminal or a `!course check ...` cell in JupyterLab finds this environment's `course` command.
    JUPYTER_CONFIG_PATH: Validate reads nbgrader_config.py from the Jupyter config path, so it runs notebooks
    with the course's settings (the time a cell may take) rather than nbgrader's defaults. config_dirs come first
    (write_learner_config's folder, for a learner's JupyterLab).
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in [*map(str, config_dirs), str(REPO_ROOT), env.get("JUPYTER_CONFIG_PATH")] if p)
    return env


def write_learner_config(folder: Path) -> Path:
    """A Jupyter config folder (labconfig/page_config.json) that hides LEARNER_HIDDEN_PLUGINS; returns folder.

    On a server's JUPYTER_CONFIG_PATH it applies to that server alone: the user's own settings are not touched.
    """
    target = Path(folder) / "labconfig" / "page_config.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"disabledExtensions": {name: True for name in LEARNER_HIDDEN_PLUGINS}}, indent=1))
    return Path(folder)


def write_learner_kernel(folder: Path) -> Path:
    """A Jupyter data folder whose python3 kernel loads the %check magic (course.self_check); returns folder.

    On a server's JUPYTER_PATH it comes before the user's and the environment's kernels, for that server alone:
    the notebooks' own kernel (python3) there is this environment's Python with the magic loaded.
    """
    spec = Path(folder) / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext=course.self_check"],
        "display_name": "Python 3 (ipykernel)", "language": "python", "metadata": {"debugger": True}}, indent=1))
    return Path(folder)


def start_check_server(folder: Path):
    """Start the workspace's check server (course.check_server) beside JupyterLab; None without instructor tools."""
    try:
        import autograder  # noqa: F401
    except ImportError:
        return None
    from course import check_server

    return check_server.start(folder)


def start_lab(folder: str | Path = DEFAULT_WORKSPACE, port: int | None = None, open_browser: bool = True) -> int:
    """Run JupyterLab in folder until it stops, with the workspace's check server; returns JupyterLab's status."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise WorkspaceError(f"{folder}: no such folder (prepare the workspace first)")
    with tempfile.TemporaryDirectory(prefix="course-lab-config-") as config:  # as long as the server runs
        env = lab_environment([write_learner_config(Path(config))])
        data = write_learner_kernel(Path(config) / "data")
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in [str(data), env.get("JUPYTER_PATH")] if p)
        checker = start_check_server(folder)  # ends with this process at the latest
        try:
            process = subprocess.Popen(lab_command(folder, port, open_browser), cwd=folder, env=env)
            while True:
                try:
                    return process.wait()
                except KeyboardInterrupt:
                    # JupyterLab got the same Ctrl+C: it asks to confirm, or stops on a second one; wait for it
                    continue
        finally:
            if checker is not None:
                checker.terminate()
                checker.wait()


def _instructor_tools():
    try:
        from autograder import course_dir
    except ImportError:
        raise WorkspaceError("preparing a workspace needs a clone of the course with its instructor tools "
                             "(make setup); a student install has no assignments to release") from None
    return course_dir


def _checked_folder(folder: Path) -> Path:
    """The folder, resolved; a WorkspaceError when it is a file or would hold the course's sources or solutions."""
    folder = folder.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(f"{folder} is a file, not a folder")
    for private in (REPO_ROOT / "source_notebooks", REPO_ROOT / "solutions"):
        if folder == private or private in folder.parents or folder in private.parents:
            raise WorkspaceError(f"{folder}: a workspace may neither hold nor lie inside {private.name}/ "
                                 f"(choose a folder of its own, e.g. {DEFAULT_WORKSPACE})")
    return folder


def _ignored(relative: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in RELEASE_IGNORES)


def _missing_files(source: Path, target: Path) -> bool:
    """Whether target lacks a file the release of source would have (a release has the source's file names)."""
    return any(not (target / p.relative_to(source)).exists() for p in source.rglob("*")
               if p.is_file() and not _ignored(p.relative_to(source)))


def _release(course_dir, scratch: Path, assignment_glob: str) -> None:
    """Stock `nbgrader generate_assignment` into scratch/release/; no gradebook, the course directory is temporary."""
    try:
        course_dir.nbgrader(scratch, "generate_assignment", assignment_glob, "--no-db", quiet=True)
    except course_dir.CourseError as error:
        raise WorkspaceError(str(error).splitlines()[0]) from None


def _copy_missing(release: Path, target: Path, prepared: Prepared) -> None:
    """Copy each file of release that target lacks; a file the learner has is never touched."""
    for source in sorted(p for p in release.rglob("*") if p.is_file()):
        destination = target / source.relative_to(release)
        if destination.exists() or destination.is_symlink():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        shutil.copy2(source, partial)
        partial.replace(destination)  # whole or not at all: an interrupted run leaves no half-written notebook
        prepared.added.append(destination)
