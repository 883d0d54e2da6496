"""Running untrusted student code in another process, inside an operating-system sandbox.

`wire` (the plain-data codec and message framing), `torch_stand_in` (what `import torch` gives where functions
graded by hand run) and `runner` (the process inside the sandbox) import nothing from the rest of `autograder`: they
are mounted alone into the sandbox, where the `autograder` package itself is not available. `worker` is the trusted
side that drives them. `detector` (torch use seen from inside a process) serves the handle of a notebook's own
kernel (handle.LocalHandle), where there is no sandbox.
"""
