"""Instructor side of the course: the checks hidden tests call, their PyTorch references, mistake catalogues,
and the grading engine behind the `course` command.

A hidden test cell is one or two lines, for example::

    from autograder.a00_getting_started import check_rel_error
    check_rel_error(rel_error)

Students never get this package (see `autograder.student_wheel`).
"""
