# Two commands set everything up on a fresh machine: `make rehearse` and `make test`.
# Each creates .venv if missing, installs the project and provisions a Chromium.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# --dist load --maxschedchunk 1: tests handed out in the order tests/support.py gives (the
# longest first), two queued per worker at most, so no long test starts last. (Without
# --maxschedchunk, xdist deals each worker a quarter of its share at once, 32 consecutive tests,
# then refills in chunks: one worker ran its queue alone for the last 90 s of a 453 s run; with
# it, the same suite took 382 s and the workers ended within 7 s of each other.) (No
# xdist_group: with pytest 9.2, xdist 3.8 cannot add the group to the node ids, and under
# --dist loadgroup each test is its own group.) -n 4 on 2 cores: many tests wait (injected
# server latency, timeouts), and a waiting worker leaves its core to the others.
PYTEST_ARGS ?= -n 4 --dist load --maxschedchunk 1 --durations=10

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
