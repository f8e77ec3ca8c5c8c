# Two commands set everything up on a fresh machine: `make rehearse` and `make test`.
# Each creates .venv if missing, installs the project and provisions a Chromium.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# --dist load: a test at a time per worker (a few queued), in the order tests/support.py gives
# (the longest first), so no long test starts last. (No xdist_group: with pytest 9.2, xdist 3.8
# cannot add the group to the node ids, and under --dist loadgroup each test is its own group.)
# -n 4 on 2 cores: many tests wait (injected server latency, timeouts), and a waiting worker
# leaves its core to the others.
PYTEST_ARGS ?= -n 4 --dist load --durations=10

.PHONY: help rehearse test bench install browser clean

help:
	@echo "make rehearse   bootstrap ops-hub against a local sandbox, headless, with an audit trail"
	@echo "make test       the test suite (real Chromium, real HTTP, real database)"
	@echo "make bench      the benchmark (writes docs/benchmarks.md and docs/benchmarks.json)"

rehearse: browser
	$(BIN)/ihub-bootstrap rehearse

test: browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: browser
	$(BIN)/python -m flows.bench

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: ihub-bootstrap needs Python >= 3.11 (set PYTHON=python3.11 or newer)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[sandbox,test]'
	touch $(STAMP)

browser: $(STAMP)
	@$(BIN)/python -m flows.provision

clean:
	rm -rf $(VENV) .pytest_cache
