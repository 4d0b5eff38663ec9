# Quick start: `make demo` (creates .venv, installs, runs the example job) and `make test`.
# Both install what they need, including Debian packages when run as root.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := iverilog verilator g++ postgresql openssh-server
EXAMPLES := $(wildcard examples/*.yaml)

.PHONY: demo test lint format sysdeps bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# System packages the tests drive for real (HDL simulators for the RTL templates).
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (run as root or install them)"; fi; \
	fi

DEMO_SWEEP := examples/gpt2-medium-u280-spatial.yaml
DEMO_STUDY := gpt2-medium-u280-spatial

demo: $(STAMP)
	@for f in $(EXAMPLES); do echo; echo "=== dse estimate $$f"; $(BIN)/dse estimate $$f || exit 1; done
	@echo; echo "=== dse sweep $(DEMO_SWEEP) (2,000 trials; a rerun continues the same study)"
	@$(BIN)/dse sweep $(DEMO_SWEEP) --trials 2000 --resume
	@echo; echo "=== dse pareto $(DEMO_STUDY)"
	@$(BIN)/dse pareto $(DEMO_STUDY)
	@echo; echo "results: results/$(DEMO_STUDY)/optuna.db (optuna-dashboard sqlite:///results/$(DEMO_STUDY)/optuna.db;" \
	  "dse status; dse export $(DEMO_STUDY) --format csv)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dse cost_models runners benchmarks

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) sysdeps lint
	$(BIN)/pytest -q --timeout=900

bench: $(STAMP)
	$(BIN)/python benchmarks/published.py
	$(BIN)/python benchmarks/model_throughput.py
	$(BIN)/python benchmarks/resource_model_vs_synth.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
