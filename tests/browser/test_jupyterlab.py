"""The student's and the self-study learner's day in JupyterLab, in a real browser (headless Debian Chromium).

One JupyterLab server, started the way `course lab` starts it (on 127.0.0.1, with a token), serves a learner's
workspace made by `course.workspace.prepare`; one page is reused throughout.
- For the first assignment and the one of the most cells, the student version with the solution filled in: Run All
  runs every cell without an error output, and nbgrader's Validate reports success (every solution is also executed,
  experiments included, and graded by the quality gates; the first also by stock nbgrader in the pipeline test);
- for the same two, the untouched release from the workspace: Run All stops at a NotImplementedError, and Validate
  lists every graded cell as failed, each with a readable message and nothing of the hidden tests (the quality gates
  prove the same of every assignment's release with stock nbgrader's Validator, without a browser).
Then: the in-notebook check (course.self_check) shows full points for a solved exercise and the message of a broken
one; `course check` in a JupyterLab terminal grades a notebook; the formgrader, after a small graded class (the demo
class, built while the notebooks run), shows the students with their scores, and one submission's cells with their
points and the checks' messages; a student fetches and submits through nbgrader's assignment list (local exchange).
Screenshots go to build/screenshots/. Skipped only where no browser can be had: Debian's chromium package
(/usr/bin/chromium) and the Python package playwright (never a browser download).
"""

from __future__ import annotations

import csv
import importlib.util
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
    pytest.skip("browser test skipped: it needs Debian's chromium (apt-get install chromium, /usr/bin/chromium) and "
                "the Python package playwright", allow_module_level=True)

import nbformat  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.utils import get_username  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from traitlets.config.loader import PyFileConfigLoader  # noqa: E402

from autograder.instructor import demo  # noqa: E402
from autograder import notebooks as nbs  # noqa: E402
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, all_assignments, check_module, nbgrader  # noqa: E402
from autograder.checks.framework import Mistake  # noqa: E402
from autograder.instructor.submissions import fill_solutions, with_mistake  # noqa: E402
from course import workspace  # noqa: E402
from tests.browser import lab_page  # noqa: E402
from tests.browser.server import JupyterLab  # noqa: E402
from tests.untouched_release import HIDDEN_TEST_TRACES, assert_visible_checks_fail_readably  # noqa: E402

# One xdist group: one worker runs the whole module, with one server and one page.
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("browser")]
# Parameters without tests.conftest's per-assignment xdist groups (they would split the module over the workers).
# Every solution is executed with its experiments and graded by the quality gates (nbclient), the first also by stock
# nbgrader in the pipeline test; the untouched release of every assignment is validated by the quality gates with stock
# nbgrader's Validator, as JupyterLab's button runs it. Here, in the browser (make test's ten minutes on two cores),
# the smallest notebook and the one of the most cells (92, with experiments that train and plot, and visible checks
# that wait for another exercise's function, course.reuse) are run and validated, solved and untouched.
IN_BROWSER = [pytest.param(name, id=name) for name in ("00_getting_started", "03_regularization")]

SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
CLASS_ASSIGNMENT = all_assignments()[0]  # the small graded class of the formgrader step
SOLVED = "solved"  # folder of the server root with the student versions whose answers are filled in
CLASS = "class"  # folder of the server root: the nbgrader course directory of the graded class
# the course id of nbgrader_config.py: the assignment list fetches into a folder of that name
COURSE_ID = PyFileConfigLoader("nbgrader_config.py", path=str(REPO_ROOT)).load_config().CourseDirectory.course_id
VIEWPORT = {"width": 1400, "height": 900}
# As root in a container, with a closed network: no sandbox, no GPU, and no background calls to Google's hosts.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def grade_cells(path: Path) -> tuple[list, list]:
    """(autograded test cells, written answers graded by hand) of a notebook."""
    cells = nbs.read_notebook(path).cells
    return ([c for c in cells if nbs.is_test(c)],
            [c for c in cells if nbs.is_grade(c) and nbs.is_solution(c)])


def shape(path: Path) -> tuple[int, int]:
    """(code cells, cells) of a notebook file: what the page shows once the real notebook has loaded."""
    cells = nbs.read_notebook(path).cells
    return sum(c.cell_type == "code" for c in cells), len(cells)


def exchange_dir(root: Path) -> Path:
    """The local nbgrader exchange of the class, beside the server root."""
    return root.parent / "exchange"


def write_course_config(root: Path) -> None:
    """nbgrader_config.py where the server runs: the course's settings, the graded class as course directory, and
    a local exchange. Fetched assignments go to <course id>/<assignment>, apart from the workspace's folders."""
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO_ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root / CLASS)!r}\n"
        f"c.CourseDirectory.source_directory = {str(SOURCE_ROOT)!r}\n"
        f"c.Exchange.root = {str(exchange_dir(root))!r}\n"
        "c.Exchange.path_includes_course = True\n")


def write_solved_versions(root: Path) -> None:
    """SOLVED/<assignment>/<notebook>: each student version of the workspace with the solutions filled in."""
    for assignment in all_assignments():
        for source in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
            release = nbs.read_notebook(root / assignment / source.name)
            target = root / SOLVED / assignment / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill_solutions(release, nbs.read_notebook(source)), target)


@pytest.fixture(scope="module")
def server_root(tmp_path_factory):
    """A learner's workspace (all assignments), the solved versions beside it, and the graded class.

    The class is graded in a thread while the notebooks run in the browser; `class_dir` waits for it.
    """
    root = tmp_path_factory.mktemp("lab") / "workspace"
    workspace.prepare(root)
    write_solved_versions(root)
    write_course_config(root)
    with ThreadPoolExecutor(max_workers=1) as pool:  # on the way out, waits for a grading that has started
        grading = pool.submit(demo.run, root / CLASS, [CLASS_ASSIGNMENT])
        yield root, grading


@pytest.fixture(scope="module")
def lab(server_root, tmp_path_factory):
    server = JupyterLab(server_root[0], tmp_path_factory.mktemp("jupyter-home")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    """One page for the whole module: headless Debian Chromium with a new, empty profile, JupyterLab loaded."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_FLAGS, viewport=VIEWPORT)
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            lab_page.open_lab(page, lab.lab_url())
            yield page
        finally:
            browser.close()


def open_notebook(page, root: Path, relative: str) -> None:
    code_cells, cells = shape(root / relative)
    lab_page.open_notebook(page, relative, code_cells=code_cells, cells=cells)


def screenshot_path(*parts: str) -> str:
    return str(SCREENSHOTS / ("-".join(parts) + ".png"))


# --- the learner's workspace --------------------------------------------------------------------------------------

def test_workspace_holds_the_student_versions_only(server_root):
    root, _ = server_root
    for assignment in all_assignments():
        for source in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
            text = (root / assignment / source.name).read_text()
            assert "NotImplementedError" in text or "YOUR ANSWER HERE" in text, f"{assignment}/{source.name}"
            for secret in (nbs.SOLUTION_BEGIN, *HIDDEN_TEST_TRACES):
                assert secret not in text, f"the workspace's {assignment}/{source.name} holds {secret!r}"


# --- a student's round per assignment -------------------------------------------------------------------------

@pytest.mark.parametrize("assignment", IN_BROWSER)
def test_solved_notebook_runs_without_errors_and_validates(assignment, server_root, page):
    root, _ = server_root
    for source in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        relative = f"{SOLVED}/{assignment}/{source.name}"
        open_notebook(page, root, relative)
        lab_page.start_run_all(page)
        # Validate saves the notebook and re-runs it from scratch in a kernel of its own: pressed while Run All
        # runs, the two runs share the two cores instead of taking turns, and neither depends on the other
        validation = lab_page.validate(page, screenshot_path(assignment, source.stem, "solved-validate"))
        assert validation.outcome == "success", f"{relative}: Validate says {validation.text[:1500]}"
        assert "Success! Your notebook passes all the tests." in validation.text
        prompts = lab_page.wait_for_run_all(page)
        assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"{relative}: not every cell ran: {prompts}"
        errors = lab_page.error_outputs(page)
        assert not errors, f"{relative}: cell {errors[0].cell_index} shows {errors[0].last_line}"
        page.screenshot(path=screenshot_path(assignment, source.stem, "solved-run-all"))
        lab_page.close_notebook(page)


@pytest.mark.parametrize("assignment", IN_BROWSER)
def test_untouched_release_fails_its_visible_checks_readably(assignment, server_root, page):
    root, _ = server_root
    for source in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        relative = f"{assignment}/{source.name}"
        tests, written = grade_cells(root / relative)
        open_notebook(page, root, relative)
        lab_page.run_all(page)
        errors = lab_page.error_outputs(page)
        assert errors, f"{relative}: Run All on the untouched release shows no error"
        assert errors[0].last_line.startswith("NotImplementedError"), f"{relative}: {errors[0].last_line}"

        validation = lab_page.validate(page, screenshot_path(assignment, source.stem, "release-validate"))
        assert validation.outcome == "failed", f"{relative}: Validate says {validation.text[:1500]}"
        failed = dict(validation.failed_cells)  # source -> error (written answers share one source)
        assert_visible_checks_fail_readably(relative, tests, written, failed, len(validation.failed_cells))
        for secret in HIDDEN_TEST_TRACES:
            assert secret not in validation.text, f"{relative}: Validate shows {secret!r}"
        lab_page.close_notebook(page)


# --- the self-study learner's check inside the notebook ---------------------------------------------------------

SELF_CHECK = "self-check"  # folder of the server root: a learner's notebook with one exercise solved, one broken


def write_self_check_notebook(root: Path) -> tuple[str, Mistake]:
    """The first assignment's solved student version with a catalogued mistake in rel_error, then two cells that
    check in the kernel: the solved exercise (numerical_gradient), and the broken one. Returns its path in root."""
    source_path = nbs.assignment_notebooks(SOURCE_ROOT, CLASS_ASSIGNMENT)[0]
    mistake = check_module(CLASS_ASSIGNMENT).REL_ERROR_MISTAKES[0]
    notebook = with_mistake(nbs.read_notebook(root / SOLVED / CLASS_ASSIGNMENT / source_path.name), mistake,
                            "rel_error")
    notebook.cells += [nbformat.v4.new_code_cell('from course.self_check import check\n\ncheck("numerical_gradient")'),
                       nbformat.v4.new_code_cell('check("rel_error")')]
    relative = f"{SELF_CHECK}/{CLASS_ASSIGNMENT}/{source_path.name}"
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, root / relative)
    return relative, mistake


def self_check_table(page, cell_index: int) -> list[list[str]]:
    """The rows (exercise, points, message) of the self-check table in the output of a cell."""
    table = page.locator(f"{lab_page.NOTEBOOK} .jp-Cell").nth(cell_index).locator(".jp-OutputArea-output table")
    table.wait_for(timeout=lab_page.RUN_TIMEOUT_MS)
    return [row.locator("td").all_text_contents() for row in table.locator("tbody tr").all()]


def test_learner_checks_exercises_inside_the_notebook(server_root, page):
    root, _ = server_root
    relative, mistake = write_self_check_notebook(root)
    open_notebook(page, root, relative)
    lab_page.run_all(page)  # stops where the broken exercise's visible check fails, as it would for the learner
    errors = lab_page.error_outputs(page)
    assert errors, "the broken exercise's visible check does not fail"
    # the learner goes on below it: Run > Run Selected Cell and All Below, from the next cell
    page.locator(f"{lab_page.NOTEBOOK} .jp-Cell").nth(errors[0].cell_index + 1).locator(".jp-InputPrompt").click()
    lab_page.menu(page, "Run", "notebook:run-all-below")
    cells = shape(root / relative)[1]
    solved = self_check_table(page, cells - 2)
    assert solved and all(points.split("/")[0] == points.split("/")[1] for _, points, _ in solved), solved
    assert {message for _, _, message in solved} == {"ok"}
    broken = self_check_table(page, cells - 1)
    assert broken and all(points.startswith("0/") for _, points, _ in broken), broken
    assert mistake.message in broken[0][2] and broken[0][2].startswith("CheckFailed: rel_error:")
    for secret in HIDDEN_TEST_TRACES:
        assert secret not in "".join(cell for row in solved + broken for cell in row)
    page.locator(f"{lab_page.NOTEBOOK} .jp-Cell").nth(cells - 1).scroll_into_view_if_needed()
    page.locator(lab_page.NOTEBOOK).screenshot(path=screenshot_path("notebook", "self-check"))
    lab_page.close_notebook(page)


# --- the self-study learner's terminal ------------------------------------------------------------------------

def test_learner_grades_a_notebook_with_course_check_in_a_terminal(server_root, page):
    notebook = nbs.assignment_notebooks(SOURCE_ROOT, CLASS_ASSIGNMENT)[0].name
    lab_page.open_terminal(page)
    solved = lab_page.run_in_terminal(page, f"course check {SOLVED}/{CLASS_ASSIGNMENT}/{notebook}")
    assert solved.status == 0, solved.screen
    assert re.search(r"autograded: (\S+) of \1 points", solved.screen), solved.screen
    untouched = lab_page.run_in_terminal(page, f"course check {CLASS_ASSIGNMENT}/{notebook}")
    assert untouched.status == 1, untouched.screen
    assert re.search(r"autograded: 0 of [1-9]\S* points", untouched.screen), untouched.screen
    page.screenshot(path=screenshot_path("terminal", "course-check"))
    lab_page.close_terminal(page)


# --- the instructor's formgrader ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def class_dir(server_root) -> Path:
    root, grading = server_root
    grading.result(timeout=600)  # the graded class, built in the background
    return root / CLASS


def test_formgrader_lists_the_students_with_their_scores(class_dir, page):
    with open(class_dir / "grades.csv", newline="") as f:
        grades = list(csv.DictReader(f))
    frame = lab_page.open_formgrader(page)
    frame.locator("a", has_text="Manage Students").click()
    rows = frame.locator("table.dataTable tbody tr")
    rows.filter(has_text=grades[0]["student_id"]).wait_for()
    shown = {row.locator("td.id").inner_text().strip(): row.locator("td.score").inner_text().strip()
             for row in rows.all()}
    expected = {g["student_id"]: f"{float(g['raw_score']):g} / {float(g['max_score']):g}" for g in grades}
    assert shown == expected
    page.screenshot(path=screenshot_path("formgrader", "students"))
    lab_page.close_tab(page)


def test_formgrader_shows_points_and_check_messages_per_cell(class_dir, page):
    student = "demo-mistakes-1"
    source = nbs.assignment_notebooks(SOURCE_ROOT, CLASS_ASSIGNMENT)[0]
    with Gradebook(f"sqlite:///{class_dir / 'gradebook.db'}") as gradebook:
        grades = {g.name: (g.auto_score, g.max_score) for g in gradebook.find_submission_notebook(
            source.stem, CLASS_ASSIGNMENT, student).grades}
    assert any(auto is not None and auto < most for auto, most in grades.values()), "the mistake costs points"
    frame = lab_page.open_formgrader(page)
    frame.locator("a", has_text="Manage Students").click()
    frame.locator(f"a[href$='/manage_students/{student}']").click()
    frame.locator("a", has_text=CLASS_ASSIGNMENT).first.click()
    frame.locator("a", has_text=re.compile(rf"^{re.escape(source.stem)}$")).click()
    messages = []
    for grade_id, (auto_score, max_score) in grades.items():
        score = frame.locator(f"input.score#{grade_id}")  # the formgrader's script fills it in after loading
        if auto_score is None:  # a written answer: waits for a person
            expect(score).to_have_class(re.compile(r"\bneeds_manual_grade\b"))
            continue
        expect(score).to_have_attribute("placeholder", f"{auto_score:g}")
        if auto_score < max_score:  # the cell shows why it lost points: the check's message
            cell = frame.locator("div.cell", has=score)
            message = cell.locator(".output_error").first
            messages.append(message.inner_text())
            assert re.search(r"\w+(Error|Exception|Failed)\b.*\S", messages[-1]), f"{grade_id}: {messages[-1]}"
            message.scroll_into_view_if_needed()
    assert any("Likely mistake:" in m for m in messages), messages
    page.screenshot(path=screenshot_path("formgrader", "submission"))
    lab_page.close_tab(page)


# --- a student in a class: the assignment list --------------------------------------------------------------------

def test_student_fetches_and_submits_through_the_assignment_list(server_root, class_dir, page):
    root, _ = server_root
    notebook = nbs.assignment_notebooks(SOURCE_ROOT, CLASS_ASSIGNMENT)[0].name
    nbgrader(class_dir, "release_assignment", CLASS_ASSIGNMENT, "--force", f"--Exchange.root={exchange_dir(root)}",
             quiet=True)  # the instructor releases to the exchange

    lab_page.open_assignment_list(page)
    lab_page.assignment_list_action(page, "released", CLASS_ASSIGNMENT, "Fetch")
    lab_page.assignment_list_action(page, "fetched", CLASS_ASSIGNMENT, "Submit")
    page.screenshot(path=screenshot_path("assignment-list", "submitted"))
    lab_page.close_tab(page)

    fetched = root / COURSE_ID / CLASS_ASSIGNMENT / notebook
    assert fetched.read_text() == (class_dir / "release" / CLASS_ASSIGNMENT / notebook).read_text()
    nbgrader(class_dir, "collect", CLASS_ASSIGNMENT, f"--Exchange.root={exchange_dir(root)}", quiet=True)
    collected = class_dir / "submitted" / get_username() / CLASS_ASSIGNMENT / notebook
    assert nbs.read_notebook(collected).cells == nbs.read_notebook(fetched).cells
