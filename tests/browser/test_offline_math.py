"""The notebooks' LaTeX renders without the web: a feedback page opened from disk and the same page served by a
Jupyter server, and the formgrader's view of the submission, all in headless Debian Chromium that may reach
nothing but the page's own origin. MathJax comes from the installed jupyter-server-mathjax
(autograder/instructor/templates/base/mathjax.html.j2)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from tests.browser.test_report_pages import CHROMIUM, FLAGS

if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
    pytest.skip("browser test skipped: it needs Debian's chromium (apt-get install chromium, /usr/bin/chromium) and "
                "the Python package playwright", allow_module_level=True)

from nbgrader.api import Gradebook  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from autograder.instructor import demo  # noqa: E402
from autograder.grading import course_grade as grading  # noqa: E402
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, course_id, nbgrader  # noqa: E402
from autograder.grading.sandbox.worker import bubblewrap_problem  # noqa: E402
from tests.browser.server import JupyterLab  # noqa: E402

ASSIGNMENT = "00_getting_started"
STUDENT = "demo-solution"
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("browser")]

# Typeset: MathJax has finished its queue and put out at least one formula.
TYPESET_JS = """() => window.MathJax && MathJax.Hub && MathJax.Hub.queue && MathJax.Hub.queue.pending === 0
    && document.querySelectorAll('.MathJax_MathML, .MathJax, .MathJax_Display').length > 0"""
# (formulas in the page, formulas MathJax put out, formulas it could not typeset)
MATH_JS = """() => [document.querySelectorAll('script[type^="math/tex"]').length,
    document.querySelectorAll('[id^="MathJax-Element-"][id$="-Frame"]').length,
    document.querySelectorAll('.MathJax_Error, merror').length]"""


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A small graded class: one student (the worked solution) of 00_getting_started, graded, with feedback."""
    root = tmp_path_factory.mktemp("math") / "course"
    root.mkdir()
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    for name, notebook in demo.demo_submissions(ASSIGNMENT, root / "release" / ASSIGNMENT)[STUDENT].items():
        folder = root / "submitted" / STUDENT / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / name)
    grading.run(root, [ASSIGNMENT], course_id(), unsafe=bubblewrap_problem() is not None, progress=False)
    nbgrader(root, "generate_feedback", ASSIGNMENT, "--force", quiet=True)
    # the server runs in the course directory with the course's settings
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO_ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.source_directory = {str(SOURCE_ROOT)!r}\n")
    return root


def feedback_page(course: Path) -> Path:
    (page,) = (course / "feedback" / STUDENT / ASSIGNMENT).glob("*.html")
    return page


def typeset(url: str, allowed: tuple[str, ...]) -> tuple[list[int], list[str]]:
    """(MATH_JS's counts, the page's errors and every request to elsewhere than allowed) once MathJax is done."""
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(allowed)
                       else (problems.append(f"fetched {route.request.url}"), route.abort()))
            page.goto(url, wait_until="load")
            try:
                page.wait_for_function(TYPESET_JS, timeout=30_000)
            except Exception:  # reported by the counts below
                problems.append("MathJax did not typeset within 30 s")
            return page.evaluate(MATH_JS), problems
        finally:
            browser.close()


def assert_rendered(counts: list[int], problems: list[str]) -> None:
    formulas, rendered, failed = counts
    assert problems == []
    assert formulas > 10 and rendered == formulas and failed == 0


@pytest.fixture(scope="module")
def server(course, tmp_path_factory):
    lab = JupyterLab(course, tmp_path_factory.mktemp("jupyter-home")).start()
    yield lab
    lab.stop()


def test_feedback_page_opened_from_disk_renders_its_math(course):
    assert_rendered(*typeset(feedback_page(course).as_uri(), ("file:", "data:")))


def test_feedback_page_served_by_jupyter_renders_its_math(course, server):
    relative = feedback_page(course).relative_to(course).as_posix()
    assert_rendered(*typeset(f"{server.url}/files/{relative}?token={server.token}", (server.url, "data:")))


def test_formgrader_submission_view_renders_its_math(course, server):
    gradebook = Gradebook(f"sqlite:///{course / 'gradebook.db'}")
    try:
        (notebook,) = gradebook.find_submission(ASSIGNMENT, STUDENT).notebooks
        submission_id = notebook.id
    finally:
        gradebook.close()
    url = f"{server.url}/formgrader/submissions/{submission_id}/?token={server.token}"
    assert_rendered(*typeset(url, (server.url, "data:")))
