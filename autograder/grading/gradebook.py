"""Grades into nbgrader's gradebook, many tasks per transaction.

nbgrader's own `update_or_create_student` and `update_or_create_submission` commit once each, and a commit waits for
the disk: three commits per graded submission, with a flush of every row one by one. `GradebookWriter.stage` builds
the same rows with nbgrader's own classes, in the session only; `commit` then writes every staged task at once.
A new submission gets exactly what `Gradebook.add_submission` would create (tests/test_gradebook.py compares them),
with the auto scores and automatic comments already set, as nbgrader's SaveAutoGrades would set them.

The gradebook is wherever nbgrader's `CourseDirectory.db_url` says (`db_url`): gradebook.db in the course directory
by default, or a PostgreSQL database that graders on several machines share (nbgrader_config.py reads it from
COURSE_DB_URL). Through SQLAlchemy the writer is the same for both; a transaction holds one grader's tasks, and
graders of different shards (`course grade --shard`) never write the same student's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def db_url(course_dir: Path) -> str:
    """The gradebook's SQLAlchemy address: `CourseDirectory.db_url` of the course's nbgrader configuration when it
    sets one (for PostgreSQL: postgresql+psycopg://user@host/database), else nbgrader's default, gradebook.db in
    the course directory."""
    from autograder.course_dir import nbgrader_config

    configured = nbgrader_config().CourseDirectory.get("db_url")
    return configured or f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


@dataclass(frozen=True)
class NotebookLayout:
    """One notebook of a released assignment: what a submission of it is given (see Gradebook.add_submission)."""
    notebook: object            # nbgrader.api.Notebook
    name: str                   # its name (read once: a commit expires the object, and reading it again costs a query)
    grade_cells: tuple          # (cell id, cell name) of the grade cells
    comment_cells: tuple        # (cell id, cell name) of the solution cells, then the task cells: a Comment each
    task_cells: tuple           # (cell id, cell name) of the task cells: a Comment and a Grade each


class GradebookWriter:
    """Stages students, submissions and auto scores in the gradebook's session; commit() writes them together."""

    def __init__(self, gradebook):
        self.gradebook = gradebook
        self.db = gradebook.db
        self._assignments: dict[str, tuple] = {}   # name -> (Assignment, [NotebookLayout]), read once per run
        # what is staged and not committed yet (a query would not find it without writing the batch row by row)
        self._staged: dict[tuple, tuple] = {}      # (assignment, student id) -> (grades, comments)
        self._new_students: dict[str, object] = {}  # student id -> Student

    def _assignment(self, name: str):
        if name not in self._assignments:
            assignment = self.gradebook.find_assignment(name)
            layouts = []
            for notebook in assignment.notebooks:
                task_cells = tuple((c.id, c.name) for c in notebook.task_cells)
                layouts.append(NotebookLayout(
                    notebook, notebook.name, tuple((c.id, c.name) for c in notebook.grade_cells),
                    tuple((c.id, c.name) for c in notebook.solution_cells) + task_cells,
                    task_cells))
            self._assignments[name] = (assignment, layouts)
        return self._assignments[name]

    def _student(self, student_id: str):
        from nbgrader.api import Student

        if student_id in self._new_students:
            return self._new_students[student_id]
        with self.db.no_autoflush:
            student = self.db.get(Student, student_id)
        if student is None:
            student = self._new_students[student_id] = Student(id=student_id)
            self.db.add(student)
        return student

    def stage(self, assignment: str, student_id: str, timestamp, scores: dict, comments: dict | None = None) -> None:
        """Stage one submission, its auto scores and automatic comments, without committing.

        scores: {(notebook name, grade cell name): auto score, None when a person must grade it};
        comments: {(notebook name, answer cell name): automatic comment or None} (see engine.auto_comments).
        An existing submission keeps its rows (manual grades and comments included); a new one is made.
        """
        staged = self._staged.get((assignment, student_id))
        if staged is None:
            staged = self._staged[assignment, student_id] = self._submission(assignment, student_id, timestamp)
        grades, comment_rows = staged
        for key, points in scores.items():
            grade = grades[key]
            grade.auto_score = points
            grade.needs_manual_grade = points is None or grade.manual_score is not None
        for key, text in (comments or {}).items():
            comment_rows[key].auto_comment = text

    def _submission(self, assignment: str, student_id: str, timestamp) -> tuple[dict, dict]:
        """The student's submission of the assignment, made if new: its grades and comments by (notebook, cell)."""
        from nbgrader.api import (Assignment, BaseCell, Comment, Grade, Notebook, SubmittedAssignment,
                                  SubmittedNotebook)

        student = self._student(student_id)
        with self.db.no_autoflush:  # the lookups below must not write the batch staged so far, row by row
            submission = (self.db.query(SubmittedAssignment)
                          .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                          .filter(Assignment.name == assignment, SubmittedAssignment.student_id == student_id)
                          .one_or_none())
            if submission is None:
                return self._new_submission(assignment, student, timestamp)
            submission.timestamp = timestamp
            grades, comments = ({(notebook_name, cell_name): row for row, notebook_name, cell_name in
                                 self.db.query(kind, Notebook.name, BaseCell.name)
                                 .join(SubmittedNotebook, kind.notebook_id == SubmittedNotebook.id)
                                 .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                                 .join(BaseCell, kind.cell_id == BaseCell.id)
                                 .filter(SubmittedNotebook.assignment_id == submission.id)}
                                for kind in (Grade, Comment))
            return grades, comments

    def _new_submission(self, assignment: str, student, timestamp) -> tuple[dict, dict]:
        """What Gradebook.add_submission makes: a SubmittedNotebook per notebook, a Grade per grade cell, a Comment
        per solution cell, a Comment and a Grade per task cell. Returns its grades and comments by (notebook, cell
        name)."""
        from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook

        released, layouts = self._assignment(assignment)
        grades, comments, rows = {}, {}, []
        with self.db.no_autoflush:  # linking to the released notebooks must not flush half-built rows
            submission = SubmittedAssignment(assignment=released, student=student, timestamp=timestamp)
            rows.append(submission)
            for layout in layouts:
                notebook = SubmittedNotebook(notebook=layout.notebook, assignment=submission)
                rows.append(notebook)
                for cell_id, name in layout.grade_cells:
                    grades[layout.name, name] = Grade(cell_id=cell_id, notebook=notebook)
                for cell_id, name in layout.comment_cells:
                    comments[layout.name, name] = Comment(cell_id=cell_id, notebook=notebook)
                for cell_id, name in layout.task_cells:
                    grades[layout.name, name] = Grade(cell_id=cell_id, notebook=notebook)
            self.db.add_all(rows + list(grades.values()) + list(comments.values()))
        return grades, comments

    def commit(self) -> None:
        """Write everything staged in one transaction; on any error nothing of it is written."""
        self._staged.clear()
        self._new_students.clear()
        try:
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def rollback(self) -> None:
        """Drop everything staged since the last commit."""
        self._staged.clear()
        self._new_students.clear()
        self.db.rollback()
