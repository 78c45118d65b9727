# make demo: set up .venv and run the main job.  make test: set up dev tools and run the tests (make test-slow:
# the end-to-end ones and the tutorials).
# make lint: ruff (format and lint, configured in pyproject.toml).  make notebooks: JupyterLab on the tutorials.
# make docs: the documentation site (mkdocs.yml) with warnings as errors, checked in headless Chromium.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# cpu installs tensorflow-cpu; on a CUDA machine use: make demo TF_EXTRA=gpu
TF_EXTRA ?= cpu
# The offline copies beside the checkout (../shared/data) are used when present.
SHARED_DATA := $(abspath ../shared/data)
export TFVAE_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
DEMO_DATA ?= mnist
DEMO_OUT ?= demo
DEMO_SECONDS ?= 150
# Every demo run gets its own folder and model version: nothing earlier is overwritten.
STAMP := $(shell date +%Y%m%d-%H%M%S)
DEMO_RUN := $(DEMO_OUT)/run-$(STAMP)

.PHONY: demo test test-slow lint docs docs-serve cli-help notebooks tutorials install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$(TF_EXTRA)]'
	# TF Serving's request protos (warm-up file); --no-deps: it would pull the full tensorflow.
	$(BIN)/python -m pip install -q --no-deps 'tensorflow-serving-api>=2.21,<2.22'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[$(TF_EXTRA),dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/tfvae data info $(DEMO_DATA)
	$(BIN)/tfvae noise preview $(DEMO_DATA) --out $(DEMO_RUN)/noise_preview.png
	$(BIN)/tfvae train --model vae --arch conv-spatial --width 16 --dataset $(DEMO_DATA) \
		--noise gaussian:0-0.5 --epochs 100 --time-budget $(DEMO_SECONDS) --out $(DEMO_RUN)/vae
	$(BIN)/tfvae export $(DEMO_RUN)/vae --name $(DEMO_DATA)_vae --version $$(date +%s) --to $(DEMO_OUT)/saved_models
	@echo "Pictures: $(DEMO_RUN)/noise_preview.png $(DEMO_RUN)/vae/denoised.png"
	@echo "Metrics:  $(DEMO_RUN)/vae/metrics.json   SavedModel: $(DEMO_OUT)/saved_models/$(DEMO_DATA)_vae/"

# The unit and integration tests (about ten minutes on 2 cores).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n 2 --dist loadscope -q -m "not slow" tests

# The end-to-end tests of minutes (marked slow: benchmark scripts, several processes, the shipped
# models' cards) and every tutorial in fast mode (tutorials/conftest.py shrinks their parameters). CI runs both.
test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n 2 --dist loadscope -q -m slow --nbmake --nbmake-timeout=600 tests tutorials

# The formatter and linter CI runs next to the tests (.ci/run); `ruff format .` applies the format.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

$(VENV)/.installed-docs: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[$(TF_EXTRA),docs]'
	touch $@

# The site into build/site (strict: a broken link, a missing snippet or docstring reference fails),
# then headless Chromium renders the home page, a tutorial and an API page (tests/site_check.py).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	command -v chromium > /dev/null || $(SUDO) apt-get install -y -q chromium > /dev/null \
		|| ($(SUDO) apt-get update -q > /dev/null && $(SUDO) apt-get install -y -q chromium > /dev/null)
	$(BIN)/python tests/site_check.py build/site

docs-serve: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Regenerate tfvae_help.py, the --help texts the launcher prints without importing TensorFlow.
cli-help: $(VENV)/.installed
	$(BIN)/python -c "from tfvae import cli; cli.write_help_module()"

$(VENV)/.installed-tutorials: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[$(TF_EXTRA),tutorials]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3
	touch $@

# Open the tutorials in JupyterLab, full size (their `parameters` cell reads TFVAE_* variables; tutorials/conftest.py has the fast ones).
notebooks: $(VENV)/.installed-tutorials
	$(BIN)/jupyter lab tutorials/

# Rerun every tutorial with its full default parameters and save the outputs in place.
tutorials: $(VENV)/.installed-dev
	for notebook in tutorials/*.ipynb; do $(BIN)/papermill --cwd tutorials $$notebook $$notebook || exit 1; done

# Retrain a shipped model from scratch (resumable), export it as VERSION and score it: see saved_models/README.md.
pretrained-%: $(VENV)/.installed
	$(if $(VERSION),,$(error make pretrained-$*: set VERSION=N, the SavedModel version to write))
	$(BIN)/python benchmarks/pretrain.py $* --version $(VERSION)

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info
