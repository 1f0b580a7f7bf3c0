# One command surface. `make demo` and `make test` bootstrap everything they need.
# Debian's own python3.11 where it can make a venv: linked statically and built with PGO and
# LTO, it ran four test files in 4-6 % less CPU than pyenv's shared, unoptimised 3.11.7 on the
# same machine (docs/performance-notes.md, thirty-fourth session); else python3.11 on PATH.
# An existing .venv keeps the interpreter it was made with (remove .venv to change it).
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3.11 || echo python3.11)
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed
PACKAGES := benchmarks dashboards data_contracts generator kernel pipelines transforms

.PHONY: install demo test test-fast lint bench bench-10m dashboard dagster clean

install: $(STAMP)

# --compile-bytecode: the .pyc files are written once here; with PYTHONDONTWRITEBYTECODE set
# (as on the CI machine) every process would otherwise compile its imports anew (2-3 s per
# `lagebild` call, docs/performance.md); compileall does the same for this checkout's own
# packages (0.2 s per process; a file edited later is compiled in memory as before).
# transforms.themes.lemmas stores simplemma's German dictionary decoded (1 s less Python in
# every run with text themes); pipelines.dagster_home an empty Dagster storage that a new
# workspace copies (0.4 s less in its first run).
$(STAMP): requirements.lock pyproject.toml scripts/system-packages.sh Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q $(PACKAGES)
	$(BIN)/python -m transforms.themes.lemmas
	$(BIN)/python -m pipelines.dagster_home
	@scripts/system-packages.sh
	@touch $(STAMP)

demo: install
	$(BIN)/lagebild demo --workspace demo-workspace

# the tests' temporary files in RAM where there is room (scripts/tests-in-ram.sh)
test: install
	scripts/tests-in-ram.sh $(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder

test-fast: install
	scripts/tests-in-ram.sh $(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m benchmarks

# 10,000,000 cases from 500 providers (issue 15): most of an hour, not part of `make bench`
bench-10m: install
	$(BIN)/python -m benchmarks.tenm

dashboard: install
	@test -f demo-workspace/published/lagebild.duckdb || $(BIN)/lagebild demo --workspace demo-workspace
	$(BIN)/lagebild dashboard --workspace demo-workspace --demo

dagster: install
	@test -f demo-workspace/lagebild.duckdb || $(BIN)/lagebild demo --workspace demo-workspace
	umask 077; LAGEBILD_WORKSPACE=$(CURDIR)/demo-workspace LAGEBILD_INBOX=$(CURDIR)/demo-workspace/inbox \
	DAGSTER_HOME=$(CURDIR)/demo-workspace/.dagster $(BIN)/dagster dev -m pipelines.definitions

clean:
	rm -rf demo-workspace .pytest_cache build *.egg-info
