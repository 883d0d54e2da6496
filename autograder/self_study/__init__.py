"""Grading for a learner who studies alone, in their own process, with the checks and messages of `course grade`:
`self_check` (the in-notebook check, `course check`, `course progress`) and `check_report` (the table `course
check` prints)."""
