"""nbgrader preprocessors for the feedback pages (`course feedback`, `nbgrader generate_feedback`), configured in
nbgrader_config.py.

A feedback page renders the notebook's LaTeX with a MathJax installed on this machine (templates/base/mathjax.html.j2),
so it reads the same offline. It shows the student's own text. Two things in it must not reach the page as they are:
the hidden tests of the course's test cells (removed), and HTML a student wrote, which nbconvert's SanitizeHTML, run
after these, turns into text.
"""

from __future__ import annotations

from pathlib import Path

import jupyter_server_mathjax
from nbgrader.preprocessors import ClearHiddenTests

from autograder import notebooks as nbs
# nbconvert template folders for the feedback pages and the formgrader, the course's first: its base/mathjax.html.j2
# loads MathJax from jupyter-server-mathjax instead of a CDN (nbgrader_config.py sets HTMLExporter to these).
from autograder.course_dir import COURSE_TEMPLATES, NBGRADER_TEMPLATES  # noqa: F401

INSTALLED_MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"


def installed_mathjax_uri(name: str) -> str:
    """The file: URI of a file of the installed MathJax (a Jinja filter: "MathJax.js" | installed_mathjax_uri)."""
    return (INSTALLED_MATHJAX / name).as_uri()


class ClearHiddenTestsOfTestCells(ClearHiddenTests):
    """nbgrader's ClearHiddenTests on the course's test cells only.

    The grader has put back every test cell as the source has it, so only test cells hold hidden tests; a student's
    own cell or answer that merely contains the marker text (a comment `# ### BEGIN HIDDEN TESTS`) is the student's
    text, shown as written, where stock ClearHiddenTests fails the whole page (and `nbgrader generate_feedback` the
    rest of the run).
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not nbs.is_test(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)
