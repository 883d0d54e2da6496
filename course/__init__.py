"""Student-side toolkit of the course: data, gradient checking, plots, a small training loop and the `course` command.

Everything a notebook imports lives here. The graders' checks live in the separate `autograder` package, which a
student's environment does not have.
"""

__version__ = "0.1.0"
