# The two set-up commands of the README:
#   make run    create .venv, install Dovos with the api and workbench extras, run the main
#               job (the evaluation report)
#   make test   create .venv, install Dovos with the dev extras (= api + workbench + test
#               tools), run the test suite
#
# Extras (pyproject.toml): the core (store, importers, worker, search, CLI) needs none;
# [api] adds `dovos serve`, [workbench] the notebooks, `dovos report` and `dovos bench`,
# [dev] both plus the test and lint tools.
#
# torch is installed first, pinned to the CPU build 2.13.0, so that no dependency can
# pull a multi-GB CUDA build (pyproject.toml only asks for a range, torch>=2.4,<3).
# Elsewhere than the development machines (which carry the CPU wheel on disk), set
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check
REPORT_ARGS ?=

.PHONY: run test bench bench-update clean lab

run: $(VENV)/.installed-run
	$(BIN)/dovos db migrate
	$(BIN)/dovos db status
	$(BIN)/dovos report $(REPORT_ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest
	$(BIN)/dovos bench --quick --check eval/baselines/regression.json

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m benchmark -s tests/benchmarks

# Deliberately refresh the regression baseline, quick and full sections (tolerances kept).
bench-update: $(VENV)/.installed-dev
	$(BIN)/dovos bench --quick --update eval/baselines/regression.json
	$(BIN)/dovos bench --update eval/baselines/regression.json

# -- the workbench (JupyterLab) -------------------------------------------------------------
# `make lab`: JupyterLab on your own copies of the notebooks (LAB_DIR, git-ignored; made once
# by `dovos notebooks copy`, never overwritten), on 127.0.0.1 only, with Jupyter's token (the
# URL with it is printed), kernels running this venv's Python. A busy LAB_PORT moves on to the
# next free one (Jupyter's port_retries).
LAB_DIR ?= notebooks
LAB_PORT ?= 8888

lab: $(VENV)/.installed-run
	$(BIN)/dovos db migrate
	test -d $(LAB_DIR) || $(BIN)/dovos notebooks copy $(LAB_DIR)
	$(BIN)/python -m jupyterlab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir=$(LAB_DIR) $(if $(filter 0,$(shell id -u)),--allow-root)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(PIP) install $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) "$(TORCH_SPEC)"
	touch $@

$(VENV)/.installed-run: pyproject.toml $(VENV)/.torch
	$(PIP) install -e '.[api,workbench]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV)
