"""The instructor's pages open offline in headless Debian Chromium: the class report shows its plots, the similarity
listing its side-by-side views, neither logs an error. Screenshots go to build/screenshots/ (the README's
docs/screenshots/course-report.png is one of them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
    pytest.skip("browser test skipped: it needs Debian's chromium (apt-get install chromium, /usr/bin/chromium) and "
                "the Python package playwright", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from autograder.course_dir import REPO_ROOT  # noqa: E402
from autograder.instructor import report, similarity  # noqa: E402
from tests import instructor_class as synthetic  # noqa: E402
from tests.test_instructor import plant_class  # noqa: E402

SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
# As root in a container with a closed network (as tests/browser/test_jupyterlab.py launches it).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
LOADED_IMAGES_JS = "() => Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"


def open_offline(path: Path, screenshot: str) -> tuple[list[str], list[bool], str]:
    """(errors the page logged, whether each image shows, its text), with every request outside file:// refused."""
    errors, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                       else (requests.append(route.request.url), route.abort()))
            page.goto(path.as_uri(), wait_until="load")
            images = page.evaluate(LOADED_IMAGES_JS)
            text = page.inner_text("body")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / screenshot))
        finally:
            browser.close()
    return errors + [f"fetched {url}" for url in requests], images, text


def test_report_page_shows_its_plots(tmp_path):
    plant_class(tmp_path, 0)
    written, = report.write(tmp_path, [synthetic.ASSIGNMENT])
    errors, images, text = open_offline(written.page, "course-report.png")
    assert errors == []
    assert len(images) == 2 and all(images)  # the score distribution and the outcome per exercise
    assert "Exercises by the points they cost the class" in text and "of the class:" in text


def test_similarity_page_shows_the_matching_parts(tmp_path):
    students, copies = synthetic.similarity_class()
    for student, submission in students.items():
        synthetic.write_graded(tmp_path, student, submission, {})
    found = similarity.write(tmp_path, synthetic.ASSIGNMENT)
    errors, images, text = open_offline(found.page, "course-similar.png")
    assert errors == []
    assert len(images) == 1 and all(images)
    for a, b in copies:
        assert f"{a} and {b}" in text
