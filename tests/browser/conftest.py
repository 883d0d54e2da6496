"""The browser tests share one server and one page (one xdist group), and a failure leaves a clean page.

When a test fails: a screenshot of what the browser saw (build/screenshots/failed-*.png), then its kernels are shut
down and JupyterLab is reloaded with a reset layout (no dialog, no tab left open), so that one failure does not fail
the tests after it.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "page" not in item.funcargs:
        return
    from tests.browser import lab_page
    from tests.browser.test_jupyterlab import screenshot_path

    page, lab = item.funcargs["page"], item.funcargs["lab"]
    try:
        page.screenshot(path=screenshot_path("failed", item.name.replace("/", "_")))
        for kernel in lab.api("kernels"):
            lab.api(f"kernels/{kernel['id']}", method="DELETE")
        lab_page.open_lab(page, lab.lab_url(reset=True))
    except Exception as error:  # the test's own failure is what the report is about
        report.sections.append(("browser recovery", f"after the failure: {type(error).__name__}: {error}"))
