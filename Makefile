# Quick start: `make demo` (creates .venv, installs, runs the example job) and `make test`.
# Both install what they need, including Debian packages when run as root.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := iverilog verilator g++ ccache tcl postgresql openssh-server chromium chromium-driver
EXAMPLES := $(wildcard examples/*.yaml)

.PHONY: demo demo-release test lint format sysdeps bench clean

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
BUILD_SWEEP := examples/smollm-135m-ecp5.yaml
BUILD_STUDY := smollm-135m-ecp5

demo: $(STAMP)
	@for f in $(EXAMPLES); do echo; echo "=== dse estimate $$f"; $(BIN)/dse estimate $$f || exit 1; done
	@echo; echo "=== dse sweep $(DEMO_SWEEP) (its 112,896-point grid is enumerated exactly; a rerun continues the same study)"
	@$(BIN)/dse sweep $(DEMO_SWEEP) --trials 2000 --resume
	@echo; echo "=== dse pareto $(DEMO_STUDY)"
	@$(BIN)/dse pareto $(DEMO_STUDY)
	@echo; echo "=== dse sweep $(BUILD_SWEEP) (600 trials; whole-overlay Yosys synthesis and sim builds calibrate the model)"
	@$(BIN)/dse sweep $(BUILD_SWEEP) --resume
	@$(MAKE) --no-print-directory demo-release
	@# said last, once the release exists; every command printed runs as is from here
	@echo; echo "results: studies $(DEMO_STUDY), $(BUILD_STUDY) and $(TINY_STUDY) in" \
	  "results/STUDY/optuna.db, builds in results/builds/, the release in" \
	  "results/releases/$(TINY_RELEASE)/. Look at them with:"
	@echo "  $(BIN)/dse dashboard    # http://127.0.0.1:8501"
	@echo "  $(BIN)/dse status"
	@echo "  $(BIN)/dse pareto $(BUILD_STUDY)"
	@echo "  $(BIN)/dse export $(BUILD_STUDY) --format csv"
	@echo "  $(BIN)/dse sweep $(BUILD_SWEEP) --resume   # its builds and calibration table again"
	@echo "  $(BIN)/dse release verify $(TINY_RELEASE)"
	@echo "  $(BIN)/optuna-dashboard sqlite:///results/$(BUILD_STUDY)/optuna.db"

# The tiny LLaMA of examples/tiny-llama-ecp5.yaml released on an ECP5: its weights and
# program in the bitstream, a UART host interface, the released top simulated at promote.
TINY_SWEEP := examples/tiny-llama-ecp5.yaml
TINY_STUDY := tiny-llama-ecp5
TINY_RELEASE := tiny-llama-ecp5-demo

demo-release: $(STAMP)
	@echo; echo "=== dse sweep $(TINY_SWEEP) (model only: which engine to release)"
	@$(BIN)/dse sweep $(TINY_SWEEP) --resume
	@echo; echo "=== dse promote $(TINY_STUDY) best:decode_tokens_per_s --name $(TINY_RELEASE)"
	@if [ -d results/releases/$(TINY_RELEASE) ]; then echo "release $(TINY_RELEASE) exists (a rerun); verifying it"; \
	  else $(BIN)/dse promote $(TINY_STUDY) best:decode_tokens_per_s --name $(TINY_RELEASE) || exit 1; fi
	@$(BIN)/dse release verify $(TINY_RELEASE)
	@echo; echo "run it on a board: flash results/releases/$(TINY_RELEASE)/$(TINY_RELEASE).bit" \
	  "(e.g. openFPGALoader -b <board> FILE), then" \
	  "$(BIN)/dse run $(TINY_RELEASE) --port /dev/ttyUSB0 --prompt 1,2,3 --tokens 16"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dse cost_models runners benchmarks app overlay spatial

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Two pytest-xdist workers, each file on one worker (a module's sshd/Ray/study fixtures are
# set up once); most slow tests wait on tools, servers and subprocesses, so two overlap well
# even on two cores. TEST_WORKERS=0 runs them in this process, one after another.
TEST_WORKERS ?= 2
test: $(STAMP) sysdeps lint
	$(BIN)/pytest -q --timeout=900 -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/published.py
	$(BIN)/python benchmarks/model_throughput.py
	$(BIN)/python benchmarks/resource_model_vs_synth.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
