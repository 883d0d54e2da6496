"""What Validate must say of an untouched release, whoever presses it: stock nbgrader's Validator in the quality
gates (tests/test_quality_gates.py) and JupyterLab's button in the browser (tests/browser/)."""

from __future__ import annotations

import re

from autograder import notebooks as nbs

HIDDEN_TEST_TRACES = (nbs.HIDDEN_BEGIN, "from autograder", "import autograder")  # hidden tests import their checks


def assert_visible_checks_fail_readably(where: str, tests: list, written: list, failed: dict, listed: int) -> None:
    """Every visible check of `tests` (the release's test cells) fails with an exception a student can read, every
    written answer of `written` is "You did not provide a response.", and Validate lists no other cell.

    failed: source -> error text of the cells Validate lists as failed (written answers share one source);
    listed: how many cells it lists.
    """
    # a cell whose visible checks reuse another exercise's function (course.reuse) says "fix it first" and runs
    # them only once that function passes its quick check: with every stub untouched, it need not fail
    guarded = [cell for cell in tests if "reused_functions_work(" in nbs.remove_hidden_tests(cell.source)]
    for cell in tests:  # every other visible check fails, with the exception a student can read
        if cell in guarded:
            continue
        error = failed.get(cell.source.strip())
        assert error is not None, f"{where}: Validate does not list {nbs.grade_id(cell)} as failed"
        exception_line = re.search(r"^\s*\w+(Error|Exception)\b", error, re.MULTILINE)
        assert exception_line, f"{nbs.grade_id(cell)}: no exception a student can read in {error[-500:]}"
    for cell in written:
        assert failed.get(cell.source.strip()) == "You did not provide a response.", nbs.grade_id(cell)
    assert len(tests) - len(guarded) + len(written) <= listed <= len(tests) + len(written), \
        f"{where}: Validate lists {listed} failed cells, not {len(tests)} (less up to {len(guarded)} that reuse " \
        f"another function) + {len(written)}"
