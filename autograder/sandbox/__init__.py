"""Running untrusted student code in another process, inside an operating-system sandbox.

`wire` (the plain-data codec and message framing), `detector` (torch use) and `runner` (the process inside the
sandbox) import nothing from the rest of `autograder`: they are mounted alone into the sandbox, where the
`autograder` package itself is not available. `worker` is the trusted side that drives them.
"""
