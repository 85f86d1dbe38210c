# kfp-triggers developer commands. Every target creates and reuses .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLE_CONFIG := examples/github-push
EXAMPLE_SECRETS := examples/github-push/secrets
EXAMPLE_REQUEST := examples/github-push/requests/push.http
STORE := sqlite:///.kfpt/state.db
PORT ?= 8080

.DEFAULT_GOAL := help
BUNDLE_OUT ?= build/functions
CONFIG ?= $(EXAMPLE_CONFIG)
IMAGE ?= kfp-triggers:dev
KNATIVE ?= infra/knative

.PHONY: help venv run serve send test test-fast lint typecheck check clean
.PHONY: bench chaos bundle deploy-gcp image deploy-knative infra-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,gcp,kfp,vertex,fast-cel,metrics]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with every extra

run: $(STAMP) ## serve the example listener, send it a signed push, run the pipeline to the end
	$(BIN)/kfp-triggers validate $(EXAMPLE_CONFIG) > /dev/null
	$(BIN)/kfp-triggers serve -c $(EXAMPLE_CONFIG) --secrets-dir $(EXAMPLE_SECRETS) --store $(STORE) \
		--port $(PORT) --send $(EXAMPLE_REQUEST) --exit-when-done
	$(BIN)/kfp-triggers runs list --store $(STORE)

serve: $(STAMP) ## serve the example listener until Ctrl-C (send webhooks with `make send`)
	$(BIN)/kfp-triggers serve -c $(EXAMPLE_CONFIG) --secrets-dir $(EXAMPLE_SECRETS) --store $(STORE) --port $(PORT)

send: $(STAMP) ## send the signed sample push to a running `make serve`
	$(BIN)/kfp-triggers send $(EXAMPLE_REQUEST) --url http://127.0.0.1:$(PORT)/

test: $(STAMP) ## run the whole test suite (the emulator tier starts its own emulators)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## the tests that need no emulator
	$(BIN)/python -m pytest -m "not emulator"

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy --strict on the engine
	$(BIN)/mypy

check: lint typecheck test ## everything CI cares about

bench: $(STAMP) ## run the benchmarks, the Pub/Sub and chain sections on the emulators (about 4.5 minutes); report on stdout, JSON in build/bench/latest.json
	$(BIN)/python bench/run.py

CHAOS_EVENTS ?= 300
CHAOS_REDELIVERIES ?= 3
CHAOS_KILLS ?= 2
CHAOS_STORE ?= firestore

chaos: $(STAMP) ## chaos run of the emulator chain (minutes); exit 1 on a lost event, a duplicate run or a dead letter for a created run; JSON in build/chaos/latest.json
	$(BIN)/python bench/chaos.py --events $(CHAOS_EVENTS) --redeliveries $(CHAOS_REDELIVERIES) \
		--kills $(CHAOS_KILLS) --store $(CHAOS_STORE) --json build/chaos/latest.json

bundle: $(STAMP) ## write one deployable source directory per stage (CONFIG=listener dir)
	$(BIN)/python infra/bundle.py --out $(BUNDLE_OUT) --config $(CONFIG)

deploy-gcp: bundle ## terraform init + apply in infra/terraform (needs terraform.tfvars and gcloud auth)
	terraform -chdir=infra/terraform init -input=false
	terraform -chdir=infra/terraform apply -var="bundle_dir=$(abspath $(BUNDLE_OUT))"

image: bundle ## build the Knative image from the bundles (IMAGE=registry/kfp-triggers:tag)
	docker build -f infra/knative/Dockerfile -t $(IMAGE) $(BUNDLE_OUT)

deploy-knative: image ## push IMAGE and apply KNATIVE (an overlay that sets the image and KFPT_STORE)
	docker push $(IMAGE)
	kubectl apply -k $(KNATIVE)

infra-check: $(STAMP) ## terraform fmt, kustomize render and the deployment tests, offline
	TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive infra/terraform
	kubectl kustomize infra/knative > /dev/null
	$(BIN)/python -m pytest tests/infra

clean: ## remove build and cache artefacts (keeps .venv)
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
