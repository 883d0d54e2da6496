"""Instructor side of the course: the checks hidden tests call, their PyTorch references, mistake catalogues,
and the grading engine behind the `course` command.

A hidden test cell is one or two lines, for example::

    from autograder.a00_getting_started import check_rel_error
    check_rel_error(rel_error)

Students never get this package (see `autograder.student_wheel`).
"""

import sys

# nbformat validates with jsonschema, which compiles a Lark grammar for the "iri" string format at import time when
# rfc3987-syntax is installed (jupyter-events pulls it in): 1.2 s in every grading process, for a format no notebook
# schema uses. Without the module, jsonschema simply leaves that format unchecked.
sys.modules.setdefault("rfc3987_syntax", None)
