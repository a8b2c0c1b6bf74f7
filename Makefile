# `make demo` and `make test` each build the virtual environment they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
DEMO_DIR ?= demo
STAMP := $(VENV)/.installed

.PHONY: demo serve test lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, from the pinned CPU build, so nothing later can pull another build.
	$(PIP) install --quiet -c constraints.txt torch
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seqintent demo --out $(DEMO_DIR)

# Serve the demo's model over HTTP on 127.0.0.1:$(PORT), with the API key $(DEMO_KEY) (make demo first).
DEMO_MODEL ?= $(DEMO_DIR)/model
DEMO_KEY ?= demo-key
PORT ?= 8000
serve: $(STAMP)
	@test -f $(DEMO_MODEL)/manifest.json || { echo "no model at $(DEMO_MODEL): run make demo first"; exit 2; }
	@test -f $(DEMO_MODEL).runtime/manifest.json || $(BIN)/seqintent export $(DEMO_MODEL)
	@echo "try: curl -H 'Authorization: Bearer $(DEMO_KEY)' http://127.0.0.1:$(PORT)/v1/users/USER/intent"
	SEQINTENT_API_KEYS=$(DEMO_KEY) $(BIN)/seqintent serve $(DEMO_MODEL) --port $(PORT) \
		--store sqlite:///$(DEMO_DIR)/events.db

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) $(DEMO_DIR)
