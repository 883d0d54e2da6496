"""`course similar`: which submissions of an assignment are suspiciously alike, answer cell by answer cell.

copydetect (MOSS-style winnowing) fingerprints each answer cell of each submission after its tokenizer has
replaced every name by one letter and dropped comments and whitespace, so renamed variables and changed comments
do not hide a copy; fingerprints are a set, so neither does reordering functions. The released stubs and the
notebook's given code are boilerplate: their fingerprints are removed before comparing.

A pair's similarity is the share of its answer code that matches, summed over the answer cells both answered and
counted in tokens, so long answers weigh more than short ones; of the two students' shares the larger counts (one
may have copied all of a longer answer). A pair is listed when that share reaches the threshold and at least
min_tokens tokens match: a one-line formula that every correct solution writes alike never lists a pair.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import find_fingerprint_overlap, get_copied_slices, highlight_overlap

from autograder.grading import engine, course_grade as grading
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, CourseError
from autograder.instructor.html_page import Raw, escape, page, png_data_uri, table, write_atomically

NOISE_TOKENS = 25       # copydetect's k: matches shorter than this are noise
GUARANTEE_TOKENS = 30   # matches at least this long are always found (the winnowing window follows from both)
THRESHOLD = 0.5
MIN_TOKENS = 150
SIDE_BY_SIDE_PAIRS = 100  # the most similar pairs shown side by side; similar.csv lists them all


@dataclass(frozen=True)
class AnswerCell:
    notebook: str
    grade_id: str


@dataclass
class CellMatch:
    cell: AnswerCell
    tokens_a: int              # matching tokens, counted in the first student's answer
    tokens_b: int              # and in the second's
    print_a: CodeFingerprint
    print_b: CodeFingerprint

    def highlighted(self) -> tuple[str, str]:
        """Both answers as HTML, their matching parts in <mark>."""
        _, _, (slices_a, slices_b) = compare_files(self.print_a, self.print_b)
        return tuple(highlight_overlap(fp.raw_code, slices, "<mark>", "</mark>", escape_html=True)[0]
                     if slices.size else escape(fp.raw_code)
                     for fp, slices in ((self.print_a, slices_a), (self.print_b, slices_b)))


@dataclass
class Pair:
    student_a: str
    student_b: str
    tokens_a: float = 0.0       # tokens of the answers both gave (after the boilerplate is removed)
    tokens_b: float = 0.0
    matching_a: float = 0.0     # of those, matching the other student's
    matching_b: float = 0.0
    matches: list[CellMatch] = field(default_factory=list)

    @property
    def similarity(self) -> float:
        return max(self.matching_a / self.tokens_a if self.tokens_a else 0.0,
                   self.matching_b / self.tokens_b if self.tokens_b else 0.0)

    @property
    def matching_tokens(self) -> float:
        return min(self.matching_a, self.matching_b)


@dataclass
class Found:
    assignment: str
    students: int
    cells: int
    pairs: list[Pair]              # every pair that shares any fingerprint, most similar first
    listed: list[Pair]             # those above the threshold
    unreadable: dict[str, str]     # "student/notebook" -> why it could not be read
    threshold: float
    min_tokens: int
    page: Path | None = None
    csv: Path | None = None

    @property
    def summary(self) -> str:
        lines = [f"{self.assignment}: {self.students} submissions, {self.cells} answer cells each, "
                 f"{self.students * (self.students - 1) // 2} pairs compared; {len(self.listed)} pairs at or above "
                 f"{100 * self.threshold:.0f} % similar"]
        lines += [f"  {p.student_a} and {p.student_b}: {100 * p.similarity:.0f} % "
                  f"({p.matching_tokens:.0f} tokens match)" for p in self.listed[:10]]
        if len(self.listed) > 10:
            lines.append(f"  and {len(self.listed) - 10} more")
        if self.page:
            lines.append(f"  side by side: {self.page}\n  pairs: {self.csv}")
        return "\n".join(lines)


def fingerprint(text: str, boilerplate=None, window: int | None = None) -> CodeFingerprint:
    """copydetect's fingerprint of a piece of Python code."""
    return CodeFingerprint("answer.py", NOISE_TOKENS, window or GUARANTEE_TOKENS - NOISE_TOKENS + 1,
                           boilerplate=boilerplate, language="python", fp=io.StringIO(text))


def answer_cells_and_boilerplate(assignment: str) -> tuple[list[AnswerCell], np.ndarray]:
    """The code answer cells of an assignment, and the fingerprints of what every student was given: the released
    stubs of the answer cells and every other code cell of the released notebooks."""
    cells, given = [], set()
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        release = engine.release_version(nbs.read_notebook(path))
        for cell in release.cells:
            if cell.cell_type != "code":
                continue
            if nbs.is_solution(cell):
                cells.append(AnswerCell(path.name, nbs.grade_id(cell)))
            given |= fingerprint(cell.source, window=1).hashes  # every k-gram, as copydetect's own boilerplate
    return cells, np.array(sorted(given), dtype=np.int64)


def read_answers(course_dir: Path, assignment: str, cells: list[AnswerCell]):
    """student -> {answer cell: its text}, and the notebooks that could not be read."""
    tasks = grading.find_tasks(course_dir, [assignment])
    if not tasks:
        raise CourseError(f"{assignment}: no submissions in {course_dir / 'submitted'} (an empty class)")
    wanted = {(c.notebook, c.grade_id): c for c in cells}
    answers, unreadable = {}, {}
    for task in tasks:
        mine = {}
        for name in task.notebooks:
            try:
                notebook = nbs.read_notebook(Path(task.folder) / name)
            except nbs.NotebookError as error:
                unreadable[f"{task.student}/{name}"] = str(error).split(": ", 1)[-1]
                continue
            for cell in notebook.cells:
                key = (name, nbs.grade_id(cell))
                if cell.cell_type == "code" and key in wanted and wanted[key] not in mine:
                    mine[wanted[key]] = cell.source
        answers[task.student] = mine
    return answers, unreadable


def compare(answers: dict[str, dict[AnswerCell, str]], cells: list[AnswerCell], boilerplate) -> list[Pair]:
    """Every pair of students, answer cell by answer cell; the pairs that share any fingerprint, most similar first."""
    students = sorted(answers)
    known: dict[str, CodeFingerprint] = {}  # text -> fingerprint: answers left as released are many and alike
    prints = {(s, c): known.get(answers[s][c]) or known.setdefault(answers[s][c], fingerprint(answers[s][c],
                                                                                              boilerplate))
              for s in students for c in cells if c in answers[s]}
    prints = {key: fp for key, fp in prints.items() if fp.token_coverage > 0}
    pairs: dict[tuple[str, str], Pair] = {}
    for cell in cells:
        # who has which fingerprint: only students sharing one can match at all (the others' overlap is zero)
        owners = defaultdict(set)
        for student in students:
            fp = prints.get((student, cell))
            for value in fp.hashes if fp else ():
                owners[value].add(student)
        candidates = {(a, b) for group in owners.values() if len(group) > 1
                      for a, b in itertools.combinations(sorted(group), 2)}
        for a, b in sorted(candidates):
            fa, fb = prints[a, cell], prints[b, cell]
            tokens_a, tokens_b = matching_tokens(fa, fb)
            if tokens_a <= 0:
                continue
            pair = pairs.setdefault((a, b), Pair(a, b))
            pair.matching_a += tokens_a
            pair.matching_b += tokens_b
            pair.matches.append(CellMatch(cell, tokens_a, tokens_b, fa, fb))
    for (a, b), pair in pairs.items():  # the answers both gave: what each share is a share of
        both = [c for c in cells if (a, c) in prints and (b, c) in prints]
        pair.tokens_a = float(sum(prints[a, c].token_coverage for c in both))
        pair.tokens_b = float(sum(prints[b, c].token_coverage for c in both))
    return sorted(pairs.values(), key=lambda p: (-p.similarity, p.student_a, p.student_b))


def matching_tokens(fa: CodeFingerprint, fb: CodeFingerprint) -> tuple[int, int]:
    """How many tokens of each answer match the other (copydetect's compare_files counts, without the slices)."""
    idx_a, idx_b = find_fingerprint_overlap(fa.hashes, fb.hashes, fa.hash_idx, fb.hash_idx)
    slices_a, slices_b = get_copied_slices(idx_a, fa.k), get_copied_slices(idx_b, fb.k)
    return int(np.sum(slices_a[1] - slices_a[0])), int(np.sum(slices_b[1] - slices_b[0]))


def find(course_dir: Path, assignment: str, threshold: float = THRESHOLD, min_tokens: int = MIN_TOKENS) -> Found:
    cells, boilerplate = answer_cells_and_boilerplate(assignment)
    answers, unreadable = read_answers(Path(course_dir), assignment, cells)
    pairs = compare(answers, cells, boilerplate)
    listed = [p for p in pairs if p.similarity >= threshold and p.matching_tokens >= min_tokens]
    return Found(assignment, len(answers), len(cells), pairs, listed, unreadable, threshold, min_tokens)


def pair_plot(found: Found) -> str:
    """Histogram of every pair's similarity, with the threshold: a copy stands apart from the class."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = found.students * (found.students - 1) // 2
    values = [100 * p.similarity for p in found.pairs] + [0.0] * (n - len(found.pairs))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(values, bins=list(range(0, 101, 5)), color="#4c78a8", edgecolor="white")
    ax.axvline(100 * found.threshold, color="#e45756", linestyle="--", label="threshold")
    ax.set(title=f"{found.assignment}: similarity of every pair ({n} pairs)", xlabel="similarity (%)",
           ylabel="pairs", xlim=(0, 100))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png_data_uri(fig)


def html_listing(found: Found) -> str:
    parts = [f"<p>{found.students} submissions, {found.cells} answer cells each, every pair compared cell by cell; "
             f"{len(found.listed)} pairs at or above {100 * found.threshold:.0f} % similar with at least "
             f"{found.min_tokens} matching tokens.</p>",
             "<p class=note>How it is measured: copydetect (winnowing on tokens, as MOSS) fingerprints each answer "
             "cell after every name has become one letter and comments and layout are gone, so renamed variables, "
             "reordered functions and changed comments do not hide a copy. What the notebook gives every student "
             "(the released stubs and the given code) is left out. A pair's similarity is the share of its answer "
             "code, in tokens, that matches the other's, over the cells both answered: <b>cells are weighted by "
             "their length</b>, and a pair is listed only when enough tokens match, so short answers that every "
             "correct solution writes alike (a one-line formula) do not list honest students. Similar is not "
             "proof: read the matching parts.</p>"]
    if found.unreadable:
        parts.append("<p><b>Left out: notebooks that could not be read</b></p><ul>" + "".join(
            f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted(found.unreadable.items())) + "</ul>")
    if found.students > 1:
        parts.append(f'<img alt="similarity of every pair" src="{pair_plot(found)}">')
    rows = [[Raw(f'<a href="#pair-{k}">{escape(p.student_a)} and {escape(p.student_b)}</a>'
                 if k < SIDE_BY_SIDE_PAIRS else f"{escape(p.student_a)} and {escape(p.student_b)}"),
             f"{100 * p.similarity:.0f} %", f"{p.matching_tokens:.0f}", len(p.matches)]
            for k, p in enumerate(found.listed)]
    parts.append("<h2>Pairs above the threshold</h2>" + (table(["pair", "similarity", "matching tokens",
                                                                 "cells with matches"], rows, numeric={1, 2, 3})
                                                          if rows else "<p>None.</p>"))
    if len(found.listed) > SIDE_BY_SIDE_PAIRS:
        parts.append(f"<p class=note>The {SIDE_BY_SIDE_PAIRS} most similar pairs are shown side by side below; "
                     "similar.csv lists every pair above the threshold.</p>")
    for k, pair in enumerate(found.listed[:SIDE_BY_SIDE_PAIRS]):
        parts.append(f'<h2 id="pair-{k}">{escape(pair.student_a)} and {escape(pair.student_b)}: '
                     f"{100 * pair.similarity:.0f} %</h2>")
        for match in sorted(pair.matches, key=lambda m: -m.tokens_a):
            left, right = match.highlighted()
            parts.append(f"<h3>{escape(match.cell.grade_id)} <span class=note>({match.tokens_a} matching tokens)"
                         f"</span></h3><div class=pair><div><b>{escape(pair.student_a)}</b><pre>{left}</pre></div>"
                         f"<div><b>{escape(pair.student_b)}</b><pre>{right}</pre></div></div>")
    return page(f"Similar submissions: {found.assignment}", "\n".join(parts))


def pairs_csv(found: Found) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student_a", "student_b", "similarity", "matching_tokens", "cells"])
    for p in found.listed:
        writer.writerow([p.student_a, p.student_b, f"{p.similarity:.3f}", f"{p.matching_tokens:.0f}",
                         " ".join(sorted(m.cell.grade_id for m in p.matches))])
    return out.getvalue()


def write(course_dir: Path, assignment: str, threshold: float = THRESHOLD, min_tokens: int = MIN_TOKENS) -> Found:
    """Compare and write reports/<assignment>/similar.html and similar.csv (the listed pairs)."""
    found = find(course_dir, assignment, threshold, min_tokens)
    folder = Path(course_dir) / "reports" / assignment
    found.page, found.csv = folder / "similar.html", folder / "similar.csv"
    write_atomically(found.csv, pairs_csv(found))
    write_atomically(found.page, html_listing(found))
    return found
