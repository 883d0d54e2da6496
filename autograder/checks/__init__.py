"""The checks hidden test cells call: `aNN_name` holds one assignment's checks, their PyTorch references and
mistake catalogues (`from autograder.checks.a01_backprop import check_...`); `framework` is how a check is written
(seeded inputs, comparisons, diagnosis); `handle` and `plain` are the narrow way a check calls student code, with
plain data, in the student's kernel or from the grader. Nothing here imports the grading engine (only the sandbox's
stand-alone torch detector)."""
