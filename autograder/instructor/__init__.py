"""Instructor tools that read a graded class: the class report (`course report`) and the similarity check
(`course similar`). They read what grading stores (submitted/ and autograded/) and never regrade."""
