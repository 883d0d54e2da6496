"""Instructor side of the course, grouped by concern:

- `checks/`: what hidden test cells call: one module of checks per assignment (`a01_backprop`, ...) with their
  PyTorch references and mistake catalogues, the check framework, and the handle and plain data through which a
  check calls student code;
- `grading/`: the grading engine: one notebook in a kernel (`engine`) or with the student's code in the sandbox
  (`grader`, `sandbox/`), a whole class into nbgrader's gradebook (`course_grade`: `course grade`);
- `self_study/`: grading in the learner's own process (`course check`, `course progress`, the in-notebook check);
- `instructor/`: the instructor's tools: the demo, feedback pages, the class report, similarity, the hub, the
  student wheel, worked solutions and authoring;
- `notebooks` (nbgrader's cell kinds) and `course_dir` (where the course's files are), which every part uses.

A hidden test cell is one or two lines, for example::

    from autograder.checks.a00_getting_started import check_rel_error
    check_rel_error(rel_error)

Students never get this package (see `autograder.instructor.student_wheel`).
"""

import sys

# nbformat validates with jsonschema, which compiles a Lark grammar for the "iri" string format at import time when
# rfc3987-syntax is installed (jupyter-events pulls it in): 1.2 s in every grading process, for a format no notebook
# schema uses. Without the module, jsonschema simply leaves that format unchecked.
sys.modules.setdefault("rfc3987_syntax", None)
