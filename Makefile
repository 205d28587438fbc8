# Two commands on a fresh Debian/Ubuntu machine: `make run` and `make test`.
# Each installs what is missing (Debian's R packages, .venv), then runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MODELS ?= r_models
EXAMPLES := $(MODELS)/mtcars_lm.rds $(MODELS)/infert_glm.rda $(MODELS)/iris_rf.rds $(MODELS)/warpbreaks_ranger.rds

.PHONY: setup system venv run test models bench bench-spark clean

setup: system venv $(EXAMPLES)

system:
	@bash deploy/install-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

# The example models are committed; they are rebuilt only when absent.
$(EXAMPLES) &:
	Rscript r_scripts/train_examples.R $(MODELS)

models: system
	Rscript r_scripts/train_examples.R $(MODELS)

run: setup
	$(PY) -m bridge serve --models $(MODELS) --plumber-dir r_scripts/api

test: setup
	@# the /docs page is tested in a real browser; bridge.spark on real Spark (Java 17);
	@# the scaling bench's harness test drives real wrk
	@bash deploy/install-system.sh chromium openjdk-17-jre-headless wrk
	$(PY) -m pytest -q tests

# Bridge vs Plumber on this machine (issue 3): `make bench BENCH_ARGS=--quick`.
bench: setup $(VENV)/.bench-installed
	@bash deploy/install-system.sh wrk
	$(PY) -m bench $(BENCH_ARGS)

# bridge.spark against `bridge predict` (issue 21): `make bench-spark SPARK_ARGS=--rows=200000`.
bench-spark: setup
	@bash deploy/install-system.sh openjdk-17-jre-headless
	$(PY) -m bench.spark $(SPARK_ARGS)

$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(PY) -m pip install -q -r bench/requirements.txt
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
