"""nbgrader configuration: the repository root is the course directory.

Stock commands work from here: `nbgrader generate_assignment 00_getting_started`, `nbgrader autograde
00_getting_started`, `nbgrader generate_feedback 00_getting_started`, `nbgrader export`, and the formgrader.
"""

import os

from autograder.course_dir import COURSE_TEMPLATES, NBGRADER_TEMPLATES

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "dnn-fundamentals"
c.CourseDirectory.source_directory = "source_notebooks"

# The gradebook: gradebook.db (SQLite) in the course directory, unless COURSE_DB_URL names another database, such as
# the PostgreSQL database that graders on several machines share (docs/deployment.md):
#   COURSE_DB_URL=postgresql+psycopg://grader@db.example.org/dnn_course
if os.environ.get("COURSE_DB_URL"):
    c.CourseDirectory.db_url = os.environ["COURSE_DB_URL"]

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer than this fails (only that cell); the whole notebook is bounded by the grader.
c.Execute.timeout = 120

# Feedback shows the student's work, points and the checks' messages, never the hidden tests' source, and never
# runs a student's HTML: what a student wrote is sanitized (scripts and event handlers become text).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.instructor.feedback.ClearHiddenTestsOfTestCells",
    "nbconvert.preprocessors.sanitize.SanitizeHTML",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.SanitizeHTML.enabled = True  # nbconvert's preprocessors are off unless enabled

# The feedback pages and the formgrader render LaTeX with MathJax from the installed jupyter-server-mathjax, never
# from a CDN: the course's templates come before nbgrader's (autograder/instructor/templates/base/mathjax.html.j2).
c.HTMLExporter.extra_template_basedirs = [str(COURSE_TEMPLATES), str(NBGRADER_TEMPLATES)]
c.HTMLExporter.filters = {"installed_mathjax_uri": "autograder.instructor.feedback.installed_mathjax_uri"}
