"""Instructor tools around grading: running a class on JupyterHub (`course hub`), and reading a graded class: the
class report (`course report`) and the similarity check (`course similar`), which read what grading stores
(submitted/ and autograded/) and never regrade."""
