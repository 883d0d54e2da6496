"""`course report`: what the class got wrong, per assignment, from what `course grade` stored.

One self-contained HTML page per assignment (reports/<assignment>/report.html: the score distribution, and per
exercise, ordered by the points it cost the class, the mean, the shares of full, partial, zero and no response, the
most frequent named mistakes and the share of failures the catalogue could not name), a CSV with one row per
student and exercise (reports/<assignment>/outcomes.csv) and a few lines for the terminal.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.instructor import graded_class
from autograder.instructor.graded_class import Exercise, GradedClass
from autograder.instructor.html_page import Raw, escape, page, png_data_uri, table, write_atomically

TOP_MISTAKES = 3


@dataclass
class ExerciseStats:
    exercise: Exercise
    students: int
    mean_points: float
    full: float            # shares of the class
    partial: float
    zero: float            # zero points, with an answer
    no_response: float
    mistakes: list[tuple[str, float]] = field(default_factory=list)   # (mistake, share of the class), most first
    failures_answered: int = 0        # failures of students who answered
    unnamed: float = 0.0              # share of those the checks could not name

    @property
    def cost(self) -> float:
        """Points each student lost on average."""
        return self.exercise.max_points - self.mean_points


def exercise_stats(graded: GradedClass) -> list[ExerciseStats]:
    """Per exercise, ordered by what it cost the class (most first; notebook order among equals)."""
    stats = []
    for exercise in graded.exercises:
        outcomes = graded.of(exercise)
        n = len(outcomes)
        if not n:
            continue
        full = sum(o.points >= exercise.max_points for o in outcomes)
        silent = sum(o.no_response for o in outcomes)
        zero = sum(o.points == 0 and not o.no_response for o in outcomes)
        failed = [o for o in outcomes if o.points < exercise.max_points and not o.no_response]
        named = Counter(o.mistake for o in outcomes if o.points < exercise.max_points and o.mistake)
        stats.append(ExerciseStats(
            exercise, n, sum(o.points for o in outcomes) / n, full / n, (n - full - zero - silent) / n, zero / n,
            silent / n, [(m, c / n) for m, c in named.most_common()], len(failed),
            sum(o.mistake is None for o in failed) / len(failed) if failed else 0.0))
    order = {e: i for i, e in enumerate(graded.exercises)}
    return sorted(stats, key=lambda s: (-round(s.cost, 9), order[s.exercise]))


def student_scores(graded: GradedClass) -> dict[str, float]:
    """student -> share of the autograded points earned."""
    total = sum(e.max_points for e in graded.exercises)
    got = Counter()
    for outcome in graded.outcomes:
        got[outcome.student] += outcome.points
    return {s: got[s] / total if total else 0.0 for s in graded.students}


def outcomes_csv(graded: GradedClass) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "notebook", "exercise", "points", "max_points", "no_response", "mistake"])
    for o in sorted(graded.outcomes, key=lambda o: (o.student, o.exercise.notebook, o.exercise.grade_id)):
        writer.writerow([o.student, o.exercise.notebook, o.exercise.grade_id, f"{o.points:g}",
                         f"{o.exercise.max_points:g}", "yes" if o.no_response else "", o.mistake or ""])
    return out.getvalue()


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def score_plot(graded: GradedClass) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [100 * s for s in student_scores(graded).values()]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(scores, bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001], color="#4c78a8", edgecolor="white")
    ax.set(title=f"{graded.assignment}: score distribution ({len(scores)} students)",
           xlabel="score (% of the autograded points)", ylabel="students", xlim=(0, 100))
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return png_data_uri(fig)


def outcome_plot(stats: list[ExerciseStats], assignment: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.exercise.grade_id for s in stats][::-1]  # the costliest on top
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.32 * len(stats)))
    left = [0.0] * len(stats)
    for label, colour, attribute in [("full", "#54a24b", "full"), ("partial", "#eeca3b", "partial"),
                                     ("zero", "#e45756", "zero"), ("no response", "#bab0ac", "no_response")]:
        values = [100 * getattr(s, attribute) for s in stats][::-1]
        ax.barh(names, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values)]
    ax.set(title=f"{assignment}: outcome per exercise (costliest on top)", xlabel="% of the class", xlim=(0, 100))
    ax.legend(ncol=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.06), frameon=False)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return png_data_uri(fig)


def html_report(graded: GradedClass, stats: list[ExerciseStats]) -> str:
    scores = student_scores(graded)
    mean = sum(scores.values()) / len(scores) if scores else 0.0
    parts = [f"<p>{len(graded.students)} students graded, mean score {_percent(mean)} of the autograded points; "
             f"{sum(s == 1.0 for s in scores.values())} with full marks.</p>"]
    if graded.not_gradable:
        parts.append("<p><b>Left out: notebooks that could not be graded</b> (their students are not counted):</p><ul>"
                     + "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted(graded.not_gradable.items()))
                     + "</ul>")
    if scores:
        parts.append(f'<h2>Score distribution</h2><img alt="score distribution" src="{score_plot(graded)}">')
    rows = []
    for s in stats:
        mistakes = "<br>".join(f"{_percent(share)} of the class: {escape(m)}"
                               for m, share in s.mistakes[:TOP_MISTAKES]) or "&ndash;"
        if len(s.mistakes) > TOP_MISTAKES:
            mistakes += f"<br><span class=note>and {len(s.mistakes) - TOP_MISTAKES} more in outcomes.csv</span>"
        unnamed = _percent(s.unnamed) if s.failures_answered else "&ndash;"
        rows.append([f"{s.exercise.grade_id}", f"{s.cost:.2f} of {s.exercise.max_points:g}", f"{s.mean_points:.2f}",
                     _percent(s.full), _percent(s.partial), _percent(s.zero), _percent(s.no_response), Raw(mistakes),
                     Raw(unnamed)])
    parts.append("<h2>Exercises by the points they cost the class</h2>"
                 "<p class=note>Lost: the points each student lost on average; the costliest exercise, the weakest "
                 "topic, is on top. Zero: no points with an answer; no response: the answer cell was left as released. "
                 "Named mistakes: the share of the whole class whose failure the checks recognised as that "
                 "catalogued mistake. Not named: the share of the failures (of students who answered) that matched "
                 "no mistake in the catalogue &ndash; where it is high, the catalogue is thin.</p>")
    parts.append(table(["exercise", "lost per student", "mean points", "full", "partial", "zero", "no response",
                        "most frequent named mistakes", "failures not named"], rows, numeric={1, 2, 3, 4, 5, 6, 8}))
    if stats:
        parts.append(f'<img alt="outcome per exercise" src="{outcome_plot(stats, graded.assignment)}">')
    if graded.manual_cells:
        parts.append(f"<p class=note>{graded.manual_cells} written answers per student are graded by hand and not "
                     "part of this report.</p>")
    parts.append("<p class=note>One row per student and exercise: outcomes.csv beside this page.</p>")
    return page(f"Class report: {graded.assignment}", "\n".join(parts))


def terminal_summary(graded: GradedClass, stats: list[ExerciseStats], lines: int = 3) -> str:
    scores = student_scores(graded)
    mean = sum(scores.values()) / len(scores) if scores else 0.0
    out = [f"{graded.assignment}: {len(graded.students)} students, mean score {_percent(mean)}"
           + (f", {len(graded.not_gradable)} notebooks could not be graded" if graded.not_gradable else "")]
    for s in [s for s in stats if s.cost > 0][:lines]:
        silent = f" ({_percent(s.no_response)} no response)" if s.no_response else ""
        top = f"; {_percent(s.mistakes[0][1])} of the class: {s.mistakes[0][0]}" if s.mistakes else ""
        out.append(f"  {s.exercise.grade_id}: {s.cost:.2f} of {s.exercise.max_points:g} points lost per student"
                   + silent + top)
    return "\n".join(out)


@dataclass
class Written:
    assignment: str
    page: Path
    csv: Path
    summary: str
    not_gradable: dict[str, str]


def write(course_dir: Path, assignments: list[str]) -> list[Written]:
    """Write the report of each assignment into reports/<assignment>/.

    Every assignment's class is read first: CourseError (one line) before anything is written when one of them has
    no submissions or is not graded yet.
    """
    classes = [graded_class.load(course_dir, assignment) for assignment in assignments]
    written = []
    for graded in classes:
        stats = exercise_stats(graded)
        folder = Path(course_dir) / "reports" / graded.assignment
        write_atomically(folder / "outcomes.csv", outcomes_csv(graded))
        write_atomically(folder / "report.html", html_report(graded, stats))
        written.append(Written(graded.assignment, folder / "report.html", folder / "outcomes.csv",
                               terminal_summary(graded, stats), graded.not_gradable))
    return written
