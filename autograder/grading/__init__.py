"""The grading engine. `engine` grades one notebook in a kernel, the way nbgrader's autograde does; `grader`
grades one notebook with the student's code in the sandbox (`sandbox/`) and every verdict computed outside it;
`course_grade` is `course grade`, a whole class in parallel into nbgrader's gradebook (`gradebook`); `by_hand`
finds torch in the source of a by-hand exercise."""
