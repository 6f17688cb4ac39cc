# The README's two commands. Both install what is missing first and are quick when nothing changed.
VENV ?= .venv
PYTHON ?= python3
KIT := $(VENV)/bin/kit
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-dev

.PHONY: lab test setup setup-test lock

lab: setup ## start the sandbox and open JupyterLab on lab 00; Ctrl-C stops both
	$(KIT) lab

# Most tests wait on the sandbox (alerts firing, notebooks running) more than they compute, so several
# workers, each with a sandbox of its own, share two cores. Tests marked `quiet` measure latency and
# throughput, which a busy CPU would distort: they run afterwards, when they alone share the cores (their
# load steps wait more than they compute). The `calm` ones mostly wait on slow alerts with little CPU, so
# they start first in the busy run, on a fifth worker's worth of room: the other four keep the cores busy,
# and the quiet run is not kept waiting for them.
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: each worker, and each of the hundreds of
# processes the tests start (kernels, graders, `kit` commands, sandbox services), would otherwise compile the
# kit again, and pytest would rewrite every test module again in each worker of the second run.
# The quiet run is given the files that hold quiet tests (tests/test_makefile.py keeps the list whole), so its
# workers do not each collect the whole suite again to keep a few dozen of its tests.
WORKERS ?= 5
QUIET_TESTS := tests/load/test_capacity.py tests/load/test_loadtest.py tests/shop/test_service.py
test: setup-test ## run every test: unit, sandbox, notebooks, grading, browser
	scripts/system-packages.sh --test
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pytest -n $(WORKERS) --dist loadfile -m "not quiet"
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pytest -n 3 --dist loadfile -m quiet $(QUIET_TESTS)

setup: $(STAMP)
	$(KIT) binaries --install

setup-test: $(TEST_STAMP)
	$(KIT) binaries --install

# Exact versions from constraints.txt, for the build backend too: a new release elsewhere changes nothing here.
# `make lab` installs what running the labs needs; `make test` adds the test tools (the dev extra).
$(TEST_STAMP): EXTRAS = [dev]
$(STAMP) $(TEST_STAMP): pyproject.toml constraints.txt
	scripts/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade -c constraints.txt pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt --build-constraint constraints.txt -e '.$(EXTRAS)'
	touch $@

lock: ## re-resolve constraints.txt to the newest versions pyproject.toml allows (after adding a dependency)
	scripts/lock.sh $(PYTHON)
