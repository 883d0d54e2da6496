# Everything starts from a fresh clone with Python 3.11, make and git: the first target that needs the
# environment creates it (.venv, pinned packages from pyproject.toml) and reuses it afterwards.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_JOBS ?= 2

.PHONY: setup test demo lab solutions benchmark student-wheel hub hub-proxy clean help

help:
	@echo "make setup          create $(VENV) with the pinned packages (instructor tools and tests)"
	@echo "make test           run the whole test suite (what CI runs)"
	@echo "make demo           release, submit, grade, feedback and export for a demo class in build/demo"
	@echo "make lab            your self-study workspace (student versions, your work kept) opened in JupyterLab"
	@echo "make solutions      re-execute the worked solutions into solutions/"
	@echo "make benchmark      time every solution notebook"
	@echo "make student-wheel  build the student package (course without autograder) into dist/"
	@echo "make hub-proxy      install configurable-http-proxy (pinned, from npm) into hub/node_modules"
	@echo "make hub USERS=alice,bob,carol  a trial class on this machine's JupyterHub (as root)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadgroup

demo: $(STAMP)
	$(BIN)/course demo

lab: $(STAMP)
	$(BIN)/course lab

solutions: $(STAMP)
	$(BIN)/python -m autograder.instructor.solutions

benchmark: $(STAMP)
	$(BIN)/python benchmarks/solution_times.py

student-wheel: $(STAMP)
	$(BIN)/python -m autograder.instructor.student_wheel dist

hub-proxy: hub/node_modules/.bin/configurable-http-proxy

hub/node_modules/.bin/configurable-http-proxy: hub/package.json hub/package-lock.json
	npm ci --prefix hub --no-audit --no-fund --loglevel=error
	touch $@

USERS ?= alice,bob,carol
hub: $(STAMP) hub-proxy
	$(BIN)/course hub --users $(USERS)

clean:
	rm -rf build dist release submitted autograded feedback gradebook.db .pytest_cache
