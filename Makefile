# The README's two commands. Both install what is missing first and are quick when nothing changed.
VENV ?= .venv
PYTHON ?= python3
KIT := $(VENV)/bin/kit
STAMP := $(VENV)/.installed

.PHONY: lab test setup lock

lab: setup ## start the sandbox and open JupyterLab on lab 00; Ctrl-C stops both
	$(KIT) lab

# Two workers, each with a sandbox of its own. A third halves the waiting but starves the
# load-generator tests of CPU on a two-core machine.
test: setup ## run every test: unit, sandbox, notebooks, grading, browser
	scripts/system-packages.sh --test
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile

setup: $(STAMP)
	$(KIT) binaries --install

# Exact versions from constraints.txt, for the build backend too: a new release elsewhere changes nothing here.
$(STAMP): pyproject.toml constraints.txt
	scripts/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade -c constraints.txt pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt --build-constraint constraints.txt -e '.[dev]'
	touch $(STAMP)

lock: ## re-resolve constraints.txt to the newest versions pyproject.toml allows (after adding a dependency)
	scripts/lock.sh $(PYTHON)
