# acmevault: `make demo` runs the main job on the local stack; `make test` runs the tests.
# Both set themselves up on a fresh machine (a virtualenv, and Pebble from Debian).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMENV := .venv-sam

.PHONY: demo test reliability lint format typecheck validate build lock bench pr clean setup pebble

# The package's bytecode too: an editable install gets none from pip, and where PYTHONDONTWRITEBYTECODE
# is set Python never writes it, so every acmevault command would compile the package again (~50 ms).
setup: $(VENV)/.installed pebble
	@$(BIN)/python -m compileall -q layers/acmevault/acmevault layers/acmevault/acmevault_cli

# The package is installed editable, then once more in setuptools' compat mode where it still has it: a
# plain path in a .pth, where the default for this flat layout imports a finder module at every
# interpreter start (~6 ms of each acmevault command). Without compat mode the default install stays.
$(VENV)/.installed: layers/acmevault/pyproject.toml layers/acmevault/requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e 'layers/acmevault[local]' -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e layers/acmevault --config-settings editable_mode=compat 2>/dev/null || true
	touch $@

# Pebble (the ACME test server, with pebble-challtestsrv) from Debian.
pebble:
	@command -v pebble >/dev/null || { \
	  echo "installing Pebble from Debian (apt-get install pebble)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pebble; }

demo: setup
	$(BIN)/python scripts/demo.py

test: setup
	$(BIN)/pytest

# The reliability suite (tests/reliability) with its full counts: 200 issuances under CA faults, AWS
# faults, 50 workers killed mid-order, 50 specs changed mid-issuance, 50 renewals with one ACM region
# failing, 100 messages delivered 1-3 times; the report table prints at the end. `make test` runs it reduced.
reliability: setup
	ACMEVAULT_RELIABILITY=full $(BIN)/pytest tests/reliability -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	for handler in functions/*/app.py; do $(BIN)/mypy --strict $$handler || exit 1; done

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(SAMENV)/.installed:
	$(PYTHON) -m venv $(SAMENV)
	$(SAMENV)/bin/pip install -q aws-sam-cli cfn-lint
	touch $@

CHECKOVENV := .venv-checkov

$(CHECKOVENV)/.installed:
	$(PYTHON) -m venv $(CHECKOVENV)
	$(CHECKOVENV)/bin/pip install -q checkov
	touch $@

# The template: cfn-lint, SAM's linter, and an IaC security scan (each skip is justified in template.yaml).
validate: $(SAMENV)/.installed $(CHECKOVENV)/.installed
	$(SAMENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAMENV)/bin/sam validate --lint --region us-east-1
	$(CHECKOVENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

# sam build without Docker (arm64 wheels, bytecode compiled for 3.13), then check what it built, and
# build the layer again from a virtualenv's shell (tests/packaging/test_layer_build.py: needs PyPI).
build: $(SAMENV)/.installed $(VENV)/.installed
	SAM_CLI_TELEMETRY=0 $(SAMENV)/bin/sam build
	ACMEVAULT_BUILD_DIR=.aws-sam/build ACMEVAULT_LAYER_BUILDS=1 $(BIN)/pytest -q tests/packaging

# The layer's lock, refreshed from layers/acmevault/requirements.txt: the newest versions it allows, resolved
# for the runtime (Python 3.13, arm64, wheels only), every file's hash; the layer build installs only that.
lock: $(VENV)/.installed
	$(BIN)/pip install -q uv
	cd layers/acmevault && ../../$(BIN)/uv pip compile requirements.txt --upgrade --quiet \
	  --python-platform aarch64-manylinux2014 --python-version 3.13 --only-binary :all: --generate-hashes \
	  -o requirements.lock

# The CLI against lego and certbot (whole processes, interleaved rounds, the ratio), the functions' cold
# start, then bench/run.py: the issuance table ($(BENCH_ARGS) goes to it; BENCH_ARGS=sweep: the sweep instead).
bench: setup
	command -v lego >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq lego; }
	$(BIN)/python bench/cli_vs_lego.py --certbot
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Everything CI runs.
pr: lint validate build test

clean:
	rm -rf $(VENV) $(SAMENV) $(CHECKOVENV) .venv-bench .venv-runtime .acmevault-local .aws-sam .pytest_cache .mypy_cache .ruff_cache
