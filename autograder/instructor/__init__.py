"""Instructor tools: the demo class (`demo`, with `submissions` made from catalogued mistakes), feedback pages
(`feedback`, `templates/`), reading a graded class (`graded_class`; the class report `report` with `html_page`, and
`similarity`), a trial class on JupyterHub (`hub`), the student package (`student_wheel`), and writing the course:
worked solutions (`solutions`) and source notebooks from Python (`authoring`)."""
